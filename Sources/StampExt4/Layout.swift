import StampBytes
import StampTree

/// The complete plan of an ext4 image: geometry, inode numbers, every allocated block.
///
/// Planning is pure computation over the scanned tree (names are hashed for indexed
/// directories; no file is read). ``Ext4Image`` searches for a size when asked for `auto`
/// by planning repeatedly, which is cheap.
final class Layout {
    let tree: RootTree
    let options: Ext4Options
    let geometry: Geometry
    let uuid: Identifier
    let hashSeed: Identifier
    let hasher: DirectoryHash
    /// `crc32c(~0, uuid)`: the seed of every metadata checksum.
    let checksumSeed: UInt32
    /// The filesystem's own timestamps (mkfs time, lost+found, journal, resize inode).
    let fsTime: Int64
    let journalBlocks: UInt64

    /// Inode plans indexed by inode number - 1.
    private(set) var inodes: [InodePlan]
    /// Inode number of each tree entry.
    private(set) var inodeOfEntry: [UInt32]
    private(set) var pieces: [Piece] = []
    private(set) var sharedXattrBlocks: [SharedXattrBlock] = []
    /// Number of the highest used inode (every inode up to it is in use).
    private(set) var usedInodes: UInt32 = 0
    /// First block after the last allocated data block.
    private(set) var dataEnd: UInt64 = 0
    /// Whether lost+found is synthesized (false when the tree has its own).
    let makesLostAndFound: Bool
    /// Directory inodes, counted per group when writing descriptors.
    private(set) var directoryInodes: [UInt32] = []

    private var allocator: BlockAllocator
    private var xattrBlockByContent: [[UInt8]: Int] = [:]

    /// Plans the tree into `blockCount` blocks with room for `inodeCount` inodes.
    /// Throws ``Ext4Error/imageTooSmall(size:needed:)`` with `needed` = 0 when it does not
    /// fit (the caller computes the real minimum).
    init(tree: RootTree, options: Ext4Options, blockCount: UInt64, inodesWanted: UInt64, uuid: Identifier, hashSeed: Identifier)
        throws
    {
        self.tree = tree
        self.options = options
        self.geometry = try Geometry(blockCount: blockCount, inodesWanted: inodesWanted, resizeLimit: options.resizeLimitBlocks)
        self.uuid = uuid
        self.hashSeed = hashSeed
        self.hasher = DirectoryHash(seed: hashSeed.bytes)
        self.checksumSeed = crc32c(~0, uuid.bytes)
        self.fsTime = options.sourceDateEpoch ?? Int64(Layout.now())
        self.journalBlocks = Layout.journalBlocks(options: options, blockCount: geometry.blockCount)
        self.inodes = []
        self.inodeOfEntry = [UInt32](repeating: 0, count: tree.entries.count)
        self.makesLostAndFound = !tree.entries[0].children.contains { tree.entries[Int($0)].name == Array("lost+found".utf8) }
        self.allocator = BlockAllocator(reserved: geometry.reservedRanges, limit: geometry.blockCount)
        guard geometry.metadataFits else {
            throw Ext4Error.imageTooSmall(size: blockCount << Ext4.blockShift, needed: 0)
        }
        try numberInodes()
        try allocate()
        dataEnd = allocator.cursor
        if dataEnd > geometry.blockCount {
            throw Ext4Error.imageTooSmall(size: blockCount << Ext4.blockShift, needed: 0)
        }
    }

    static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec
    }

    /// DIB uses a 64 MiB journal; small filesystems get mke2fs's smaller default.
    static func journalBlocks(options: Ext4Options, blockCount: UInt64) -> UInt64 {
        if let mib = options.journalMiB { return mib * 256 }
        let mke2fsDefault: UInt64 =
            blockCount < 32768 ? 1024 : blockCount < 256 * 1024 ? 4096 : blockCount < 512 * 1024 ? 8192 : 16384
        return min(mke2fsDefault, 16384)
    }

    // MARK: - inode numbers

    /// Inode numbers in visiting order: the root is 2, lost+found 11, then each directory's
    /// children (in name order) before the children of its subdirectories.
    ///
    /// A hard-linked inode takes its number at whichever of its names this breadth-first
    /// walk meets first. That need not be the name the scan recorded first (the scan is
    /// depth-first: `/N/c/z/6/V` precedes `/X/A/hl` there, but not here), so the number is
    /// stored on the first-scanned entry, which owns the inode's metadata, and every other
    /// name reads it from there.
    private func numberInodes() throws {
        var next: UInt32 = Ext4.firstInode
        if makesLostAndFound { next += 1 }
        inodeOfEntry[0] = Ext4.InodeNumber.root
        var queue: [Int] = [0]
        var head = 0
        while head < queue.count {
            let dir = queue[head]
            head += 1
            for child in tree.entries[dir].children {
                let c = Int(child)
                let entry = tree.entries[c]
                if entry.name.count > 255 { throw Ext4Error.nameTooLong(path: tree.path(of: c)) }
                let owner = entry.hardLinkOf.map(Int.init) ?? c
                if inodeOfEntry[owner] == 0 {
                    inodeOfEntry[owner] = next
                    next += 1
                }
                inodeOfEntry[c] = inodeOfEntry[owner]
                if entry.kind == .directory { queue.append(c) }
            }
        }
        usedInodes = next - 1
        guard UInt64(usedInodes) <= geometry.inodeCount else {
            throw Ext4Error.tooManyInodes(needed: UInt64(usedInodes), available: geometry.inodeCount, ratio: options.inodeRatio)
        }
        inodes = [InodePlan](repeating: InodePlan(), count: Int(usedInodes))
        // Link counts: one per name; directories 2 + subdirectories.
        for (i, entry) in tree.entries.enumerated() {
            let ino = Int(inodeOfEntry[i]) - 1
            if entry.hardLinkOf == nil {
                inodes[ino].role = .tree
                inodes[ino].entry = Int32(i)
            }
            if entry.kind == .directory {
                let subdirectories = entry.children.reduce(0) { $0 + (tree.entries[Int($1)].kind == .directory ? 1 : 0) }
                var links = 2 + subdirectories + (i == 0 && makesLostAndFound ? 1 : 0)
                if links > Int(Ext4.maxLinks) { links = 1 }  // dir_nlink: "many" (the kernel's and e2fsck's rule)
                inodes[ino].linkCount = UInt32(links)
                directoryInodes.append(UInt32(ino + 1))
            } else {
                inodes[ino].linkCount += 1
                if inodes[ino].linkCount > Ext4.maxLinks {
                    let owner = entry.hardLinkOf.map(Int.init) ?? i
                    throw Ext4Error.tooManyLinks(path: tree.path(of: owner))
                }
            }
        }
        if makesLostAndFound {
            inodes[Int(Ext4.InodeNumber.lostAndFound) - 1].role = .lostAndFound
            inodes[Int(Ext4.InodeNumber.lostAndFound) - 1].linkCount = 2
            directoryInodes.append(Ext4.InodeNumber.lostAndFound)
        }
        inodes[Int(Ext4.InodeNumber.resize) - 1].role = .resize
        inodes[Int(Ext4.InodeNumber.journal) - 1].role = .journal
        inodes[Int(Ext4.InodeNumber.journal) - 1].linkCount = 1
    }

    // MARK: - blocks

    private func allocate() throws {
        // The resize inode's double-indirect block and the journal come first.
        if geometry.reservedGDTBlocks > 0 {
            let b = allocator.allocateOne()
            pieces.append(Piece(kind: .resizeIndirect, inode: Ext4.InodeNumber.resize, logical: 0, count: 1, start: b))
            var resize = inodes[Int(Ext4.InodeNumber.resize) - 1]
            resize.extents = [Extent(logical: 0, length: 1, physical: b)]
            inodes[Int(Ext4.InodeNumber.resize) - 1] = resize
        }
        allocateBlocks(inode: Ext4.InodeNumber.journal, kind: .journal, count: journalBlocks)
        allocateExtentTree(inode: Ext4.InodeNumber.journal)
        inodes[Int(Ext4.InodeNumber.journal) - 1].size = journalBlocks << Ext4.blockShift
        if makesLostAndFound {
            allocateBlocks(inode: Ext4.InodeNumber.lostAndFound, kind: .directory, count: 4)
            inodes[Int(Ext4.InodeNumber.lostAndFound) - 1].size = 4 << Ext4.blockShift
        }
        // Then each directory followed by its files, in numbering order. Files whose data is
        // in an image layer come last, in (layer, member) order: the emitter then reads each
        // compressed blob once, front to back, while the disk stream stays ascending.
        var queue: [Int] = [0]
        var head = 0
        var layered: [(layer: Int32, member: Int32, entry: Int)] = []
        while head < queue.count {
            let dir = queue[head]
            head += 1
            try allocateDirectory(dir)
            for child in tree.entries[dir].children {
                let c = Int(child)
                let entry = tree.entries[c]
                if entry.kind == .directory {
                    queue.append(c)
                } else if entry.hardLinkOf == nil {
                    if entry.kind == .regular, let position = tree.memberPosition(of: c) {
                        layered.append((position.layer, position.member, c))
                    } else {
                        try allocateFile(c)
                    }
                }
            }
        }
        layered.sort { ($0.layer, $0.member, $0.entry) < ($1.layer, $1.member, $1.entry) }
        for file in layered { try allocateFile(file.entry) }
    }

    /// The entries of directory `dir` as they go on disk.
    func directoryEntries(_ dir: Int) -> [DirectoryEntry] {
        var list: [DirectoryEntry] = []
        let children = tree.entries[dir].children
        list.reserveCapacity(children.count + 1)
        if dir == 0 && makesLostAndFound {
            list.append(
                DirectoryEntry(
                    name: Array("lost+found".utf8), inode: Ext4.InodeNumber.lostAndFound, fileType: Ext4.FileType.directory))
        }
        for child in children {
            let c = Int(child)
            list.append(
                DirectoryEntry(
                    name: tree.entries[c].name, inode: inodeOfEntry[c], fileType: Layout.fileType(tree.entries[c].kind)))
        }
        return list
    }

    func directoryBuilder(_ dir: Int) -> DirectoryBuilder {
        let parent = dir == 0 ? Ext4.InodeNumber.root : inodeOfEntry[Int(tree.entries[dir].parent)]
        return DirectoryBuilder(selfInode: inodeOfEntry[dir], parentInode: parent, entries: directoryEntries(dir), hash: hasher)
    }

    static func fileType(_ kind: FileKind) -> UInt8 {
        switch kind {
        case .regular: return Ext4.FileType.regular
        case .directory: return Ext4.FileType.directory
        case .symlink: return Ext4.FileType.symlink
        case .characterDevice: return Ext4.FileType.characterDevice
        case .blockDevice: return Ext4.FileType.blockDevice
        case .fifo: return Ext4.FileType.fifo
        case .socket: return Ext4.FileType.socket
        }
    }

    private func allocateDirectory(_ dir: Int) throws {
        let builder = directoryBuilder(dir)
        if builder.tooLarge { throw Ext4Error.directoryTooLarge(path: tree.path(of: dir)) }
        let ino = inodeOfEntry[dir]
        allocateBlocks(inode: ino, kind: .directory, count: UInt64(builder.blockCount))
        inodes[Int(ino) - 1].size = UInt64(builder.blockCount) << Ext4.blockShift
        if builder.isIndexed { inodes[Int(ino) - 1].flags |= Ext4.InodeFlag.index }
        try allocateTreeAndXattrs(entry: dir, inode: ino)
    }

    private func allocateFile(_ index: Int) throws {
        let entry = tree.entries[index]
        let ino = inodeOfEntry[index]
        switch entry.kind {
        case .regular:
            guard entry.size <= Ext4.maxFileSize else {
                throw Ext4Error.fileTooLarge(path: tree.path(of: index), size: entry.size)
            }
            inodes[Int(ino) - 1].size = entry.size
            for region in Layout.blockRegions(entry.regions) {
                allocateBlocks(inode: ino, kind: .fileData, count: UInt64(region.count), logical: UInt32(region.lowerBound))
            }
        case .symlink:
            inodes[Int(ino) - 1].size = entry.size
            if entry.size >= 60 { allocateBlocks(inode: ino, kind: .symlink, count: 1) }
        default:
            break
        }
        try allocateTreeAndXattrs(entry: index, inode: ino)
    }

    /// Block ranges (in logical blocks) covering byte regions, merged where they touch.
    static func blockRegions(_ regions: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for r in regions where !r.isEmpty {
            let start = r.lowerBound >> Ext4.blockShift
            let end = (r.upperBound + UInt64(Ext4.blockSize) - 1) >> Ext4.blockShift
            if let last = out.last, last.upperBound >= start {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, end)
            } else {
                out.append(start..<end)
            }
        }
        return out
    }

    /// Allocates `count` blocks for an inode, records pieces and extents.
    private func allocateBlocks(inode: UInt32, kind: Piece.Kind, count: UInt64, logical: UInt32 = 0) {
        guard count > 0 else { return }
        var at = logical
        var plan = inodes[Int(inode) - 1]
        for range in allocator.allocate(count) {
            var start = range.lowerBound
            while start < range.upperBound {
                let n = min(range.upperBound - start, Ext4.maxExtentLength)
                pieces.append(Piece(kind: kind, inode: inode, logical: at, count: UInt32(n), start: start))
                plan.extents.append(Extent(logical: at, length: UInt32(n), physical: start))
                at += UInt32(n)
                start += n
            }
        }
        plan.blockCount += count
        if kind != .journal && kind != .resizeIndirect { plan.flags |= Ext4.InodeFlag.extents }
        if kind == .journal { plan.flags |= Ext4.InodeFlag.extents }
        inodes[Int(inode) - 1] = plan
    }

    /// Extent-tree blocks when an inode's extents overflow the four in its `i_block` (a file
    /// in many pieces; a journal over 512 MiB, whose extents hold at most 128 MiB each).
    private func allocateExtentTree(inode: UInt32) {
        var plan = inodes[Int(inode) - 1]
        let shape = ExtentTree.shape(extentCount: plan.extents.count)
        guard shape.blocks > 0 else { return }
        let ranges = allocator.allocate(UInt64(shape.blocks))
        var index: UInt32 = 0
        for r in ranges {
            pieces.append(Piece(kind: .extentTree, inode: inode, logical: index, count: UInt32(r.count), start: r.lowerBound))
            for b in r { plan.treeBlocks.append(b) }
            index += UInt32(r.count)
        }
        plan.depth = UInt16(shape.depth)
        plan.blockCount += UInt64(shape.blocks)
        inodes[Int(inode) - 1] = plan
    }

    /// Extent-tree blocks when the extents overflow the inode, and the xattr block.
    private func allocateTreeAndXattrs(entry: Int, inode: UInt32) throws {
        allocateExtentTree(inode: inode)
        var plan = inodes[Int(inode) - 1]
        let attributes = tree.entries[entry].xattrs
        if !attributes.isEmpty {
            let placement = try XattrPlacement(attributes, path: self.tree.path(of: entry))
            if !placement.inBlock.isEmpty {
                let bytes = placement.blockBytes()
                if let shared = xattrBlockByContent[bytes] {
                    sharedXattrBlocks[shared].refcount += 1
                    plan.xattrBlockIndex = Int32(shared)
                    plan.xattrBlock = sharedXattrBlocks[shared].block
                } else {
                    let b = allocator.allocateOne()
                    let index = sharedXattrBlocks.count
                    sharedXattrBlocks.append(SharedXattrBlock(bytes: bytes, block: b, refcount: 1))
                    xattrBlockByContent[bytes] = index
                    pieces.append(Piece(kind: .xattrBlock, inode: inode, logical: UInt32(index), count: 1, start: b))
                    plan.xattrBlockIndex = Int32(index)
                    plan.xattrBlock = b
                }
                plan.blockCount += 1
            }
        }
        inodes[Int(inode) - 1] = plan
    }

    /// The plan of inode `number`.
    func inode(_ number: UInt32) -> InodePlan { inodes[Int(number) - 1] }
}

#if canImport(Glibc)
    import Glibc
#endif
