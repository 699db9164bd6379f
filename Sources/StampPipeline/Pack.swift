import StampBytes
import StampContainers
import StampDisk
import StampExt4
import StampFAT
import StampIO
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
        if request.formats.isEmpty { problems.append("no output format given (-t raw,qcow2,vmdk,vhd,ova,tar)") }
        var seen: [String: PackFormat] = [:]
        for f in request.formats {
            if let other = seen[f.fileExtension], other != f {
                problems.append("formats \(other) and \(f) would both write \(request.path(for: f))")
            }
            seen[f.fileExtension] = f
        }
        let directory = request.output.contains("/") ? String(request.output[..<request.output.lastIndex(of: "/")!]) : "."
        if access(directory.isEmpty ? "/" : directory, W_OK) != 0 {
            problems.append("\(directory): output directory is not writable or does not exist")
        }
        var st = stat()
        if stat(request.root, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            problems.append("\(request.root): root tree is not a directory")
        }
        if !problems.isEmpty { throw PackProblems(problems: problems) }
    }

    public func run() throws -> PackResult {
        try validate()
        var result = PackResult()
        result.layout = request.layout
        let uuid = request.uuid ?? Identifier.random()
        let seed = uuid.bytes

        log("scanning \(request.root)")
        let tree = try TreeScanner().scan(request.root)
        log("scanned \(tree.entries.count) entries, \(formatBytes(tree.totalFileBytes)) of file data")

        var options = Ext4Options()
        options.label = request.label
        options.uuid = uuid
        options.sourceDateEpoch = request.sourceDateEpoch
        options.inodeRatio = request.inodeRatio
        options.journalMiB = request.journalMiB
        options.extraBytes = request.extraBytes

        // Size: the root filesystem fills the root partition of the planned disk.
        let layout: DiskLayout
        if let diskSize = request.diskSize {
            layout = try request.layout.plan(diskSize: diskSize, seed: seed)
        } else {
            let fitted = try Ext4Image(tree: tree, options: options)
            layout = try request.layout.plan(rootSize: fitted.size, seed: seed)
        }
        guard let rootPartition = layout.partition(role: .root) else { throw PackProblems(problems: ["layout has no root partition"]) }
        options.size = .bytes(rootPartition.size)
        let fs = try Ext4Image(tree: tree, options: options)
        result.rootUUID = fs.uuid.description
        result.diskSize = layout.size
        log("layout \(request.layout.rawValue): disk \(formatBytes(layout.size)), root ext4 \(formatBytes(fs.size)) UUID \(fs.uuid)")

        let assembler = DiskAssembler(layout: layout)
        try assembler.setContent(fs, forRole: .root)
        if let esp = layout.partition(role: .efiSystem) {
            let fat = try FATVolume(
                options: FATVolume.Options(size: esp.size, label: "ESP", volumeID: FATVolume.volumeID(seed: seed), hiddenSectors: UInt32(esp.start)),
                root: [.directory("EFI", [.directory("BOOT", [])])])
            try assembler.setContent(fat, forRole: .efiSystem)
        }
        try assembler.validate()

        result.outputs = try writeContainers(assembler: assembler, layout: layout, tree: tree)
        if request.checksum {
            for path in result.outputs {
                try FileDigests.of(path: path).writeFiles(for: path, algorithms: request.checksumAlgorithms)
            }
            log("checksums written")
        }
        return result
    }

    private func containerOptions() -> ContainerOptions {
        var o = ContainerOptions()
        o.compression = request.fast ? .fast : .default
        o.qcow2Compat = request.qcow2Compat
        if let uuid = request.uuid { o.identifier = uuid }
        if let t = request.sourceDateEpoch { o.timestamp = UInt64(max(t, 0)) }
        return o
    }

    private func writeContainers(assembler: DiskAssembler, layout: DiskLayout, tree: RootTree) throws -> [String] {
        var sinks: [any ImageSink] = []
        var written: [String] = []
        let options = containerOptions()
        for format in request.formats {
            guard case .container(let f) = format else { continue }
            sinks.append(try makeImageSink(format: f, path: request.path(for: format), virtualSize: layout.size, options: options))
            written.append(request.path(for: format))
        }
        if !sinks.isEmpty {
            log("writing \(written.joined(separator: ", "))")
            let sink: any ImageSink = sinks.count == 1 ? sinks[0] : TeeSink(sinks)
            try assembler.write(to: sink)
        }
        return written
    }
}

#if canImport(Glibc)
import Glibc
#endif
