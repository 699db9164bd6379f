import StampBytes
import StampContainers
import StampDisk
import StampExt4
import StampFAT
import StampIO
import StampPackaging
import StampTree

/// Problems found before any slow work starts; all of them, at once.
public struct PackProblems: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}

/// What a pack wrote.
public struct PackResult: Sendable {
    public var outputs: [String] = []
    public var diskSize: UInt64 = 0
    public var rootUUID = ""
    public var layout: StandardLayout = .none
}

/// `stamp pack`: root tree → ext4 (+ ESP, + boot code) → partitioned disk → every requested
/// container, streamed once.
///
/// ```
///  tree ─scan─► Ext4Image ─┐
///  ESP (FAT) ──────────────┼─► DiskAssembler ─► TeeSink ─┬─► raw   (sparse file)
///  boot.img/core.img ──────┘   (ascending)               ├─► qcow2
///                                                         ├─► VMDK  ─► OVA (ovf, mf, vmdk)
///                                                         └─► VHD
/// ```
public struct Packer {
    public let request: PackRequest
    public let log: @Sendable (String) -> Void

    public init(request: PackRequest, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request
        self.log = log
    }

    /// Checks the request without writing anything.
    public func validate() throws {
        var problems: [String] = []
        if request.formats.isEmpty {
            problems.append("no output format given (-t raw,qcow2,vmdk,vhd,ova,tar,tgz,squashfs,docker)")
        }
        var seen: [String: PackFormat] = [:]
        for f in request.formats {
            if let other = seen[f.fileExtension], other != f {
                problems.append("formats \(other) and \(f) would both write \(request.path(for: f))")
            }
            seen[f.fileExtension] = f
        }
        let directory = request.output.contains("/") ? String(request.output[..<request.output.lastIndex(of: "/")!]) : "."
        if access(directory.isEmpty ? "/" : directory, W_OK) != 0 {
            let reason = String(cString: strerror(errno))
            problems.append("\(directory): output directory: \(reason.prefix(1).lowercased() + reason.dropFirst())")
        }
        var st = stat()
        if request.output.isEmpty || request.output.hasSuffix("/") {
            problems.append("output '\(request.output)' is not a base name (OUT is written as OUT.<format>, e.g. out/disk)")
        }
        for f in request.formats where stat(request.path(for: f), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            problems.append("\(request.path(for: f)): output is an existing directory")
        }
        if request.formats.contains(.ova) {
            problems += request.ovaProblems
            // The config's images and ISO files open now, not after a long element build.
            do {
                _ = try OVAPackagePlan(config: request.ovfConfig, ovaName: "check", treeDiskSize: 0)
            } catch let error as PackProblems {
                problems += error.problems
            } catch {
                problems.append("\(error)")
            }
        }
        problems += treeArchiveProblems()
        if stat(request.root, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            problems.append("\(request.root): root tree is not a directory")
        }
        if !problems.isEmpty { throw PackProblems(problems: problems) }
    }

    public func run() throws -> PackResult { try run(tree: nil) }

    /// Packs `model` (a tree built without a directory: an image's layers, ``LayerTree``)
    /// instead of a scan of the request's root. A block-device config needs a scanned root.
    public func run(tree model: RootTree?) throws -> PackResult {
        try validate()
        if let config = request.blockDevice { return try run(blockDevice: config) }
        let stages = PackStages()
        var result = PackResult()
        result.layout = request.layout
        let uuid = request.uuid ?? Identifier.random()
        let seed = uuid.bytes

        let tree: RootTree
        if let model {
            tree = model
        } else {
            log("scanning \(request.root)")
            var scanOptions = ScanOptions()
            scanOptions.supplements = request.supplements
            tree = try TreeScanner(options: scanOptions).scan(request.root)
            if let caller = request.callerOwnsAsRoot { tree.mapOwner(uid: caller.uid, gid: caller.gid) }
        }
        log(
            "\(model == nil ? "scanned" : "modelled") \(tree.entries.count) entries, \(formatBytes(tree.totalFileBytes)) of file data"
        )
        stages.entries = tree.entries.count
        stages.mark("scan")
        let boot = try prepareBoot(tree: tree, uuid: uuid, layout: Packer.bootLayout(of: request.layout), label: request.label)

        var options = ext4Options(label: request.label, uuid: uuid)

        // Size: the root filesystem fills the root partition of the planned disk.
        let layout: DiskLayout
        if let diskSize = request.diskSize {
            layout = try request.layout.plan(diskSize: diskSize, seed: seed)
        } else {
            let fitted = try Ext4Image(tree: tree, options: options)
            layout = try request.layout.plan(rootSize: fitted.size, seed: seed)
            options.minimumInodes = fitted.inodeCount
        }
        guard let rootPartition = layout.partition(role: .root) else {
            throw PackProblems(problems: ["layout has no root partition"])
        }
        options.size = .bytes(rootPartition.size)
        let fs = try Ext4Image(tree: tree, options: options)
        result.rootUUID = fs.uuid.description
        result.diskSize = layout.size
        log(
            "layout \(request.layout.rawValue): disk \(formatBytes(layout.size)), root ext4 \(formatBytes(fs.size)) UUID \(fs.uuid)"
        )

        let assembler = DiskAssembler(layout: layout)
        try assembler.setContent(fs, forRole: .root)
        if let boot { assembler.bootCode = try Packer.bootCode(boot, layout: layout) }
        if let esp = layout.partition(role: .efiSystem) {
            let fat = try FATVolume(
                options: FATVolume.Options(
                    size: esp.size, label: "ESP", volumeID: FATVolume.volumeID(seed: seed), hiddenSectors: UInt32(esp.start)),
                root: Packer.espEntries(boot))
            try assembler.setContent(fat, forRole: .efiSystem)
        }
        try assembler.validate()
        stages.mark("plan")

        result.outputs = try writeOutputs(
            assembler: assembler, layout: layout, tree: tree, efiFirmware: request.layout == .efi, stages: stages)
        stages.mark("finish")
        log(stages.line)
        return result
    }

    /// The ext4 settings of the request, for a filesystem with this label and UUID.
    func ext4Options(label: String, uuid: Identifier) -> Ext4Options {
        var options = Ext4Options()
        options.label = label
        options.uuid = uuid
        options.sourceDateEpoch = request.sourceDateEpoch
        options.inodeRatio = request.inodeRatio
        options.journalMiB = request.journalMiB
        options.extraBytes = request.extraBytes
        options.reservedPercent = request.reservedPercent
        options.resizeLimitBlocks = request.resizeLimitBlocks
        return options
    }

    func containerOptions() -> ContainerOptions {
        var o = ContainerOptions()
        o.compression = request.fast ? .fast : .default
        o.qcow2Compat = request.qcow2Compat
        o.qcow2Compressed = request.qcow2Compressed
        if let adapter = request.vmdkAdapterType { o.vmdkAdapterType = adapter }
        if let uuid = request.uuid { o.identifier = uuid }
        if let t = request.sourceDateEpoch { o.timestamp = UInt64(max(t, 0)) }
        return o
    }

    /// Streams the disk once into every container sink (a tee), then packages the OVA from the
    /// VMDK, writes the tarball, and the checksum files. Digests of sequentially written
    /// outputs are taken while they are written; the others are read back once.
    func writeOutputs(
        assembler: DiskAssembler, layout: DiskLayout, tree: RootTree, efiFirmware: Bool, stages: PackStages? = nil
    ) throws -> [String] {
        let options = containerOptions()
        stages?.compressionSetting = options.compression.description
        let wantsOVA = request.formats.contains(.ova)
        let vmdkFormat = PackFormat.container(.vmdkStreamOptimized)
        var sinks: [any ImageSink] = []
        var written: [String] = []
        var observers: [String: HashingObserver] = [:]
        // The OVA is streamed with its disk: the VMDK writer (of OUT.vmdk when that is an
        // output too) also appends into the archive, so the disk is compressed once.
        var ova: OVAStream?
        var plan: OVAPackagePlan?
        if wantsOVA {
            let name = request.vmName
            let mtime = UInt64(max(request.sourceDateEpoch ?? Int64(time(nil)), 0))
            // One path with or without --ovf-config: the config (the file's, or the one the
            // command-line options describe), the plan, ova-compose's descriptor.
            let firmware: Firmware = efiFirmware ? .efi : .bios
            let packagePlan = try OVAPackagePlan(
                config: request.ovfConfig.packed(firmware: firmware), ovaName: name, treeDiskSize: layout.size
            ) { label in
                var o = ext4Options(label: label, uuid: Identifier.random())
                o.extraBytes = nil
                return o
            }
            ova = try OVAStream(
                path: request.path(for: .ova), ovaName: name, members: packagePlan.members.map(\.name),
                signer: request.ova.signer, mtime: mtime
            ) { sizes in packagePlan.descriptor(sizes: sizes) }
            plan = packagePlan
        }
        let embedded = ova.map { [EmbeddedOutput(writer: $0.writer, offset: $0.diskOffset)] } ?? []
        var ovaDisk: (writer: VMDKStreamWriter, observer: HashingObserver)?
        let containerCount = request.formats.filter {
            if case .container = $0 { return true }
            return false
        }.count
        let shared = containerCount + (wantsOVA && !request.formats.contains(vmdkFormat) ? 1 : 0) > 1
        // A compressed qcow2 and a VMDK (or OVA) in one pass: one 4 KiB-window compression
        // serves both (``SharedChunkCompression``), and only it is given the stream.
        let compression =
            options.qcow2Compressed && request.formats.contains(.container(.qcow2))
                && (wantsOVA || request.formats.contains(vmdkFormat))
            ? try SharedChunkCompression(virtualSize: layout.size, options: options) : nil
        func add(_ sink: any ImageSink) {
            if !(compression?.feeds(sink) ?? false) { sinks.append(sink) }
        }
        for format in request.formats {
            guard case .container(let f) = format else { continue }
            let path = request.path(for: format)
            if format == vmdkFormat, ova != nil {
                let observer = HashingObserver(md5: request.checksum)
                let writer = try VMDKStreamWriter(
                    path: path, virtualSize: layout.size, options: options, observer: observer.observer, embedded: embedded,
                    sharedCompression: compression)
                observers[path] = observer
                ovaDisk = (writer, observer)
                add(writer)
            } else {
                let observer = (f.isSequential && request.checksum) ? HashingObserver() : nil
                observers[path] = observer
                add(
                    try makeImageSink(
                        format: f, path: path, virtualSize: layout.size, options: options, observer: observer?.observer,
                        shared: shared, sharedCompression: compression))
            }
            written.append(path)
        }
        if let ova, ovaDisk == nil {
            let observer = HashingObserver(md5: false)  // the manifest needs only SHA-256
            let writer = try VMDKStreamWriter(
                path: nil, virtualSize: layout.size, options: options, observer: observer.observer, embedded: embedded,
                extentName: ova.diskName, sharedCompression: compression)
            ovaDisk = (writer, observer)
            add(writer)
        }
        if let compression { sinks.insert(compression, at: 0) }
        if !sinks.isEmpty {
            let streamed = request.formats.filter { format in
                if case .container = format { return true }
                return format == .ova
            }
            log("writing \(streamed.map(\.description).joined(separator: ", ")) (\(formatBytes(layout.size)) disk)")
            let sink: any ImageSink = sinks.count == 1 ? sinks[0] : TeeSink(sinks)
            try assembler.write(to: request.progress ? ProgressSink(sink, total: layout.size) : sink)
            for sink in sinks { stages?.add(sink: sink) }
        }
        stages?.mark("stream")
        var digests: [String: Digests] = [:]
        for (path, observer) in observers {
            digests[path] = observer.finalize()
            stages?.add(hashing: observer)
        }
        if let disk = ovaDisk, observers[disk.writer.path] == nil { stages?.add(hashing: disk.observer) }
        if let ova, let disk = ovaDisk {
            let sha256 = digests[disk.writer.path]?.sha256 ?? disk.observer.finalize().sha256
            try finishPackage(ova, plan: plan, firstSize: disk.writer.bytesWritten, firstSHA256: sha256)
            written.append(request.path(for: .ova))
        }
        for format in [PackFormat.tar, .tgz] where request.formats.contains(format) {
            let path = request.path(for: format)
            log("writing \(path)")
            try TreeTarball(
                format: .pax, clampTime: request.sourceDateEpoch.map { Timestamp(seconds: $0) }, gzip: format == .tgz
            ).write(tree, to: path)
            written.append(path)
        }
        if request.formats.contains(.squashfs) {
            let path = request.path(for: .squashfs)
            log("writing \(path) (mksquashfs)")
            try writeSquashfs(to: path)
            written.append(path)
        }
        if request.formats.contains(.docker) {
            let path = request.path(for: .docker)
            log("writing \(path)")
            try writeDockerArchive(tree, to: path)
            written.append(path)
        }
        if request.checksum {
            // DIB writes no checksum for its squashfs image.
            for path in written where path != request.path(for: .squashfs) {
                let hashing = HashingObserver()
                try ChecksumFiles.write(
                    for: path, digests: digests[path] ?? Digests.of(path: path, hashing: hashing),
                    algorithms: request.checksumAlgorithms)
                stages?.add(hashing: hashing)
            }
            log("checksums written")
        }
        if request.formats.contains(.docker) { try importDockerArchive(request.path(for: .docker)) }
        return written
    }
}

#if canImport(Glibc)
    import Glibc
#endif
