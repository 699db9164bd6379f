/// A problem with a container image being read or written.
///
/// Every case names the file and, for readers, the byte offset at fault, so that
/// `stamp convert` can say exactly where an untrusted image is malformed. Messages are one
/// lower-case line. I/O failures of the system calls themselves arrive as `IOError`.
public enum ContainerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file ends before a structure that must be there.
    case truncated(path: String, offset: UInt64, needed: UInt64, fileSize: UInt64)
    /// The magic number or cookie is not the format's.
    case badMagic(path: String, offset: UInt64, format: String)
    /// A table entry (grain table, L2, BAT, …) at `offset` points at `target`, past the end.
    case pointerPastEnd(path: String, offset: UInt64, target: UInt64, fileSize: UInt64)
    /// Compressed data at `offset` does not decompress to what the format requires.
    case badCompressedData(path: String, offset: UInt64, reason: String)
    /// A size field holds a value no sane image has (or one we refuse to allocate for).
    case absurdSize(path: String, offset: UInt64, field: String, value: UInt64)
    /// Any other structural inconsistency (reason says which).
    case malformed(path: String, offset: UInt64, reason: String)
    /// A valid image using a feature stamp does not read (backing files, encryption, …).
    case unsupported(path: String, feature: String)
    /// A writer was given bytes past the virtual size, or finished at another size.
    case sizeMismatch(path: String, expected: UInt64, actual: UInt64)
    /// The output would exceed what the format can address.
    case tooLarge(path: String, reason: String)
    /// A writer option is invalid.
    case invalidOption(String)

    public var description: String {
        switch self {
        case .truncated(let path, let offset, let needed, let fileSize):
            return "\(path): truncated: needs \(needed) bytes at offset \(offset) but the file has \(fileSize)"
        case .badMagic(let path, let offset, let format):
            return "\(path): not a \(format) image (bad magic at offset \(offset))"
        case .pointerPastEnd(let path, let offset, let target, let fileSize):
            return "\(path): table entry at offset \(offset) points to \(target), past the end of the file (\(fileSize) bytes)"
        case .badCompressedData(let path, let offset, let reason):
            return "\(path): bad compressed data at offset \(offset): \(reason)"
        case .absurdSize(let path, let offset, let field, let value):
            return "\(path): absurd \(field) \(value) at offset \(offset)"
        case .malformed(let path, let offset, let reason):
            return "\(path): malformed image at offset \(offset): \(reason)"
        case .unsupported(let path, let feature):
            return "\(path): unsupported: \(feature)"
        case .sizeMismatch(let path, let expected, let actual):
            return "\(path): image size \(actual) does not match the declared virtual size \(expected)"
        case .tooLarge(let path, let reason):
            return "\(path): image too large: \(reason)"
        case .invalidOption(let message):
            return "invalid container option: \(message)"
        }
    }
}

/// Limits applied to untrusted images before allocating or looping.
public enum ReaderLimits {
    /// The largest virtual disk any reader accepts: 64 TiB.
    public static let maximumVirtualSize: UInt64 = 64 << 40
    /// The most memory one table (GD, L1, BAT) may need: 1 GiB.
    public static let maximumTableBytes: UInt64 = 1 << 30
}
