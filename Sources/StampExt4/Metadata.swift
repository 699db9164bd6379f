import StampBytes

/// Superblock, group descriptors and bitmaps.
///
/// Superblock (1024 bytes at byte 1024 of group 0, at the start of each backup group's
/// first block), fields at their `struct ext2_super_block` offsets:
/// ```
///   0 inodes_count    4 blocks_count   8 r_blocks  12 free_blocks  16 free_inodes
///  20 first_data_block 24 log_block_size 32 blocks_per_group 40 inodes_per_group
///  56 magic EF53  58 state  60 errors  76 rev_level  84 first_ino  88 inode_size
///  90 block_group_nr  92 compat  96 incompat  100 ro_compat  104 uuid  120 volume_name
/// 206 reserved_gdt_blocks  236 hash_seed  252 def_hash_version  254 desc_size
/// 256 default_mount_opts  264 mkfs_time  268 jnl_blocks[17]  336 blocks_count_hi …
/// 372 log_groups_per_flex  373 checksum_type  1020 checksum
/// ```
/// Group descriptor (64 bytes, `struct ext4_group_desc`): bitmaps and inode table (lo/hi),
/// free counts, flags, bitmap checksums, unused inodes, descriptor checksum.
extension Layout {
    /// Blocks in use in group `g`: everything below the allocation cursor plus the fixed
    /// metadata above it.
    func usedBlocks(inGroup g: UInt64) -> UInt64 {
        let start = geometry.groupStart(g)
        let end = start + geometry.blocksInGroup(g)
        var used = dataEnd > start ? min(dataEnd, end) - start : 0
        for r in geometry.reservedRanges(overlapping: start..<end) where r.upperBound > max(start, dataEnd) {
            let lo = max(r.lowerBound, max(start, dataEnd))
            let hi = min(r.upperBound, end)
            if hi > lo { used += hi - lo }
        }
        return used
    }

    var freeBlocks: UInt64 {
        (0..<geometry.groupCount).reduce(0) { $0 + geometry.blocksInGroup($1) - usedBlocks(inGroup: $1) }
    }

    /// Inodes of group `g` that are in use (all inodes up to `usedInodes` are).
    func usedInodes(inGroup g: UInt64) -> UInt64 {
        let first = g * geometry.inodesPerGroup
        return UInt64(usedInodes) > first ? min(UInt64(usedInodes) - first, geometry.inodesPerGroup) : 0
    }

    /// Writes group `g`'s block bitmap (one block).
    func writeBlockBitmap(_ g: UInt64, into w: FieldWriter) {
        let start = geometry.groupStart(g)
        let count = geometry.blocksInGroup(g)
        func set(_ lo: UInt64, _ hi: UInt64) {  // bits [lo, hi) relative to the group
            var i = lo
            while i < hi {
                if i % 8 == 0 && hi - i >= 8 {
                    let bytes = Int((hi - i) / 8)
                    w.fill(0xFF, at: Int(i / 8), count: bytes)
                    i += UInt64(bytes) * 8
                } else {
                    w.bytes.storeBytes(of: w.bytes[Int(i / 8)] | UInt8(1 << (i % 8)), toByteOffset: Int(i / 8), as: UInt8.self)
                    i += 1
                }
            }
        }
        if dataEnd > start { set(0, min(dataEnd - start, count)) }
        for r in geometry.reservedRanges(overlapping: start..<(start + count)) {
            set(max(r.lowerBound, start) - start, min(r.upperBound, start + count) - start)
        }
        set(count, Ext4.blocksPerGroup)  // padding past the end of a short last group
    }

    /// Writes group `g`'s inode bitmap (one block, padded with ones past the group's inodes).
    func writeInodeBitmap(_ g: UInt64, into w: FieldWriter) {
        let used = usedInodes(inGroup: g)
        w.fill(0xFF, at: 0, count: Int(used / 8))
        for i in (used / 8 * 8)..<used { w.bytes[Int(i / 8)] |= UInt8(1 << (i % 8)) }
        let ipgBytes = Int(geometry.inodesPerGroup / 8)
        w.fill(0xFF, at: ipgBytes, count: Ext4.blockSize - ipgBytes)
    }

    /// The whole group descriptor table (identical in every copy).
    func descriptorTable() -> [UInt8] {
        var table = [UInt8](repeating: 0, count: Int(geometry.descriptorBlocks) * Ext4.blockSize)
        let scratch = IOScratch()
        var directoriesPerGroup = [UInt64](repeating: 0, count: Int(geometry.groupCount))
        for d in directoryInodes { directoriesPerGroup[Int(UInt64(d - 1) / geometry.inodesPerGroup)] += 1 }
        table.withUnsafeMutableBytes { raw in
            for g in 0..<geometry.groupCount {
                let d = FieldWriter(raw).slice(at: Int(g) * Ext4.descriptorSize, count: Ext4.descriptorSize)
                let (bb, ib, it) = geometry.metadata(of: g)
                d.le32(UInt32(truncatingIfNeeded: bb), at: 0)
                d.le32(UInt32(truncatingIfNeeded: bb >> 32), at: 32)
                d.le32(UInt32(truncatingIfNeeded: ib), at: 4)
                d.le32(UInt32(truncatingIfNeeded: ib >> 32), at: 36)
                d.le32(UInt32(truncatingIfNeeded: it), at: 8)
                d.le32(UInt32(truncatingIfNeeded: it >> 32), at: 40)
                let free = geometry.blocksInGroup(g) - usedBlocks(inGroup: g)
                d.le16(UInt16(truncatingIfNeeded: free), at: 12)
                d.le16(UInt16(truncatingIfNeeded: free >> 16), at: 44)
                let usedInodes = usedInodes(inGroup: g)
                let freeInodes = geometry.inodesPerGroup - usedInodes
                d.le16(UInt16(truncatingIfNeeded: freeInodes), at: 14)
                d.le16(UInt16(truncatingIfNeeded: freeInodes >> 16), at: 46)
                let dirs = directoriesPerGroup[Int(g)]
                d.le16(UInt16(truncatingIfNeeded: dirs), at: 16)
                d.le16(UInt16(truncatingIfNeeded: dirs >> 16), at: 48)
                var flags = Ext4.GroupFlag.inodeTableZeroed
                if usedInodes == 0 { flags |= Ext4.GroupFlag.inodeUninit }
                d.le16(flags, at: 18)
                d.le16(UInt16(truncatingIfNeeded: freeInodes), at: 28)  // itable_unused
                d.le16(UInt16(truncatingIfNeeded: freeInodes >> 16), at: 50)
                scratch.clear()
                writeBlockBitmap(g, into: scratch.writer)
                let bbCsum = crc32c(checksumSeed, UnsafeRawBufferPointer(scratch.writer.bytes))
                d.le16(UInt16(truncatingIfNeeded: bbCsum), at: 24)
                d.le16(UInt16(truncatingIfNeeded: bbCsum >> 16), at: 56)
                scratch.clear()
                writeInodeBitmap(g, into: scratch.writer)
                let ibCsum = crc32c(
                    checksumSeed, UnsafeRawBufferPointer(rebasing: scratch.writer.bytes[0..<Int(geometry.inodesPerGroup / 8)]))
                d.le16(UInt16(truncatingIfNeeded: ibCsum), at: 26)
                d.le16(UInt16(truncatingIfNeeded: ibCsum >> 16), at: 58)
                let csum = crc32c(crc32c(checksumSeed, le32: UInt32(g)), UnsafeRawBufferPointer(d.bytes))
                d.le16(UInt16(truncatingIfNeeded: csum), at: 30)
            }
        }
        return table
    }

    /// Writes the 1024-byte superblock for the copy in group `group` into `w`.
    func writeSuperblock(group: UInt64, freeBlocks: UInt64, into w: FieldWriter) {
        let g = geometry
        let blocks = g.blockCount
        w.le32(UInt32(g.inodeCount), at: 0)
        w.le32(UInt32(truncatingIfNeeded: blocks), at: 4)
        w.le32(UInt32(truncatingIfNeeded: blocks >> 32), at: 336)
        let reserved = blocks * options.reservedPercent / 100
        w.le32(UInt32(truncatingIfNeeded: reserved), at: 8)
        w.le32(UInt32(truncatingIfNeeded: reserved >> 32), at: 340)
        w.le32(UInt32(truncatingIfNeeded: freeBlocks), at: 12)
        w.le32(UInt32(truncatingIfNeeded: freeBlocks >> 32), at: 344)
        w.le32(UInt32(g.inodeCount - UInt64(usedInodes)), at: 16)
        w.le32(0, at: 20)  // first data block (0 with 4 KiB blocks)
        w.le32(2, at: 24)  // log2(block size) - 10
        w.le32(2, at: 28)  // cluster size = block size
        w.le32(UInt32(Ext4.blocksPerGroup), at: 32)
        w.le32(UInt32(Ext4.blocksPerGroup), at: 36)
        w.le32(UInt32(g.inodesPerGroup), at: 40)
        let t = UInt32(truncatingIfNeeded: fsTime)
        let tHi = UInt8(truncatingIfNeeded: fsTime >> 32)
        w.le32(t, at: 48)  // wtime
        w.u8(tHi, at: 628)
        w.le16(0xFFFF, at: 54)  // max_mnt_count: -1
        w.le16(0xEF53, at: 56)
        w.le16(1, at: 58)  // state: clean
        w.le16(1, at: 60)  // errors: continue
        w.le32(t, at: 64)  // lastcheck
        w.u8(tHi, at: 631)
        w.le32(1, at: 76)  // dynamic revision
        w.le32(Ext4.firstInode, at: 84)
        w.le16(UInt16(Ext4.inodeSize), at: 88)
        w.le16(UInt16(truncatingIfNeeded: group), at: 90)
        w.le32(Ext4.Feature.compat, at: 92)
        w.le32(Ext4.Feature.incompat, at: 96)
        w.le32(Ext4.Feature.roCompat, at: 100)
        w.bytes(uuid.bytes, at: 104)
        w.string(options.label, at: 120, width: 16)
        w.le16(UInt16(g.reservedGDTBlocks), at: 206)
        w.le32(Ext4.InodeNumber.journal, at: 224)
        w.bytes(hashSeed.bytes, at: 236)
        w.u8(1, at: 252)  // half_md4
        w.u8(1, at: 253)  // jnl_backup_type: blocks
        w.le16(UInt16(Ext4.descriptorSize), at: 254)
        w.le32(0x000C, at: 256)  // default mount options: user_xattr, acl
        w.le32(t, at: 264)  // mkfs_time
        w.u8(tHi, at: 630)
        // s_jnl_blocks: a copy of the journal inode's i_block, then i_size_high, i_size.
        var journalInode = [UInt8](repeating: 0, count: Ext4.inodeSize)
        journalInode.withUnsafeMutableBytes {
            ExtentTree.writeRoot(inode(Ext4.InodeNumber.journal), into: FieldWriter($0), at: 40)
        }
        w.bytes(journalInode[40..<100], at: 268)
        let jsize = journalBlocks << Ext4.blockShift
        w.le32(UInt32(truncatingIfNeeded: jsize >> 32), at: 268 + 60)
        w.le32(UInt32(truncatingIfNeeded: jsize), at: 268 + 64)
        w.le16(UInt16(Ext4.extraInodeSize), at: 348)
        w.le16(UInt16(Ext4.extraInodeSize), at: 350)
        w.le32(1, at: 352)  // flags: signed directory hash
        w.u8(4, at: 372)  // log2(groups per flex)
        w.u8(1, at: 373)  // checksum type: crc32c
        w.le32(crc32c(~0, UnsafeRawBufferPointer(rebasing: w.bytes[0..<1020])), at: 1020)
    }
}

/// One zeroed 4 KiB scratch block.
final class IOScratch {
    let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: Ext4.blockSize, alignment: 16)
    var writer: FieldWriter { FieldWriter(raw) }
    init() { clear() }
    func clear() { raw.initializeMemory(as: UInt8.self, repeating: 0) }
    deinit { raw.deallocate() }
}
