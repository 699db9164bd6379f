import StampArchive

/// A failure reading a container image: a bad reference, a malformed or hostile manifest,
/// a blob that does not match its digest, a layer member that would escape the root.
///
/// Every case names the thing at fault (the reference, the blob's digest, the member's path
/// inside its layer) so that the one line the CLI prints is enough to find it. Messages are
/// lower-case, without a trailing period.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The image reference could not be parsed (`oci:DIR[:TAG]`, `docker-archive:FILE`,
    /// `docker://HOST[:PORT]/NAME[:TAG|@DIGEST]`).
    case invalidReference(String, reason: String)
    /// A JSON document (index, manifest, config) is malformed or lacks a required field.
    case malformed(what: String, reason: String)
    /// A descriptor's size is negative or larger than what is accepted for its kind.
    case sizeOutOfBounds(what: String, size: Int64, limit: Int64)
    /// A blob's content does not hash to the digest that names it.
    case digestMismatch(what: String, expected: String, actual: String)
    /// A blob is shorter or longer than its descriptor says (a truncated download or file).
    case sizeMismatch(what: String, expected: Int64, actual: Int64)
    /// A blob, tag or platform the image does not have.
    case notFound(what: String)
    /// A media type or digest algorithm this reader does not handle.
    case unsupported(what: String, reason: String)
    /// A layer member that would be written outside the root, or through a symlink.
    case hostileMember(layer: String, path: String, reason: String)
    /// libarchive's own message about a layer or archive (a ``StampArchive/ArchiveError``,
    /// same text).
    case archive(path: String, operation: String, message: String)
    /// A system call failed on `path`.
    case system(path: String, operation: String, message: String)
    /// The registry answered with an error (HTTP status and its message).
    case registry(url: String, status: Int, message: String)
    /// The registry (or its token service) wants credentials, or refused the ones given;
    /// `reason` names the user and where the credentials came from, never the password.
    case unauthorized(what: String, reason: String)
    /// A layer (or the image) would expand past the limit on expanded bytes
    /// (`--max-expanded`, ``ExpansionBudget``); `detail` says how.
    case expansionLimit(what: String, detail: String, limit: UInt64)

    public var description: String {
        switch self {
        case .invalidReference(let reference, let reason):
            return "\(reference): invalid image reference: \(reason)"
        case .malformed(let what, let reason):
            return "\(what): malformed: \(reason)"
        case .sizeOutOfBounds(let what, let size, let limit):
            return "\(what): declared size \(size) bytes is out of bounds (0...\(limit))"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what): digest mismatch: expected \(expected), content hashes to \(actual)"
        case .sizeMismatch(let what, let expected, let actual):
            return "\(what): size mismatch: descriptor says \(expected) bytes, blob has \(actual) (truncated or tampered)"
        case .notFound(let what):
            return "\(what): not found"
        case .unsupported(let what, let reason):
            return "\(what): unsupported: \(reason)"
        case .hostileMember(let layer, let path, let reason):
            return "\(layer): member '\(path)' refused: \(reason)"
        case .archive(let path, let operation, let message):
            return "\(path): \(operation): \(message)"
        case .system(let path, let operation, let message):
            return "\(path): \(operation): \(message)"
        case .registry(let url, let status, let message):
            return "\(url): registry answered HTTP \(status)\(message.isEmpty ? "" : ": " + message)"
        case .unauthorized(let what, let reason):
            return "\(what): \(reason)"
        case .expansionLimit(let what, let detail, let limit):
            return
                "\(what): \(detail) the limit of \(ExpansionBudget.display(limit)) on expanded image bytes (--max-expanded, STAMP_MAX_EXPANDED)"
        }
    }
}

extension OCIError {
    /// `error` as ``archive(path:operation:message:)``, with the same text.
    init(_ error: ArchiveError) {
        self = .archive(path: error.path, operation: error.operation, message: error.message)
    }

    /// Runs `body`, rethrowing StampArchive's errors as ``archive(path:operation:message:)``
    /// (callers of this module catch `OCIError` only).
    static func rethrowingArchiveErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ArchiveError { throw OCIError(error) }
    }
}
