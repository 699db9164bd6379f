import StampBytes
import StampTree

/// How to build an ext4 filesystem. Defaults match Debian bookworm's `mke2fs -t ext4`
/// except the journal, which defaults to DIB's 64 MiB (smaller on small filesystems).
public struct Ext4Options: Sendable {
    /// How large the filesystem is.
    public enum Size: Sendable, Equatable {
        /// Fit the tree with DIB's headroom: used space ÷ 0.6, plus the journal.
        case auto
        /// Exactly this many bytes (rounded down to whole 4 KiB blocks).
        case bytes(UInt64)
    }

    public var size: Size = .auto
    /// Volume label (`s_volume_name`, at most 16 bytes).
    public var label: String = ""
    /// Filesystem UUID; random when nil.
    public var uuid: Identifier?
    /// Directory hash seed; derived from the UUID when a UUID is given, else random.
    public var hashSeed: Identifier?
    /// Bytes per inode (`mke2fs -i`).
    public var inodeRatio: UInt64 = 16384
    /// At least this many inodes, whatever the ratio gives at an explicit size: a size that
    /// an automatic fit chose (a partition sized from the tree) must hold the tree's inodes
    /// too, or `stamp pack` would refuse a tree of many small files that `stamp mkfs` takes.
    public var minimumInodes: UInt64 = 0
    /// Journal size in MiB; nil picks 64 MiB, or mke2fs's smaller default on small filesystems.
    public var journalMiB: UInt64?
    /// Percentage of blocks reserved for root (`mke2fs -m`).
    public var reservedPercent: UInt64 = 5
    /// The block count online growth may reach (`mke2fs -E resize=`), which sizes the reserved
    /// GDT blocks; it must exceed the filesystem's. Nil: mke2fs's default, 1024 times the size.
    public var resizeLimitBlocks: UInt64?
    /// SOURCE_DATE_EPOCH: clamps every timestamp and sets the filesystem's own times.
    public var sourceDateEpoch: Int64?
    /// Extra free space in bytes added to an automatic size (DIB's `DIB_IMAGE_EXTRA_SIZE`),
    /// replacing the ÷ 0.6 headroom when set.
    public var extraBytes: UInt64?

    public init() {}
}
