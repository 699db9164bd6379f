import CArchive

/// A libarchive failure: the archive (or, for a ``DiskWriter``, what is being extracted), the
/// operation, and what went wrong, usually in libarchive's own words.
///
/// ``description`` is the one line a user reads, `PATH: OPERATION: MESSAGE`, lower-case and
/// without a trailing period:
///
/// ```
/// cut.tar: read data: truncated tar archive
/// out.tar: write header of ./etc/passwd: <libarchive's text>
/// ```
///
/// Modules above this one rethrow it as their own error from ``path``, ``operation`` and
/// ``message``, so that the line does not change with the module that reports it.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libarchive returned `ARCHIVE_FAILED` or `ARCHIVE_FATAL`; `message` is its
    /// `archive_error_string`, first letter lower-cased.
    case library(path: String, operation: String, message: String)
    /// libarchive could not allocate a handle (`archive_read_new` and the like returned NULL).
    case outOfMemory(path: String, operation: String)
    /// A handle was used after its `close()` or `finish()`.
    case closed(path: String, operation: String)
    /// `archive_write_data` took fewer bytes than it was given.
    case shortWrite(path: String, operation: String, written: Int, expected: Int)
    /// libarchive refused an ACL entry (`archive_entry_acl_add_entry`).
    case invalidACLEntry(path: String)
    /// The ``ArchiveByteSource`` feeding a reader failed (a read, a decompression).
    case source(path: String, operation: String, message: String)

    /// The archive, or the entry or layer being written, that the error is about.
    public var path: String {
        switch self {
        case .library(let path, _, _), .source(let path, _, _), .outOfMemory(let path, _), .closed(let path, _),
            .shortWrite(let path, _, _, _), .invalidACLEntry(let path):
            return path
        }
    }

    /// What was being done (`open`, `read header`, `write data of NAME`, …).
    public var operation: String {
        switch self {
        case .library(_, let operation, _), .source(_, let operation, _), .outOfMemory(_, let operation),
            .closed(_, let operation),
            .shortWrite(_, let operation, _, _):
            return operation
        case .invalidACLEntry:
            return "add acl entry"
        }
    }

    /// What went wrong, without the path and operation.
    public var message: String {
        switch self {
        case .library(_, _, let message), .source(_, _, let message): return message
        case .outOfMemory: return "out of memory"
        case .closed: return "archive already closed"
        case .shortWrite(_, _, let written, let expected): return "wrote \(written) of \(expected) bytes"
        case .invalidACLEntry: return "invalid acl entry"
        }
    }

    public var description: String { "\(path): \(operation): \(message)" }
}

/// The check every libarchive return code in this module passes through.
///
/// `ARCHIVE_OK`, `ARCHIVE_EOF`, `ARCHIVE_RETRY` and `ARCHIVE_WARN` (e.g. a name stored as
/// binary because it is not UTF-8, or an xattr the file system refused) pass; `ARCHIVE_FAILED`
/// and `ARCHIVE_FATAL` throw ``ArchiveError/library(path:operation:message:)`` with
/// libarchive's message about `handle`, read before the caller frees it.
func checkLibarchive(
    _ code: Int32, _ handle: OpaquePointer?, path: String, operation: @autoclosure () -> String
) throws(ArchiveError) {
    guard code < ARCHIVE_WARN else { return }
    throw .library(path: path, operation: operation(), message: libarchiveMessage(handle))
}

/// libarchive's text for the last error on `handle`, first letter lower-cased (its messages
/// are sentences; ours are not).
private func libarchiveMessage(_ handle: OpaquePointer?) -> String {
    guard let handle, let text = archive_error_string(handle) else { return "unknown libarchive error" }
    let message = String(cString: text)
    return message.prefix(1).lowercased() + message.dropFirst()
}

/// Calls `body` with a NUL-terminated copy of `bytes`, for libarchive's `char *` names.
///
/// A name with an embedded NUL cannot exist on Linux; libarchive would see the prefix.
func withNULTerminated<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    let terminated = bytes.map { CChar(bitPattern: $0) } + [0]
    return terminated.withUnsafeBufferPointer { chars in
        // A non-empty array always has storage.
        body(chars.baseAddress.unsafelyUnwrapped)
    }
}
