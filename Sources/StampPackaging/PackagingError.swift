import StampArchive

/// A packaging failure (OVA, manifest, checksum files, tarball), with the path at fault.
///
/// System-call failures are reported as `StampIO.IOError`; this enum covers what is specific
/// to packaging. Messages are one line, lower-case, without a trailing period.
public enum PackagingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tar member name cannot be stored in a ustar header (too long, not plain ASCII, a slash).
    case invalidMemberName(name: String, reason: String)
    /// A file changed size while it was being copied into an archive.
    case sizeChanged(path: String, expected: UInt64, actual: UInt64)
    /// libarchive reported an error (a ``StampArchive/ArchiveError``, same text); `message` is
    /// usually libarchive's own.
    case archive(path: String, operation: String, message: String)
    /// A tree entry that a tarball cannot hold (a socket).
    case unsupportedEntry(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidMemberName(let name, let reason):
            return "\(name): cannot be a tar member name: \(reason)"
        case .sizeChanged(let path, let expected, let actual):
            return "\(path): size changed while archiving (expected \(expected) bytes, found \(actual))"
        case .archive(let path, let operation, let message):
            return "\(path): \(operation): \(message)"
        case .unsupportedEntry(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}

extension PackagingError {
    /// `error` as ``archive(path:operation:message:)``, with the same text.
    init(_ error: ArchiveError) {
        self = .archive(path: error.path, operation: error.operation, message: error.message)
    }

    /// Runs `body`, rethrowing StampArchive's errors as ``archive(path:operation:message:)``
    /// (callers of this module catch `PackagingError` and `IOError` only).
    static func rethrowingArchiveErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ArchiveError { throw PackagingError(error) }
    }
}
