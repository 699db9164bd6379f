import CArchive

/// The one owner of a libarchive read handle (`struct archive *`) over a file, reading tar
/// (any compression libarchive detects: gzip, zstd, xz, none) or, with ``Format/raw``, the
/// decompressed bytes of a single stream.
///
/// Every return code passes through ``check(_:_:)``, which attaches libarchive's message.
/// ``close()`` frees the handle; `deinit` frees it on error paths. No `OpaquePointer`
/// leaves this file except to ``DiskWriter`` (also here), which shares the entry.
final class ArchiveReader {
    enum Format { case tar, raw }

    /// The file being read, for messages.
    let path: String
    private var handle: OpaquePointer?
    private let entry: OpaquePointer

    init(path: String, format: Format = .tar) throws {
        self.path = path
        guard let handle = archive_read_new(), let entry = archive_entry_new() else {
            throw OCIError.archive(path: path, operation: "archive_read_new", message: "out of memory")
        }
        self.handle = handle
        self.entry = entry
        try check(archive_read_support_filter_all(handle), "enable filters")
        switch format {
        case .tar: try check(archive_read_support_format_tar(handle), "enable tar")
        case .raw: try check(archive_read_support_format_raw(handle), "enable raw")
        }
        try check(archive_read_open_filename(handle, path, 1 << 20), "open")
    }

    deinit {
        if let handle { archive_read_free(handle) }
        archive_entry_free(entry)
    }

    /// Frees the handle.
    func close() {
        guard let handle else { return }
        self.handle = nil
        archive_read_free(handle)
    }

    /// Moves to the next member; false at the end of the archive.
    func next() throws -> ArchiveMember? {
        let code = archive_read_next_header2(try live(), entry)
        if code == ARCHIVE_EOF { return nil }
        try check(code, "read header")
        return ArchiveMember(pointer: entry)
    }

    /// Reads the current member's data in chunks.
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let handle = try live()
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let code = archive_read_data_block(handle, &buffer, &size, &offset)
            if code == ARCHIVE_EOF { return }
            try check(code, "read data")
            if let buffer, size > 0 { try body(UnsafeRawBufferPointer(start: buffer, count: size)) }
        }
    }

    /// Hands the current member to a disk writer.
    func extract(to writer: DiskWriter, member: String) throws {
        let handle = try live()
        let header = archive_write_header(writer.handle, entry)
        if header < ARCHIVE_WARN { throw writer.failure("write \(member)") }
        if archive_entry_size(entry) > 0 {
            var buffer: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            while true {
                let code = archive_read_data_block(handle, &buffer, &size, &offset)
                if code == ARCHIVE_EOF { break }
                try check(code, "read data of \(member)")
                if archive_write_data_block(writer.handle, buffer, size, offset) < ARCHIVE_WARN {
                    throw writer.failure("write data of \(member)")
                }
            }
        }
        if archive_write_finish_entry(writer.handle) < ARCHIVE_WARN { throw writer.failure("finish \(member)") }
    }

    private func live() throws -> OpaquePointer {
        guard let handle else { throw OCIError.archive(path: path, operation: "read", message: "archive already closed") }
        return handle
    }

    /// Throws for `ARCHIVE_FAILED`/`ARCHIVE_FATAL`, with libarchive's message.
    private func check(_ code: Int32, _ operation: String) throws {
        guard code < ARCHIVE_WARN else { return }
        throw OCIError.archive(path: path, operation: operation, message: handle.map(libarchiveMessage) ?? "")
    }
}

/// A view of the current header of an ``ArchiveReader``; valid until the next `next()`.
/// Setters change what a ``DiskWriter`` will create.
struct ArchiveMember {
    fileprivate let pointer: OpaquePointer

    /// The member name as stored (raw bytes).
    var path: [UInt8] { Self.bytes(archive_entry_pathname(pointer)) }
    /// The hard-link target, if the member is a hard link.
    var hardLink: [UInt8]? { archive_entry_hardlink(pointer).map { Self.bytes($0) } }
    var symlinkTarget: [UInt8]? { archive_entry_symlink(pointer).map { Self.bytes($0) } }
    var mode: UInt32 { UInt32(archive_entry_mode(pointer)) }
    var fileType: UInt32 { UInt32(archive_entry_filetype(pointer)) }
    var size: Int64 { Int64(archive_entry_size(pointer)) }
    var isDirectory: Bool { fileType == 0o040000 }
    var isRegular: Bool { fileType == 0o100000 }

    func setPath(bytes: [UInt8]) { withCPath(bytes) { archive_entry_copy_pathname(pointer, $0) } }
    func setHardLink(bytes: [UInt8]) { withCPath(bytes) { archive_entry_copy_hardlink(pointer, $0) } }

    /// Gives the member an atime equal to its mtime when the tar has none (as umoci does;
    /// libarchive would otherwise use the time of extraction).
    func defaultAccessTimeToModificationTime() {
        if archive_entry_atime_is_set(pointer) == 0, archive_entry_mtime_is_set(pointer) != 0 {
            archive_entry_set_atime(pointer, archive_entry_mtime(pointer), archive_entry_mtime_nsec(pointer))
        }
    }

    /// The member's access and modification times (atime defaults to mtime, as above).
    var times: (access: timespec, modification: timespec) {
        let mtime = timespec(tv_sec: archive_entry_mtime(pointer), tv_nsec: archive_entry_mtime_nsec(pointer))
        guard archive_entry_atime_is_set(pointer) != 0 else { return (mtime, mtime) }
        return (timespec(tv_sec: archive_entry_atime(pointer), tv_nsec: archive_entry_atime_nsec(pointer)), mtime)
    }

    private static func bytes(_ text: UnsafePointer<CChar>?) -> [UInt8] {
        guard let text else { return [] }
        return Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
    }
}

/// The one owner of a libarchive disk writer (`archive_write_disk_new`): creates files,
/// directories, links and device nodes with owners, modes, ns times and xattrs. Paths it is
/// given were checked by the caller; libarchive's own refusals of `..` and of symlinks in the
/// path stay on as a second guard.
final class DiskWriter {
    fileprivate let handle: OpaquePointer
    let path: String

    init(path: String) throws {
        self.path = path
        guard let handle = archive_write_disk_new() else {
            throw OCIError.archive(path: path, operation: "archive_write_disk_new", message: "out of memory")
        }
        self.handle = handle
        let flags =
            ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR
            | ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
        if archive_write_disk_set_options(handle, flags) < ARCHIVE_WARN { throw failure("set options") }
    }

    deinit { archive_write_free(handle) }

    /// Applies deferred directory times and permissions (libarchive sets them last, after
    /// the directory's children exist) and reports any error.
    func close() throws {
        if archive_write_close(handle) < ARCHIVE_WARN { throw failure("close") }
    }

    /// libarchive's current error about `operation`.
    fileprivate func failure(_ operation: String) -> OCIError {
        OCIError.archive(path: path, operation: operation, message: libarchiveMessage(handle))
    }
}

private func libarchiveMessage(_ handle: OpaquePointer) -> String {
    guard let text = archive_error_string(handle) else { return "unknown libarchive error" }
    let message = String(cString: text)
    return message.prefix(1).lowercased() + message.dropFirst()
}

#if canImport(Glibc)
import Glibc
#endif
