import StampBoot
import StampBytes
import StampDisk
import StampExt4
import StampFAT
import StampIO
import StampTree

#if canImport(Glibc)
    import Glibc
#endif

/// A pack laid out by a DIB block-device configuration (`DIB_BLOCK_DEVICE_CONFIG`,
/// `stamp pack --block-device-config`): any number of partitions, each filesystem built from
/// the part of the tree under its mount point.
///
/// ```
///  tree /            ─ scan, /boot/efi and /srv left empty ─► ext4 "cloudimg-rootfs" ─► partition root
///  tree /boot/efi    ─ scan ─────────────────────────────────► vfat "ESP" (+ GRUB's EFI files) ─► ESP
///  tree /srv         ─ scan ─────────────────────────────────► ext4 "data" ─► partition data
///  (mkfs, no mount)  ─ empty ────────────────────────────────► its filesystem, empty
/// ```
///
/// The disk is the `local_loop` size (or `--size`), else the smallest disk whose root
/// partition holds the root filesystem. GRUB finds `/boot/grub` by the root filesystem's UUID or
/// label, so any partition may hold it, as long as `/boot` is on the root filesystem.
extension Packer {
    func run(blockDevice config: BlockDeviceConfig) throws -> PackResult {
        let uuid = request.uuid ?? Identifier.random()
        let seed = uuid.bytes
        guard let rootSpec = config.filesystem(mountedAt: "/") else {
            throw PackProblems(problems: ["block-device config: no filesystem is mounted at /"])
        }
        let others = config.mounts.filter { $0.mountPoint != "/" }.map(\.mountPoint)
        var problems: [String] = []
        if rootSpec.type != .ext4 {
            problems.append("block-device config: the root filesystem must be ext4, not \(rootSpec.type.rawValue)")
        }
        for point in others {
            if let problem = mountPointProblem(point) { problems.append(problem) }
        }
        let bootLayout = Packer.bootLayout(of: config)
        if request.bootloader, bootLayout != nil, others.contains("/boot") {
            problems.append("block-device config: a separate /boot filesystem is not supported with the boot loader yet")
        }
        if !problems.isEmpty { throw PackProblems(problems: problems) }

        log("scanning \(request.root)")
        let tree = try scan(request.root, mountPoint: "/", others: others)
        log("scanned \(tree.entries.count) entries, \(formatBytes(tree.totalFileBytes)) of file data")
        let boot = try prepareBoot(tree: tree, uuid: rootSpec.uuid ?? uuid, layout: bootLayout, label: rootSpec.label)

        var rootOptions = ext4Options(label: rootSpec.label, uuid: rootSpec.uuid ?? uuid)
        let plan: DiskPlan
        if let size = request.diskSize ?? config.image.size {
            plan = try config.plan(diskSize: size, seed: seed)
        } else {
            let fitted = try Ext4Image(tree: tree, options: rootOptions)
            plan = try config.plan(rootSize: fitted.size, seed: seed)
            rootOptions.minimumInodes = fitted.inodeCount
        }
        let layout = plan.layout
        log(
            "layout from the block-device config: \(layout.scheme.rawValue), disk \(formatBytes(layout.size)), \(layout.partitions.count) partition(s)"
        )

        let assembler = DiskAssembler(layout: layout)
        var rootUUID = ""
        for fs in plan.filesystems {
            let partition = fs.partition
            let where_ = fs.mountPoint.map { " (\($0))" } ?? " (not mounted)"
            switch fs.spec.type {
            case .ext4:
                let subtree: RootTree
                var options = rootOptions
                if fs.mountPoint == "/" {
                    subtree = tree
                    options.size = .bytes(partition.size)
                } else {
                    subtree = try fs.mountPoint.map { try scan(request.root + $0, mountPoint: $0, others: others) } ?? emptyTree()
                    options = ext4Options(
                        label: fs.spec.label, uuid: fs.spec.uuid ?? Identifier.derived(from: seed + Array(fs.spec.name.utf8)))
                    options.size = .bytes(partition.size)
                    // DIB's journal size and --mkfs-options are the root filesystem's; others get mke2fs's defaults
                    options.journalMiB = nil
                    options.reservedPercent = 5
                    options.resizeLimitBlocks = nil
                    options.extraBytes = nil
                }
                let image: Ext4Image
                do {
                    image = try Ext4Image(tree: subtree, options: options)
                } catch {
                    throw PackProblems(problems: ["filesystem \(fs.spec.name)\(where_) in partition \(partition.name): \(error)"])
                }
                if fs.mountPoint == "/" { rootUUID = image.uuid.description }
                log(
                    "\(fs.spec.name)\(where_): ext4 \"\(fs.spec.label)\" \(formatBytes(image.size)) in partition \(partition.name)"
                )
                try assembler.setContent(image, forPartitionNamed: partition.name)
            case .vfat:
                var files = try fs.mountPoint.map { try fatFiles(request.root + $0, mountPoint: $0, others: others) } ?? []
                if partition.role == .efiSystem, let boot, !boot.espFiles.isEmpty {
                    let ours = Set(boot.espFiles.map { $0.path.lowercased() })
                    files.removeAll { ours.contains($0.path.lowercased()) }
                    files += boot.espFiles.map { (path: $0.path, content: FATEntry.Content.bytes($0.bytes)) }
                }
                let volume: FATVolume
                do {
                    volume = try FATVolume(
                        options: FATVolume.Options(
                            size: partition.size, label: fs.spec.label,
                            volumeID: FATVolume.volumeID(seed: seed + Array(fs.spec.name.utf8)),
                            hiddenSectors: UInt32(clamping: partition.start)),  // informational; past 2 TiB it cannot say
                        root: FATEntry.tree(files))
                } catch {
                    throw PackProblems(problems: ["filesystem \(fs.spec.name)\(where_) in partition \(partition.name): \(error)"])
                }
                log("\(fs.spec.name)\(where_): vfat \"\(fs.spec.label)\" in partition \(partition.name)")
                try assembler.setContent(volume, forPartitionNamed: partition.name)
            }
        }
        if let boot { assembler.bootCode = try Packer.bootCode(boot, layout: layout) }
        try assembler.validate()

        var result = PackResult()
        result.layout = .none
        result.rootUUID = rootUUID
        result.diskSize = layout.size
        result.outputs = try writeOutputs(assembler: assembler, layout: layout, tree: tree, efiFirmware: bootLayout == .efi)
        return result
    }

    /// The boot layout a configuration's partition table gives (see ``bootLayout(of:)-DiskLayout``).
    static func bootLayout(of config: BlockDeviceConfig) -> BootLayout? {
        switch config.partitioning?.scheme ?? .none {
        case .none: return nil
        case .mbr: return .mbr
        case .gpt: return config.partitionRequests.contains { $0.role == .efiSystem } ? .efi : .gpt
        }
    }

    /// Scans the tree under `mountPoint`, leaving out what other filesystems mounted below it hold.
    private func scan(_ path: String, mountPoint: String, others: [String]) throws -> RootTree {
        let base = mountPoint == "/" ? "/" : mountPoint + "/"
        var options = ScanOptions()
        options.supplements = request.supplements
        options.emptyDirectories = Set(
            others.filter { $0 != mountPoint && $0.hasPrefix(base) }.map { String($0.dropFirst(base.count)) })
        // A mount point is a name inside the tree: never followed out of it (see mountPointProblem).
        options.followRootSymlink = mountPoint == "/"
        let tree = try TreeScanner(options: options).scan(path)
        if let caller = request.callerOwnsAsRoot { tree.mapOwner(uid: caller.uid, gid: caller.gid) }
        return tree
    }

    /// The files and directories under `mountPoint` for a FAT volume (FAT holds no links,
    /// devices or owners: those are refused by name).
    private func fatFiles(_ path: String, mountPoint: String, others: [String]) throws -> [(
        path: String, content: FATEntry.Content
    )] {
        let tree = try scan(path, mountPoint: mountPoint, others: others)
        var files: [(path: String, content: FATEntry.Content)] = []
        for index in tree.entries.indices.dropFirst() {
            let entry = tree.entries[index]
            let relative = String(tree.path(of: index).dropFirst())
            switch entry.kind {
            case .directory: files.append((relative, .directory([])))
            case .regular:
                // Opened beneath the tree's root and checked to be the file scanned, like ext4's data.
                let handle = ReadOnlyTree(tree: tree)
                let source = FATFileSource(path: tree.sourcePath(of: index)) { try handle.tree.openData(of: index) }
                files.append((relative, .source(source, size: entry.size)))
            default:
                throw PackProblems(problems: [
                    "\(tree.sourcePath(of: index)): a vfat filesystem (\(mountPoint)) can hold only files and directories"
                ])
            }
        }
        return files
    }

    /// The tree of an empty directory, for a filesystem nothing is mounted on.
    private func emptyTree() throws -> RootTree {
        var template = Array("/tmp/stamp-empty-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw PackProblems(problems: ["cannot create an empty directory in /tmp"]) }
        let path = String(cString: made)
        defer { rmdir(path) }
        return try TreeScanner().scan(path)
    }

    /// Why a mount point of the config cannot be read from the tree, if it cannot: it must be
    /// a directory reached from the root without a symlink on the way (the tree is untrusted:
    /// `/srv -> /home` or `/boot/efi -> /root` would copy host files into the image).
    func mountPointProblem(_ point: String) -> String? {
        var prefix = ""
        for component in point.split(separator: "/") {
            prefix += "/" + component
            var st = stat()
            let found = lstat(request.root + prefix, &st) == 0
            if found && (st.st_mode & S_IFMT) == S_IFLNK {
                return
                    "\(request.root)\(prefix): mount point \(point) in the block-device config is a symlink in the tree (mount points are never followed out of the tree)"
            }
            if !found || (st.st_mode & S_IFMT) != S_IFDIR {
                return "\(request.root)\(point): mount point in the block-device config is not a directory in the tree"
            }
        }
        return nil
    }
}

/// A tree the volume writer only reads from (its model is final before writing starts), for
/// the FAT writer's opener closures.
private struct ReadOnlyTree: @unchecked Sendable {
    let tree: RootTree
}
