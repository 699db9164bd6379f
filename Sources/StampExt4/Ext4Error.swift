/// Why an ext4 image could not be planned or written.
public enum Ext4Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tree does not fit; `needed` is the smallest size that would.
    case imageTooSmall(size: UInt64, needed: UInt64)
    /// More inodes are needed than `--inode-ratio` provides at this size.
    case tooManyInodes(needed: UInt64, available: UInt64, ratio: UInt64)
    /// A size no ext4 filesystem can have.
    case invalidSize(UInt64, reason: String)
    /// An inode's extended attributes do not fit in the inode plus one block.
    case xattrsTooLarge(path: String, bytes: Int)
    /// A name longer than 255 bytes.
    case nameTooLong(path: String)
    /// A file larger than ext4's 16 TiB limit at 4 KiB blocks.
    case fileTooLarge(path: String, size: UInt64)
    /// A label longer than 16 bytes.
    case labelTooLong(String)
    /// A file with more names than ext4's 65000 links.
    case tooManyLinks(path: String)
    /// A directory whose entries need more than a two-level hash index holds.
    case directoryTooLarge(path: String)

    public var description: String {
        switch self {
        case .imageTooSmall(let size, let needed):
            return
                "image size \(size) bytes is too small for this tree: at least \(needed) bytes (\((needed + (1 << 20) - 1) >> 20) MiB) needed"
        case .tooManyInodes(let needed, let available, let ratio):
            return "the tree needs \(needed) inodes but --inode-ratio \(ratio) gives only \(available) at this size"
        case .invalidSize(let size, let reason):
            return "invalid filesystem size \(size) bytes: \(reason)"
        case .xattrsTooLarge(let path, let bytes):
            return "\(path): extended attributes too large for ext4 (\(bytes) bytes; one 4 KiB block is the limit)"
        case .nameTooLong(let path):
            return "\(path): name longer than 255 bytes"
        case .fileTooLarge(let path, let size):
            return "\(path): file of \(size) bytes exceeds ext4's limit of \(Ext4.maxFileSize) bytes (16 TiB - 4 KiB)"
        case .labelTooLong(let label):
            return "label '\(label)' is longer than 16 bytes"
        case .tooManyLinks(let path):
            return "\(path): more than \(Ext4.maxLinks) hard links, ext4's limit for one file"
        case .directoryTooLarge(let path):
            return "\(path): directory has too many entries for ext4's two-level hash index"
        }
    }
}
