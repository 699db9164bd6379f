import StampBytes

/// The fixed shape of a filesystem: how many groups, where each group's metadata sits.
///
/// Everything here is arithmetic on the block count and the inode count; no tree is
/// involved. The planner places data in the blocks that ``reservedRanges`` leaves free.
struct Geometry {
    let blockCount: UInt64
    let groupCount: UInt64
    let inodesPerGroup: UInt64
    let inodeTableBlocks: UInt64
    let descriptorBlocks: UInt64
    let reservedGDTBlocks: UInt64

    var inodeCount: UInt64 { groupCount * inodesPerGroup }

    /// - Parameters:
    ///   - blockCount: total blocks (the last group may be partial).
    ///   - inodesWanted: at least this many inodes in total.
    ///   - resizeLimit: the block count online growth may reach (`mke2fs -E resize=`); nil is
    ///     mke2fs's default, 1024 times the size.
    init(blockCount requested: UInt64, inodesWanted: UInt64, resizeLimit: UInt64? = nil) throws {
        var blocks = requested
        var groups = blocks.dividedRoundingUp(by: Ext4.blocksPerGroup)
        // Like mke2fs: a last group too small to hold its own metadata is dropped.
        let lastGroupBlocks = blocks - (groups - 1) * Ext4.blocksPerGroup
        if groups > 1 && lastGroupBlocks < 1024 {
            groups -= 1
            blocks = groups * Ext4.blocksPerGroup
        }
        guard blocks >= 1024 else {
            throw Ext4Error.invalidSize(requested << Ext4.blockShift, reason: "ext4 needs at least 4 MiB")
        }
        guard blocks < (1 << 32) else {
            throw Ext4Error.invalidSize(requested << Ext4.blockShift, reason: "stamp writes filesystems under 16 TiB")
        }
        // Inodes per group: enough for `inodesWanted`, whole inode-table blocks, a multiple
        // of 8 for the bitmap, and at most one bitmap block's worth.
        var ipg = inodesWanted.dividedRoundingUp(by: groups)
        ipg = max(ipg, 16).roundedUp(toMultipleOf: UInt64(Ext4.inodesPerBlock))
        ipg = min(ipg, Ext4.blocksPerGroup)
        self.blockCount = blocks
        self.groupCount = groups
        self.inodesPerGroup = ipg
        self.inodeTableBlocks = ipg / UInt64(Ext4.inodesPerBlock)
        self.descriptorBlocks = groups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock))
        // e2fsprogs' calc_reserved_gdt_blocks: room to grow to 1024x (or 2^32 blocks). With
        // `-E resize=N` (mke2fs's parse_extended_opts): room to grow to N blocks, which must
        // exceed the size; a limit that needs no descriptor block beyond today's leaves mke2fs
        // on its default. Both are capped at one block of block numbers (1024).
        if let resizeLimit, resizeLimit <= blocks {
            throw Ext4Error.invalidSize(
                blocks << Ext4.blockShift,
                reason: "the resize maximum (\(resizeLimit) blocks) must be greater than the filesystem's \(blocks) blocks")
        }
        let descriptorBlocks = self.descriptorBlocks
        func reserved(growingTo maxBlocks: UInt64) -> UInt64 {
            let maxGroups = maxBlocks.dividedRoundingUp(by: Ext4.blocksPerGroup)
            let wanted = maxGroups.dividedRoundingUp(by: UInt64(Ext4.descriptorsPerBlock))
            return min(wanted > descriptorBlocks ? wanted - descriptorBlocks : 0, UInt64(Ext4.blockSize / 4))
        }
        let byLimit = resizeLimit.map { reserved(growingTo: $0) } ?? 0
        self.reservedGDTBlocks = byLimit > 0 ? byLimit : reserved(growingTo: min(UInt64(0xFFFF_FFFF), blocks * 1024))
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
        let flex = g / Ext4.flexGroupSize
        let n = groupsInFlex(flex)
        let i = g % Ext4.flexGroupSize
        let start = flexMetadataStart(flex)
        return (start + i, start + n + i, start + 2 * n + i * inodeTableBlocks)
    }

    /// Blocks of the flex group's metadata region.
    func flexMetadataBlocks(_ flex: UInt64) -> UInt64 { groupsInFlex(flex) * (2 + inodeTableBlocks) }

    /// Every block range that is not available for data, ascending and disjoint.
    var reservedRanges: [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for g in 0..<groupCount {
            var start = groupStart(g)
            var end = start + superblockBlocks(g)
            if g % Ext4.flexGroupSize == 0 {
                let flex = g / Ext4.flexGroupSize
                start = min(start, flexMetadataStart(flex))
                end = flexMetadataStart(flex) + flexMetadataBlocks(flex)
            }
            if end > start { ranges.append(start..<end) }
        }
        return ranges
    }

    /// Blocks needed for the fixed metadata of all groups.
    var overheadBlocks: UInt64 { reservedRanges.reduce(0) { $0 + UInt64($1.count) } }

    /// Whether the flex metadata of the last flex group fits inside the filesystem.
    var metadataFits: Bool {
        let last = flexCount - 1
        return flexMetadataStart(last) + flexMetadataBlocks(last) <= blockCount
    }
}
