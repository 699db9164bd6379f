import StampTree

/// One extent: `length` blocks of the file starting at logical block `logical`, stored at
/// physical block `physical`.
struct Extent {
    var logical: UInt32
    var length: UInt32
    var physical: UInt64
}

/// Everything the emitter needs to know about one inode.
struct InodePlan {
    enum Role: UInt8 { case unused, tree, resize, journal, lostAndFound }

    var role: Role = .unused
    /// The tree entry (first name) for `.tree` inodes.
    var entry: Int32 = -1
    var linkCount: UInt32 = 0
    var size: UInt64 = 0
    /// Data extents in logical order (files, directories, slow symlinks, journal).
    var extents: [Extent] = []
    /// Extent-tree blocks, leaves first, then each index level (empty when the extents fit
    /// in the inode).
    var treeBlocks: [UInt64] = []
    /// Extent-tree depth (0: extents in the inode).
    var depth: UInt16 = 0
    /// Physical block of the xattr block, 0 if none.
    var xattrBlock: UInt64 = 0
    /// Index into the plan's shared xattr blocks, -1 if none.
    var xattrBlockIndex: Int32 = -1
    /// Blocks charged to the inode (data, tree, xattr block).
    var blockCount: UInt64 = 0
    var flags: UInt32 = 0
}

/// A run of consecutive blocks with one owner, in the order they were allocated (which is
/// ascending block order).
struct Piece {
    enum Kind: UInt8 {
        /// File data: logical blocks `logical..<logical+count` of inode `inode`.
        case fileData
        /// Directory blocks `logical..<logical+count` of inode `inode`.
        case directory
        /// Extent-tree blocks `logical..<logical+count` (indexes into `treeBlocks`).
        case extentTree
        /// The shared xattr block number `logical` of the plan.
        case xattrBlock
        /// The one block of a slow symlink.
        case symlink
        /// The journal (only its first block is not zero).
        case journal
        /// The resize inode's double-indirect block.
        case resizeIndirect
    }

    var kind: Kind
    var inode: UInt32
    var logical: UInt32
    var count: UInt32
    var start: UInt64
}

/// A shared xattr block: its contents (without refcount/checksum) and how many inodes use it.
struct SharedXattrBlock {
    var bytes: [UInt8]
    var block: UInt64
    var refcount: UInt32
}
