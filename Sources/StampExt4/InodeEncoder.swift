import StampBytes
import StampTree

/// Encodes the 256-byte on-disk inodes (`struct ext2_inode_large`), field by field.
///
/// ```
///  0 mode  2 uid  4 size  8 atime 12 ctime 16 mtime 20 dtime 24 gid 26 links 28 blocks
/// 32 flags 36 version 40 i_block[60] 100 generation 104 file_acl 108 size_high
/// 116 blocks_hi 118 file_acl_hi 120 uid_hi 122 gid_hi 124 csum_lo  128 extra_isize
/// 130 csum_hi 132 ctime_extra 136 mtime_extra 140 atime_extra 144 crtime 148 crtime_extra
/// 160 in-inode xattrs (magic 0xEA020000, entries, values) … 256
/// ```
extension Layout {
    /// The per-inode checksum seed: `crc32c(crc32c(fs seed, le32 inode), le32 generation)`.
    func inodeSeed(_ number: UInt32) -> UInt32 {
        crc32c(crc32c(checksumSeed, le32: number), le32: 0)
    }

    /// Writes inode `number` into `w` (256 zeroed bytes). Unused reserved inodes stay zero.
    func encodeInode(_ number: UInt32, into w: FieldWriter) {
        let plan = inode(number)
        let fs = Timestamp(seconds: fsTime)
        switch plan.role {
        case .unused:
            return
        case .tree:
            encodeTreeInode(number, plan, into: w)
        case .lostAndFound:
            writeCommon(w, mode: 0o040700, uid: 0, gid: 0, plan: plan, times: (fs, fs, fs, fs))
            w.le32(Ext4.InodeFlag.extents, at: 32)
            ExtentTree.writeRoot(plan, into: w, at: 40)
        case .journal:
            writeCommon(w, mode: 0o100600, uid: 0, gid: 0, plan: plan, times: (fs, fs, fs, fs))
            w.le32(Ext4.InodeFlag.extents, at: 32)
            ExtentTree.writeRoot(plan, into: w, at: 40)
        case .resize:
            var resize = plan
            resize.linkCount = 1
            // The double-indirect map can address (1024² + 1024 + 12) blocks.
            resize.size = (1024 * 1024 + 1024 + 12) << Ext4.blockShift
            resize.blockCount = 1 + geometry.reservedGDTBlocks * (1 + UInt64(geometry.backupGroups.count))
            writeCommon(w, mode: 0o100600, uid: 0, gid: 0, plan: resize, times: (fs, fs, fs, fs))
            if let dind = plan.extents.first?.physical { w.le32(UInt32(dind), at: 40 + 13 * 4) }
        }
        finishChecksum(number, w)
    }

    private func encodeTreeInode(_ number: UInt32, _ plan: InodePlan, into w: FieldWriter) {
        let entry = tree.entries[Int(plan.entry)]
        let limit = options.sourceDateEpoch.map { Timestamp(seconds: $0) }
        let times = (
            entry.accessTime.clamped(to: limit), entry.changeTime.clamped(to: limit),
            entry.modificationTime.clamped(to: limit),
            (entry.creationTime ?? entry.changeTime).clamped(to: limit)
        )
        writeCommon(w, mode: entry.mode, uid: entry.uid, gid: entry.gid, plan: plan, times: times)
        var flags = plan.flags
        switch entry.kind {
        case .regular, .directory:
            flags |= Ext4.InodeFlag.extents
            ExtentTree.writeRoot(plan, into: w, at: 40)
        case .symlink:
            let target = entry.symlinkTarget ?? []
            if plan.extents.isEmpty {
                w.bytes(target, at: 40)  // fast symlink: the target lives in i_block
                flags &= ~Ext4.InodeFlag.extents
            } else {
                flags |= Ext4.InodeFlag.extents
                ExtentTree.writeRoot(plan, into: w, at: 40)
            }
        case .characterDevice, .blockDevice:
            let major = entry.deviceMajor
            let minor = entry.deviceMinor
            if major < 256 && minor < 256 {
                w.le32((major << 8) | minor, at: 40)
            } else {
                w.le32((minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12), at: 44)
            }
        case .fifo, .socket:
            break
        }
        w.le32(flags, at: 32)
        if plan.xattrBlock != 0 {
            w.le32(UInt32(truncatingIfNeeded: plan.xattrBlock), at: 104)
            w.le16(UInt16(truncatingIfNeeded: plan.xattrBlock >> 32), at: 118)
        }
        if !entry.xattrs.isEmpty, let placement = try? XattrPlacement(entry.xattrs, path: "") {
            placement.writeInInode(w)
        }
    }

    private func writeCommon(
        _ w: FieldWriter, mode: UInt32, uid: UInt32, gid: UInt32, plan: InodePlan,
        times: (atime: Timestamp, ctime: Timestamp, mtime: Timestamp, crtime: Timestamp)
    ) {
        w.le16(UInt16(truncatingIfNeeded: mode), at: 0)
        w.le16(UInt16(truncatingIfNeeded: uid), at: 2)
        w.le16(UInt16(truncatingIfNeeded: uid >> 16), at: 120)
        w.le16(UInt16(truncatingIfNeeded: gid), at: 24)
        w.le16(UInt16(truncatingIfNeeded: gid >> 16), at: 122)
        w.le32(UInt32(truncatingIfNeeded: plan.size), at: 4)
        w.le32(UInt32(truncatingIfNeeded: plan.size >> 32), at: 108)
        w.le16(UInt16(truncatingIfNeeded: plan.linkCount), at: 26)
        let sectors = plan.blockCount * UInt64(Ext4.blockSize / 512)
        w.le32(UInt32(truncatingIfNeeded: sectors), at: 28)
        w.le16(UInt16(truncatingIfNeeded: sectors >> 32), at: 116)
        w.le16(UInt16(Ext4.extraInodeSize), at: 128)
        Layout.writeTime(times.atime, w, at: 8, extraAt: 140)
        Layout.writeTime(times.ctime, w, at: 12, extraAt: 132)
        Layout.writeTime(times.mtime, w, at: 16, extraAt: 136)
        Layout.writeTime(times.crtime, w, at: 144, extraAt: 148)
    }

    /// Seconds in the 32-bit field; nanoseconds and two epoch bits in the `_extra` field.
    static func writeTime(_ t: Timestamp, _ w: FieldWriter, at offset: Int, extraAt: Int) {
        let low = Int64(Int32(truncatingIfNeeded: t.seconds))
        let epoch = UInt32(truncatingIfNeeded: (t.seconds - low) >> 32) & 3
        w.le32(UInt32(truncatingIfNeeded: t.seconds), at: offset)
        w.le32((min(t.nanoseconds, 999_999_999) << 2) | epoch, at: extraAt)
    }

    /// `crc32c(inode seed, inode with both checksum fields zero)`, split lo/hi.
    private func finishChecksum(_ number: UInt32, _ w: FieldWriter) {
        w.le16(0, at: 124)
        w.le16(0, at: 130)
        let csum = crc32c(inodeSeed(number), UnsafeRawBufferPointer(rebasing: w.bytes[0..<Ext4.inodeSize]))
        w.le16(UInt16(truncatingIfNeeded: csum), at: 124)
        w.le16(UInt16(truncatingIfNeeded: csum >> 16), at: 130)
    }
}
