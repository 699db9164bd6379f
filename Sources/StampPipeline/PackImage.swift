import Foundation
import StampIO
import SystemPackage
import StampBytes
import StampOCI
import StampTree
import StampBoot

/// `stamp pack IMAGE_REF`: a container image (OCI layout, docker archive, registry) becomes
/// the root tree of a disk.
///
/// ```
///  IMAGE_REF ─► ImageSource.resolve (index → linux/amd64 manifest → config, all verified)
///            ─► layers hashed ─► LayerTree: the tree model from the layers' headers
///            ─► Packer (ext4, layout, boot loader, every format; file data read from the
///               compressed blobs in layer order while the disk is written)
///            ─► OUT.d/image.json, image-manifest.json, image-config.json
/// ```
///
/// Nothing of the image is unpacked, so no privilege is needed: owners, device nodes and
/// capabilities are the layers'. Only a block-device config and the `tar` output still
/// apply the layers to a private scratch directory (``needsUnpackedTree(_:)``). The blob
/// scratch directory (`TMPDIR`, else /var/tmp) holds staged or downloaded blobs (compressed,
/// as pulled); it is removed however the pack ends. Everything that can be checked
/// without the image (output paths, formats) is checked before the image is read.
public struct ImagePacker {
    public var request: PackRequest
    public let reference: ImageReference
    public var registry = RegistryOptions()
    /// Stamped images by manifest digest and settings (``ImageCache``); nil stamps every time.
    public var cache: ImageCache?
    public let log: @Sendable (String) -> Void

    /// - Parameter request: the pack; its `root` is replaced by the unpacked tree.
    public init(reference: ImageReference, request: PackRequest, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.reference = reference
        self.request = request
        self.log = log
    }

    /// The platform an index or manifest list is read for (`--platform`); the config must name it.
    public var platform = Platform.linuxAMD64

    /// The most bytes the image may expand to (`--max-expanded`; ``ExpansionBudget``).
    public var maxExpandedBytes = ExpansionBudget.defaultLimit

    public func run() throws -> PackResult {
        // Downloaded or staged blobs: on disk (TMPDIR, else /var/tmp), since their sizes are
        // not known until the image is resolved; an OCI layout's blobs are read where they are.
        let blobScratch = try ScratchDirectory(label: "stamp-blobs")
        defer { blobScratch.remove() }
        var request = self.request
        request.root = blobScratch.path  // for validation only: the real root comes later
        try Packer(request: request, log: log).validate()

        let source = ImageSource(reference: reference, scratch: blobScratch.path, registry: registry, platform: platform)
        source.maxExpandedBytes = maxExpandedBytes
        log("resolving \(reference)")
        let image = try source.resolve()
        log("image \(image.manifestDigest): \(image.manifest.layers.count) layers, config \(image.configDigest)")
        let key = ImageCache.key(manifestDigest: image.manifestDigest.description, settings: ImageCache.settings(of: request))
        if let cache, let entry = cache.lookup(key) {
            log("stamped before: served from the image cache \(cache.directory) (entry \(key.prefix(16)))")
            var result = PackResult()
            result.outputs = try cache.restore(entry, output: request.output)
            return result
        }
        let files = try source.fetchLayers(image)
        request.boot(for: platform)
        let result: PackResult
        if Self.needsUnpackedTree(request) {
            result = try unpackAndPack(image, source: source, files: files, request: request)
        } else {
            // The model straight from the layers: their headers now, the files' data from the
            // blobs while the disk is written. Nothing of the image lands on the host.
            // Trees a killed stamp unpacked (before this version, or for a tar or a block-device
            // config) go as the unpacking path would remove them: ours only, by descriptor.
            for base in Set([ScratchDirectory.base(memoryBytes: nil), "/dev/shm"]) {
                ScratchDirectory.removeStale(in: base, label: "stamp-image")
            }
            log("reading the layers' metadata (nothing is unpacked)")
            let names = image.manifest.layers.enumerated().map { "layer \($0.offset) \($0.element.digest)" }
            let tree = try LayerTree.build(
                files: files, names: names, budget: ExpansionBudget(limit: maxExpandedBytes),
                rootTime: Timestamp(seconds: Int64(time(nil))), treeName: reference.description)
            result = try Packer(request: request, log: log).run(tree: tree)
            if let members = tree.memberData as? LayerMembers { log("file data: \(members.summary)") }
        }
        try Self.writeImageRecord(image, directory: request.output + ".d")
        if let cache {
            try cache.store(
                key: key, reference: reference.description, manifestDigest: image.manifestDigest.description,
                output: request.output, extensions: request.formats.map(\.fileExtension))
            log("stored in the image cache \(cache.directory) (entry \(key.prefix(16)))")
        }
        return result
    }

    /// Whether a pack of an image still unpacks its layers into a scratch directory (as root,
    /// or uid 0 of a user namespace): a block-device config (a tree split over several
    /// filesystems) and the `tar`, `squashfs` and `docker` outputs read a directory; everything else is written from
    /// the layers' model (``LayerTree``).
    public static func needsUnpackedTree(_ request: PackRequest) -> Bool {
        request.blockDevice != nil || request.formats.contains { [.tar, .squashfs, .docker].contains($0) }
    }

    /// The unpacking path: layers applied into a private scratch directory, then scanned.
    private func unpackAndPack(_ image: ResolvedImage, source: ImageSource, files: [String], request: PackRequest) throws
        -> PackResult
    {
        var request = request
        // The unpacked tree: in memory when it fits, as DIB builds in tmpfs (writing it to
        // disk and reading it back costs more than the rest of the stamp together). Whether
        // it fits is decided on what the layers expand to, measured (a pass that reads them
        // without writing, stopped at the expansion limit), never on their compressed size:
        // a 66 KB zstd layer can hold 2 GiB.
        var memoryBytes: UInt64?
        let compressed = image.manifest.layers.reduce(UInt64(0)) { $0 + UInt64(max(0, $1.size)) }
        if ScratchDirectory.base(memoryBytes: compressed + (256 << 20)) == "/dev/shm" {
            let expanded = try source.expandedSize(image, files: files)
            memoryBytes = expanded + expanded / 8 + (256 << 20)
            log("the layers expand to \(formatBytes(expanded))")
        }
        let scratch = try ScratchDirectory(label: "stamp-image", memoryBytes: memoryBytes)
        defer { scratch.remove() }
        let root = scratch.path + "/rootfs"
        if mkdir(root, 0o700) != 0 {
            throw OCIError.system(path: root, operation: "mkdir", message: String(cString: strerror(errno)))
        }
        request.root = root
        log("unpacking into \(root)")
        // The root of the image: 0755 root:root unless a layer says otherwise.
        chmod(root, 0o755)
        try source.apply(image, files: files, into: root, log: log)
        return try Packer(request: request, log: log).run()
    }

    /// `OUT.d/`: the verified manifest and config as they were read, and `image.json`, a
    /// summary of how the container would have run (Env, Entrypoint, Cmd, Labels …).
    public static func writeImageRecord(_ image: ResolvedImage, directory: String) throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw OCIError.system(path: directory, operation: "mkdir", message: String(cString: strerror(errno)))
        }
        var summary: [String: Any] = [
            "reference": image.reference.description,
            "manifestDigest": image.manifestDigest.description,
            "configDigest": image.configDigest.description,
            "layers": image.manifest.layers.map(\.digest.description),
            "env": image.config.env,
            "labels": image.config.labels,
        ]
        summary["entrypoint"] = image.config.entrypoint
        summary["cmd"] = image.config.cmd
        summary["workingDir"] = image.config.workingDir
        summary["user"] = image.config.user
        let json = try JSONSerialization.data(
            withJSONObject: summary, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeFile(directory + "/image.json", Array(json) + [0x0A])
        try writeFile(directory + "/image-manifest.json", image.manifestBytes)
        try writeFile(directory + "/image-config.json", image.configBytes)
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let file = try OutputFile(path: path)
        try bytes.withUnsafeBytes { _ = try file.descriptor.writeAll(toAbsoluteOffset: 0, $0) }
        try file.commit()
    }
}

extension PackRequest {
    /// The boot settings of a disk for `platform`: for linux/arm64, GRUB's arm64-efi files on
    /// the ESP and no BIOS code, and the serial console of QEMU's virt machine and of most arm64
    /// servers (a PL011, ttyAMA0) unless another was chosen.
    public mutating func boot(for platform: Platform) {
        guard platform == .linuxARM64 else { return }
        bootOptions.architecture = .arm64
        if bootOptions.serialConsole == BootOptions().serialConsole { bootOptions.serialConsole = "ttyAMA0,115200" }
    }
}
