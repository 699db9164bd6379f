import StampBytes

/// The fixed shape of a filesystem: how many groups, where each group's metadata sits.
///
/// Everything here is arithmetic on the block count and the inode count; no tree is
/// involved. The planner places data in the blocks that ``reservedRanges`` leaves free.
///
/// With `flex_bg` (16 groups per flex group) the bitmaps and inode tables of a flex group
/// sit together after its first group's superblock copy, one kind after the other, as
/// mke2fs puts them:
/// ```
///  group 0                                               group 1 (backup)
///  │SB│GDT│reserved GDT│BB×16│IB×16│IT 0│IT 1│…│IT 14│free│SB│GDT│reserved GDT│IT 15│ data…
///                                                        ▲ block 32768
/// ```
/// A table that would run into a backup superblock's blocks moves past them (with 32768
/// inodes per group, 16 tables of 2048 blocks are longer than a group); the blocks it left
/// are free for data.
struct Geometry {
    let blockCount: UInt64
    let groupCount: UInt64
    let inodesPerGroup: UInt64
    let inodeTableBlocks: UInt64
    let descriptorBlocks: UInt64
    let reservedGDTBlocks: UInt64
    /// Per group: the block bitmap, the inode bitmap and the first inode-table block.
    private(set) var blockBitmaps: [UInt64] = []
    private(set) var inodeBitmaps: [UInt64] = []
    private(set) var inodeTables: [UInt64] = []
    /// Every block range that is not available for data (superblock copies, descriptor
    /// tables, bitmaps, inode tables), ascending, disjoint and merged where they touch.
    private(set) var reservedRanges: [Range<UInt64>] = []
    /// One past the last block any group's metadata uses.
    private(set) var metadataEnd: UInt64 = 0

    var inodeCount: UInt64 { groupCount * inodesPerGroup }

    /// - Parameters:
    ///   - blockCount: total blocks (the last group may be partial).
    ///   - inodesWanted: at least this many inodes in total.
    ///   - resizeLimit: the block count online growth may reach (`mke2fs -E resize=`); nil is
    ///     mke2fs's default, 1024 times the size.
    init(blockCount requested: UInt64, inodesWanted: UInt64, resizeLimit: UInt64? = nil) throws {
        guard requested < (1 << 32) else {
            throw Ext4Error.invalidSize(requested << Ext4.blockShift, reason: "stamp writes filesystems under 16 TiB")
        }
        // Like mke2fs (ext2fs_initialize): a partial last group with less room than its own
        // metadata plus 50 blocks is dropped, and the shape worked out again without it.
        var blocks = requested
        var groups: UInt64 = 0
        var ipg: UInt64 = 0
        var reservedGDT: UInt64 = 0
        while true {
            guard blocks >= 1024 else {
                throw Ext4Error.invalidSize(requested << Ext4.blockShift, reason: "ext4 needs at least 4 MiB")
            }
            groups = blocks.dividedRoundingUp(by: Ext4.blocksPerGroup)
            ipg = Geometry.inodesPerGroup(wanted: inodesWanted, groups: groups)
            reservedGDT = Geometry.reservedGDTBlocks(blocks: blocks, groups: groups, resizeLimit: resizeLimit)
            let rest = blocks % Ext4.blocksPerGroup
            guard groups > 1, rest > 0 else { break }
            var overhead = 3 + ipg / UInt64(Ext4.inodesPerBlock)
            if Geometry.hasSuperblock(groups - 1) {
                overhead += 1 + groups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock)) + reservedGDT
            }
            guard rest < max(overhead + 50, 1024) else { break }
            blocks -= rest
        }
        if let resizeLimit, resizeLimit <= blocks {
            throw Ext4Error.invalidSize(
                blocks << Ext4.blockShift,
                reason: "the resize maximum (\(resizeLimit) blocks) must be greater than the filesystem's \(blocks) blocks")
        }
        self.blockCount = blocks
        self.groupCount = groups
        self.inodesPerGroup = ipg
        self.inodeTableBlocks = ipg / UInt64(Ext4.inodesPerBlock)
        self.descriptorBlocks = groups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock))
        self.reservedGDTBlocks = reservedGDT
        placeGroupMetadata()
    }

    /// Inodes per group: enough for `wanted`, whole inode-table blocks (a multiple of 8 for
    /// the bitmap too), at most one bitmap block's worth, and a total below 2^32
    /// (`s_inodes_count` is 32 bits), as mke2fs keeps it.
    static func inodesPerGroup(wanted: UInt64, groups: UInt64) -> UInt64 {
        let perBlock = UInt64(Ext4.inodesPerBlock)
        var ipg = wanted.dividedRoundingUp(by: groups)
        ipg = max(ipg, 16).roundedUp(toMultipleOf: perBlock)
        ipg = min(ipg, Ext4.blocksPerGroup)
        return min(ipg, UInt64(UInt32.max) / groups / perBlock * perBlock)
    }

    /// e2fsprogs' calc_reserved_gdt_blocks: room to grow to 1024x (or 2^32 blocks). With
    /// `-E resize=N` (mke2fs's parse_extended_opts): room to grow to N blocks; a limit that
    /// needs no descriptor block beyond today's leaves mke2fs on its default. Both are capped
    /// at one block of block numbers (1024).
    static func reservedGDTBlocks(blocks: UInt64, groups: UInt64, resizeLimit: UInt64?) -> UInt64 {
        let descriptorBlocks = groups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock))
        func reserved(growingTo maxBlocks: UInt64) -> UInt64 {
            // No ext4 of 4 KiB blocks grows past 2^32 blocks (and a limit near 2^64 would
            // overflow the rounding below).
            let maxGroups = min(maxBlocks, 0xFFFF_FFFF).dividedRoundingUp(by: Ext4.blocksPerGroup)
            let wanted = maxGroups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock))
            return min(wanted > descriptorBlocks ? wanted - descriptorBlocks : 0, UInt64(Ext4.blockSize / 4))
        }
        let byLimit = resizeLimit.map { reserved(growingTo: $0) } ?? 0
        return byLimit > 0 ? byLimit : reserved(growingTo: min(UInt64(0xFFFF_FFFF), blocks * 1024))
    }

    /// Lays out every flex group's bitmaps and inode tables (see the type's diagram) and
    /// collects ``reservedRanges``.
    private mutating func placeGroupMetadata() {
        let count = Int(groupCount)
        blockBitmaps = Array(repeating: 0, count: count)
        inodeBitmaps = Array(repeating: 0, count: count)
        inodeTables = Array(repeating: 0, count: count)
        var ranges: [Range<UInt64>] = []
        for g in 0..<groupCount where Geometry.hasSuperblock(g) {
            ranges.append(groupStart(g)..<(groupStart(g) + superblockBlocks(g)))
        }
        for flex in 0..<flexCount {
            let first = flex * Ext4.flexGroupSize
            let groups = first..<(first + groupsInFlex(flex))
            var cursor = flexMetadataStart(flex)
            /// The first block at or after `cursor` where `size` blocks touch no superblock
            /// copy; moves the cursor past them.
            func place(_ size: UInt64) -> UInt64 {
                var moved = true
                while moved {
                    moved = false
                    let last = cursor + size - 1
                    for g in (cursor / Ext4.blocksPerGroup)...(last / Ext4.blocksPerGroup) where g < groupCount {
                        let sb = groupStart(g)..<(groupStart(g) + superblockBlocks(g))
                        if sb.overlaps(cursor..<(cursor + size)) {
                            cursor = sb.upperBound
                            moved = true
                            break
                        }
                    }
                }
                defer { cursor += size }
                return cursor
            }
            for g in groups { blockBitmaps[Int(g)] = place(1) }
            for g in groups { inodeBitmaps[Int(g)] = place(1) }
            for g in groups { inodeTables[Int(g)] = place(inodeTableBlocks) }
            metadataEnd = max(metadataEnd, cursor)
            for g in groups {
                ranges.append(blockBitmaps[Int(g)]..<(blockBitmaps[Int(g)] + 1))
                ranges.append(inodeBitmaps[Int(g)]..<(inodeBitmaps[Int(g)] + 1))
                ranges.append(inodeTables[Int(g)]..<(inodeTables[Int(g)] + inodeTableBlocks))
            }
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<UInt64>] = []
        merged.reserveCapacity(ranges.count)
        for r in ranges where !r.isEmpty {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        reservedRanges = merged
    }

    /// First block of group `g`.
    func groupStart(_ g: UInt64) -> UInt64 { g * Ext4.blocksPerGroup }

    /// Number of blocks in group `g` (the last may be short).
    func blocksInGroup(_ g: UInt64) -> UInt64 { min(Ext4.blocksPerGroup, blockCount - groupStart(g)) }

    /// Whether group `g` holds a superblock copy (`sparse_super`: 0, 1, powers of 3, 5, 7).
    static func hasSuperblock(_ g: UInt64) -> Bool {
        if g <= 1 { return true }
        for base: UInt64 in [3, 5, 7] {
            var n = base
            while n < g { n *= base }
            if n == g { return true }
        }
        return false
    }

    /// Groups other than 0 that carry backups, in ascending order.
    var backupGroups: [UInt64] { (1..<groupCount).filter(Geometry.hasSuperblock) }

    /// Blocks at the start of group `g` taken by the superblock, GDT and reserved GDT.
    func superblockBlocks(_ g: UInt64) -> UInt64 {
        Geometry.hasSuperblock(g) ? 1 + descriptorBlocks + reservedGDTBlocks : 0
    }

    /// The flex group's metadata for groups `first..<first+count` starts at this block.
    func flexMetadataStart(_ flex: UInt64) -> UInt64 {
        let g = flex * Ext4.flexGroupSize
        return groupStart(g) + superblockBlocks(g)
    }

    func groupsInFlex(_ flex: UInt64) -> UInt64 {
        min(Ext4.flexGroupSize, groupCount - flex * Ext4.flexGroupSize)
    }

    var flexCount: UInt64 { groupCount.dividedRoundingUp(by: Ext4.flexGroupSize) }

    /// Block bitmap, inode bitmap and inode table locations of group `g`.
    func metadata(of g: UInt64) -> (blockBitmap: UInt64, inodeBitmap: UInt64, inodeTable: UInt64) {
        (blockBitmaps[Int(g)], inodeBitmaps[Int(g)], inodeTables[Int(g)])
    }

    /// The reserved ranges that overlap `window` (a binary search: a 16 TiB filesystem has
    /// 131072 groups, and each asks this for its own blocks).
    func reservedRanges(overlapping window: Range<UInt64>) -> ArraySlice<Range<UInt64>> {
        var lo = 0
        var hi = reservedRanges.count
        while lo < hi {  // the first range ending after the window's start
            let mid = (lo + hi) / 2
            if reservedRanges[mid].upperBound <= window.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < reservedRanges.count && reservedRanges[end].lowerBound < window.upperBound { end += 1 }
        return reservedRanges[lo..<end]
    }

    /// Blocks needed for the fixed metadata of all groups.
    var overheadBlocks: UInt64 { reservedRanges.reduce(0) { $0 + UInt64($1.count) } }

    /// Whether every group's metadata fits inside the filesystem.
    var metadataFits: Bool { metadataEnd <= blockCount }
}
