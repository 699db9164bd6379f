/// A native, streaming ext4 writer.
///
/// `Ext4Image` turns a scanned ``RootTree`` into an ext4 filesystem in two steps: plan the
/// whole layout in memory (inode numbers, every block's owner, directory indexes, extent
/// trees, checksums' inputs), then emit the image once, in strictly ascending block order,
/// into any ``ImageSink``. Nothing is ever written twice or read back, so the same emitter
/// feeds a raw file, a qcow2/VMDK stream, or a partition inside a disk.
///
/// Layout of the filesystem stamp writes (4 KiB blocks, 32768 blocks = 128 MiB per group,
/// 16 groups per flex group, `sparse_super` backups in groups 0, 1 and powers of 3, 5, 7):
///
/// ```
///  group 0                                                   group 1          group 2
/// ┌──┬─────┬──────────┬───────┬───────┬────────────┬────────┬──┬────┬────────┬──────────
/// │SB│ GDT │ reserved │ block │ inode │ inode      │ data … │SB│GDT+│ data … │ data …
/// │  │     │ GDT      │bitmaps│bitmaps│ tables     │        │bk│rsv │        │
/// └──┴─────┴──────────┴───────┴───────┴────────────┴────────┴──┴────┴────────┴──────────
///  0   1..   (growth)   ×16     ×16    ×16 groups    resize dind, journal, directories,
///                       (one flex group's worth)     files, extent-tree and xattr blocks
/// ```
///
/// Groups 16, 32, … start a new flex group and carry its bitmaps and inode tables. Unused
/// inode-table blocks and the journal body are zero and are never emitted (holes).
///
/// The feature set is Debian bookworm's: `has_journal ext_attr resize_inode dir_index
/// filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize
/// metadata_csum`, and never anything GRUB 2.06 cannot read.
public enum Ext4 {
    /// Block size in bytes. stamp always writes 4 KiB blocks.
    public static let blockSize = 4096
    static let blockShift: UInt64 = 12
    /// Blocks (and inodes at most) per block group.
    static let blocksPerGroup: UInt64 = 32768
    /// On-disk inode size.
    static let inodeSize = 256
    static let inodesPerBlock = blockSize / inodeSize
    /// Bytes of the inode beyond the 128-byte base that stamp uses (`i_extra_isize`).
    static let extraInodeSize = 32
    /// Group descriptor size with the `64bit` feature.
    static let descriptorSize = 64
    static let descriptorsPerBlock = blockSize / descriptorSize
    /// Groups per flex group (`s_log_groups_per_flex` = 4).
    static let flexGroupSize: UInt64 = 16
    /// The longest initialized extent, in blocks.
    static let maxExtentLength: UInt64 = 32768
    /// Names one inode may have (`EXT4_LINK_MAX`); a directory with more subdirectories
    /// counts 1 ("many", `dir_nlink`).
    static let maxLinks: UInt32 = 65000
    /// The largest file: 2^32 - 1 logical blocks of 4 KiB (extent logical numbers are 32 bits).
    static let maxFileSize: UInt64 = UInt64(UInt32.max) << 12
    /// Extent entries in one 4 KiB tree block: (4096 - 12-byte header) / 12, less nothing:
    /// the 4-byte checksum tail fits in the remainder.
    static let extentsPerBlock = (blockSize - 12) / 12
    static let firstInode: UInt32 = 11

    enum InodeNumber {
        static let root: UInt32 = 2
        static let resize: UInt32 = 7
        static let journal: UInt32 = 8
        static let lostAndFound: UInt32 = 11
    }

    enum Feature {
        // s_feature_compat
        static let hasJournal: UInt32 = 0x4, extAttr: UInt32 = 0x8, resizeInode: UInt32 = 0x10, dirIndex: UInt32 = 0x20
        // s_feature_incompat
        static let filetype: UInt32 = 0x2, extents: UInt32 = 0x40, bit64: UInt32 = 0x80, flexBg: UInt32 = 0x200
        // s_feature_ro_compat
        static let sparseSuper: UInt32 = 0x1, largeFile: UInt32 = 0x2, hugeFile: UInt32 = 0x8, dirNlink: UInt32 = 0x20
        static let extraIsize: UInt32 = 0x40, metadataCsum: UInt32 = 0x400

        static let compat = hasJournal | extAttr | resizeInode | dirIndex
        static let incompat = filetype | extents | bit64 | flexBg
        static let roCompat = sparseSuper | largeFile | hugeFile | dirNlink | extraIsize | metadataCsum
    }

    enum InodeFlag {
        static let index: UInt32 = 0x1000
        static let extents: UInt32 = 0x80000
    }

    enum GroupFlag {
        static let inodeUninit: UInt16 = 0x1
        static let inodeTableZeroed: UInt16 = 0x4
    }

    /// `ext2_dir_entry_2.file_type` values.
    enum FileType {
        static let regular: UInt8 = 1, directory: UInt8 = 2, characterDevice: UInt8 = 3, blockDevice: UInt8 = 4
        static let fifo: UInt8 = 5, socket: UInt8 = 6, symlink: UInt8 = 7
    }
}
