import CStampSupport
import Foundation
import Logging
import StampBoot
import StampDIB
import StampDisk
import StampElements
import StampExt4
import StampIO
import StampTree
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// `disk-image-create`: DIB's element phases, then stamp's native disk writing, with DIB's
/// output contract (`OUT.<fmt>`, `.md5`/`.sha256`, `OUT.d/`).
///
/// ```
///  validate ─► root.d … post-root.d ─► fstab ─► finalise.d … cleanup.d ─► Packer ─► outputs
///  (all problems       (chroot in a private mount + PID namespace)          (one pass)
///   at once)
/// ```
public enum DIBBuild {
    /// The formats a request names, or the unknown names. `vmdk` is streamOptimized (what
    /// vSphere and cloud imports take) unless `--qemu-img-options subformat=monolithicSparse`
    /// asks for qemu-img's default.
    public static func formats(_ request: DIBBuildRequest) -> (formats: [PackFormat], unknown: [String]) {
        var formats: [PackFormat] = []
        var unknown: [String] = []
        for name in request.formats {
            guard var f = PackFormat(name: name) else {
                unknown.append(name)
                continue
            }
            if f == .container(.vmdkStreamOptimized), request.vmdkSubformat == "monolithicSparse" {
                f = .container(.vmdkMonolithicSparse)
            }
            formats.append(f)
        }
        return (formats, unknown)
    }

    /// Runs the whole build. Returns the files written.
    /// - Parameter ova: the OVA's descriptor settings (`stamp build --ovf-config`, `--sign`).
    public static func run(
        _ request: DIBBuildRequest, build: ValidatedElementBuild, logger: Logger, ova: OVASettings = OVASettings()
    ) async throws -> [String] {
        let (formats, unknown) = formats(request)
        if !unknown.isEmpty {
            throw PackProblems(
                problems: unknown.map { "unknown image type '\($0)' (stamp writes \(PackFormat.names.joined(separator: ", ")))" })
        }
        for option in request.ignoredQemuImgOptions {
            logger.warning("--qemu-img-options \(option): a hint for the host's filesystem, no effect on stamp's output")
        }
        let mkfs = try DIBMkfsOptions.parse(
            options: build.sizeInputs.mkfsOptions, maxOnlineResize: build.sizeInputs.maxOnlineResize,
            journalMiB: UInt64(max(build.sizeInputs.journalSizeMiB, 0)))
        for warning in mkfs.warnings { logger.warning("\(warning)") }
        let layout = build.standardLayout
        // Validate the output side before the slow element phases.
        var pack = PackRequest(root: "/", output: request.outputBase, formats: formats)
        pack.layout = layout
        pack.ova = ova
        if build.blockDevice.fromEnvironment {
            // DIB_BLOCK_DEVICE_CONFIG lays out the disk: validate all of it now.
            do {
                pack.blockDevice = try BlockDeviceConfig.parse(
                    yaml: build.blockDevice.yaml, rootDefaults: .init(label: build.blockDevice.rootLabel))
            } catch {
                throw PackProblems(problems: ["\(build.blockDevice.source): \(error)"])
            }
        }
        try Packer(request: pack).validate()

        // The oci-image element: the image is resolved (every document verified) before the
        // slow phases, and its layers fill the empty root just before root.d.
        let image = try OCIImageElement(
            build: build, credentials: request.environment["DIB_OCI_CREDS"], log: { logger.info("\($0)") })
        defer { image?.scratch.remove() }
        // DIB_OCI_STAMPED_CACHE (stamp build --stamped-cache): the same image digest, elements
        // and options stamped before are served from the cache instead of built.
        var stamped: (cache: ImageCache, key: String)?
        if let image, let directory = build.plan.environment["DIB_OCI_STAMPED_CACHE"], !directory.isEmpty {
            let settings = try OCIImageElement.cacheSettings(request: request, build: build)
            for line in settings { logger.debug("image cache key: \(line)") }
            let key = ImageCache.key(manifestDigest: image.image.manifestDigest.description, settings: settings)
            let cache = ImageCache(directory: directory)
            if let entry = cache.lookup(key) {
                logger.info("stamped before: served from the image cache \(directory) (entry \(key.prefix(16)))")
                try keepOldImages(
                    formats.filter(keptWhenOld).map(pack.path(for:)), environment: request.environment,
                    log: { logger.info("\($0)") })
                return try cache.restore(entry, output: request.outputBase)
            }
            stamped = (cache, key)
        }
        let built = try await ElementBuild.run(
            build, populateRoot: image.map { element in { try element.unpack(into: $0) } }, logger: logger)
        defer { ElementBuild.cleanup(built) }
        let root = built.root.path
        let label = build.blockDevice.rootLabel
        if let config = pack.blockDevice {
            try writeFstab(root: root, config: config)
        } else {
            try writeFstab(root: root, label: label, layout: layout)
        }
        // DIB reports the tree's usage before finalise, as it copies the tree into the image.
        for line in try imageUsageReport(root: root, environment: request.environment) ?? [] { logger.info("\(line)") }
        try await ElementBuild.finalise(built, logger: logger)

        pack.root = root
        pack.label = label
        pack.bootloader = build.wantsBootloader
        pack.requireBootloader = build.wantsBootloader
        pack.rootByLabel = true
        pack.progress = ProgressSink.wanted  // the disk stage's progress line, on a terminal only
        // In a user namespace the base system could not make its device nodes: the image
        // gets the ones a root build's base has (SupplementaryEntry).
        if UserNamespace.isNested { pack.supplements = SupplementaryEntry.baseSystemDevices }
        pack.bootOptions = try BootOptions.fromEnvironment(built.environment)
        pack.checksum = request.checksum || !request.checksumAlgorithms.isEmpty
        pack.checksumAlgorithms = request.checksumAlgorithms.isEmpty ? ["md5", "sha256"] : request.checksumAlgorithms
        pack.qcow2Compat = request.qcow2Version == 2 ? .v2 : .v3
        pack.qcow2Compressed = request.compress  // DIB: qemu-img convert -c unless -u
        pack.vmdkAdapterType = request.vmdkAdapterType  // --qemu-img-options adapter_type=
        pack.dockerTarget = request.dockerTarget
        pack.dockerArchitecture = dockerArchitecture(request.arch ?? request.environment["ARCH"])
        // DIB: mkfs -t ext4 -i 4096 -J size=DIB_JOURNAL_SIZE, then --mkfs-options / -E resize=
        pack.inodeRatio = mkfs.inodeRatio
        pack.journalMiB = mkfs.journalMiB
        pack.reservedPercent = mkfs.reservedPercent
        pack.resizeLimitBlocks = mkfs.resizeLimitBlocks
        if let gib = build.sizeInputs.imageSizeGiB { pack.diskSize = UInt64(gib * 1024 * 1024 * 1024) }
        if let extra = build.sizeInputs.extraSizeMiB { pack.extraBytes = UInt64(extra * 1024 * 1024) }
        try keepOldImages(
            formats.filter(keptWhenOld).map(pack.path(for:)), environment: request.environment,
            log: { logger.info("\($0)") })
        let result: PackResult
        do {
            result = try Packer(request: pack, log: { logger.info("\($0)") }).run()
        } catch Ext4Error.tooManyInodes(let needed, let available, let ratio) {
            // A build has no --inode-ratio: the hint names what it has.
            throw PackProblems(problems: [
                "the tree needs \(needed) inodes but \(available) fit at this size with \(ratio) bytes per inode: give a larger image size (or none: the automatic size holds every inode), or fewer bytes per inode: DIB_MKFS_OPTS='-i N' (disk-image-create --mkfs-options, stamp build --env)"
            ])
        }
        try writeManifests(root: root, directory: request.manifestDirectory)
        if let image { try ImagePacker.writeImageRecord(image.image, directory: request.manifestDirectory) }
        if let stamped, let image {
            try stamped.cache.store(
                key: stamped.key, reference: image.source.reference.description,
                manifestDigest: image.image.manifestDigest.description,
                output: request.outputBase, extensions: formats.map(\.fileExtension))
            logger.info("stored in the image cache \(stamped.cache.directory) (entry \(stamped.key.prefix(16)))")
        }
        return result.outputs
    }

    /// The outputs DIB moves aside as `NAME-<date>.FMT` when they exist (its
    /// `compress_and_save_image` outputs): not the tarball, which it writes apart, nor the
    /// squashfs image (`mksquashfs -noappend` replaces it) or the docker archive (DIB has none).
    static func keptWhenOld(_ format: PackFormat) -> Bool { ![.tar, .squashfs, .docker].contains(format) }

    /// The docker config's architecture for DIB's `ARCH` (`-a`): Docker's names for DIB's.
    static func dockerArchitecture(_ arch: String?) -> String {
        switch arch ?? "amd64" {
        case "x86_64", "amd64", "": return "amd64"
        case "aarch64", "arm64": return "arm64"
        case "ppc64le", "ppc64el": return "ppc64le"
        case let other: return other
        }
    }

    /// DIB's fstab: the root by label, and the ESP when there is one.
    static func writeFstab(root: String, label: String, layout: StandardLayout) throws {
        var text = "LABEL=\(label) / ext4 defaults 0 1\n"
        if layout == .efi { text += "LABEL=ESP /boot/efi vfat defaults 0 2\n" }
        try writeInTree(root, "etc/fstab", text)
        if layout == .efi { try makeDirectoriesInTree(root, "boot/efi") }
    }

    /// stamp's edits of the built tree resolve its paths inside it (Syscalls.writeInRoot): a
    /// tree from an image whose `/etc/fstab` or `/boot` is a symlink to a host path changes
    /// only itself.
    static func writeInTree(_ root: String, _ relative: String, _ text: String) throws {
        do {
            try Syscalls.writeInRoot(root, relative, Array(text.utf8))
        } catch {
            throw PackProblems(problems: ["\(root)/\(relative): cannot write: \(error)"])
        }
    }

    static func makeDirectoriesInTree(_ root: String, _ relative: String) throws {
        do {
            try Syscalls.makeDirectoriesInRoot(root, relative)
        } catch {
            throw PackProblems(problems: ["\(root)/\(relative): cannot make the directory: \(error)"])
        }
    }

    /// DIB's fstab from a block-device configuration (its `fstab` nodes, by label), and the
    /// mount points its filesystems need in the tree.
    static func writeFstab(root: String, config: BlockDeviceConfig) throws {
        for mount in config.mounts where mount.mountPoint != "/" {
            try makeDirectoriesInTree(root, mount.mountPoint.split(separator: "/").joined(separator: "/"))
        }
        try writeInTree(root, "etc/fstab", config.fstabLines.map { $0 + "\n" }.joined())
    }
}
