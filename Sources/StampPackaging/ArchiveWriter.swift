import CArchive

/// The one owner of a libarchive write handle (`struct archive *`).
///
/// Every return code passes through ``check(_:_:)``, which attaches libarchive's own message
/// (`archive_error_string`). ``finish()`` writes the end of the archive and frees the handle,
/// reporting errors; `deinit` only frees (for the error paths, where the file is discarded).
/// Nothing outside this file sees an `OpaquePointer`.
final class ArchiveWriter {
    /// The tar dialect.
    enum Format {
        /// ustar headers, plus a pax extended header only for entries that need one (long
        /// names, xattrs, ACLs, big or negative values); those also carry the mtime's ns.
        case paxRestricted
        /// A pax extended header for every entry whose mtime has a fractional part.
        case pax
    }

    /// The path reported in errors.
    let path: String
    private var handle: OpaquePointer?

    /// Opens a writer on `descriptor` (which stays owned by the caller).
    /// - Parameter blockSize: libarchive's write size; the last block is not padded.
    init(path: String, descriptor: Int32, format: Format, blockSize: Int32 = 1 << 20) throws {
        self.path = path
        guard let handle = archive_write_new() else {
            throw PackagingError.archive(path: path, operation: "archive_write_new", message: "out of memory")
        }
        self.handle = handle
        switch format {
        case .paxRestricted: try check(archive_write_set_format_pax_restricted(handle), "set format")
        case .pax: try check(archive_write_set_format_pax(handle), "set format")
        }
        // Extended attributes as `SCHILY.xattr.*` only: what GNU tar, star and libarchive all
        // read. The default adds `LIBARCHIVE.xattr.*` copies that GNU tar warns about.
        try check(archive_write_set_format_option(handle, "pax", "xattrheader", "SCHILY"), "set xattr header option")
        try check(archive_write_set_bytes_per_block(handle, blockSize), "set block size")
        try check(archive_write_set_bytes_in_last_block(handle, 1), "set last block size")
        try check(archive_write_open_fd(handle, descriptor), "open")
    }

    deinit { abandon() }

    /// Frees the handle without writing anything more (the error path: the output file is
    /// being discarded). `archive_write_fail` stops `archive_write_free` from flushing.
    func abandon() {
        guard let handle else { return }
        self.handle = nil
        archive_write_fail(handle)
        archive_write_free(handle)
    }

    /// Writes `entry`'s header (and pax extended header when needed).
    func writeHeader(_ entry: ArchiveEntry) throws {
        try check(archive_write_header(try live(), entry.pointer), "write header of \(entry.displayName)")
    }

    /// Writes all of `data` as the current entry's contents.
    func writeData(_ data: UnsafeRawBufferPointer, entryName: @autoclosure () -> String) throws {
        guard let base = data.baseAddress, data.count > 0 else { return }
        let written = archive_write_data(try live(), base, data.count)
        if written < 0 { try check(Int32(written), "write data of \(entryName())") }
        if written != data.count {
            throw PackagingError.archive(
                path: path, operation: "write data of \(entryName())",
                message: "wrote \(written) of \(data.count) bytes")
        }
    }

    /// Writes the end-of-archive blocks, flushes, and frees the handle.
    func finish() throws {
        guard let handle else { return }
        self.handle = nil
        let closed = archive_write_close(handle)
        let message = closed < ARCHIVE_WARN ? Self.message(of: handle) : ""
        archive_write_free(handle)
        if closed < ARCHIVE_WARN {
            throw PackagingError.archive(path: path, operation: "close", message: message)
        }
    }

    /// Throws for `ARCHIVE_FAILED`/`ARCHIVE_FATAL`; `ARCHIVE_WARN` (e.g. a name stored as
    /// binary because it is not UTF-8) is not an error.
    private func check(_ code: Int32, _ operation: String) throws {
        guard code < ARCHIVE_WARN else { return }
        throw PackagingError.archive(path: path, operation: operation, message: handle.map(Self.message) ?? "")
    }

    private func live() throws -> OpaquePointer {
        guard let handle else {
            throw PackagingError.archive(path: path, operation: "write", message: "archive already finished")
        }
        return handle
    }

    private static func message(of handle: OpaquePointer) -> String {
        guard let text = archive_error_string(handle) else { return "unknown libarchive error" }
        let message = String(cString: text)
        return message.prefix(1).lowercased() + message.dropFirst()
    }
}

/// The one owner of a libarchive `struct archive_entry *`, reused (cleared) for each entry.
final class ArchiveEntry {
    fileprivate let pointer: OpaquePointer
    /// The entry's path for error messages.
    private(set) var displayName = ""

    init() throws {
        guard let pointer = archive_entry_new() else {
            throw PackagingError.archive(path: "", operation: "archive_entry_new", message: "out of memory")
        }
        self.pointer = pointer
    }

    deinit { archive_entry_free(pointer) }

    /// Forgets everything set for the previous entry.
    func clear() {
        archive_entry_clear(pointer)
        displayName = ""
    }

    /// Sets the member name (raw bytes): as UTF-8 when it is, else as opaque bytes (pax then
    /// marks it `hdrcharset=BINARY`).
    func setPath(_ bytes: [UInt8]) {
        displayName = String(decoding: bytes, as: UTF8.self)
        Self.withCString(bytes) { text, isUTF8 in
            if isUTF8 { archive_entry_set_pathname_utf8(pointer, text) } else { archive_entry_copy_pathname(pointer, text) }
        }
    }

    /// Makes the entry a hard link to the earlier member `target`.
    func setHardLink(_ target: [UInt8]) {
        Self.withCString(target) { text, isUTF8 in
            if isUTF8 { archive_entry_set_hardlink_utf8(pointer, text) } else { archive_entry_copy_hardlink(pointer, text) }
        }
    }

    /// Sets a symbolic link's target.
    func setSymlink(_ target: [UInt8]) {
        Self.withCString(target) { text, isUTF8 in
            if isUTF8 { archive_entry_set_symlink_utf8(pointer, text) } else { archive_entry_copy_symlink(pointer, text) }
        }
    }

    /// Sets the full `st_mode` (type and permission bits).
    func setMode(_ mode: UInt32) { archive_entry_set_mode(pointer, mode_t(mode)) }
    func setOwner(uid: UInt32, gid: UInt32) {
        archive_entry_set_uid(pointer, la_int64_t(uid))
        archive_entry_set_gid(pointer, la_int64_t(gid))
    }
    func setSize(_ size: UInt64) { archive_entry_set_size(pointer, la_int64_t(size)) }
    func setModificationTime(seconds: Int64, nanoseconds: UInt32) {
        archive_entry_set_mtime(pointer, time_t(seconds), Int(nanoseconds))
    }
    func setDevice(major: UInt32, minor: UInt32) {
        archive_entry_set_rdevmajor(pointer, dev_t(major))
        archive_entry_set_rdevminor(pointer, dev_t(minor))
    }

    /// Adds an extended attribute (stored as `SCHILY.xattr.NAME` and `LIBARCHIVE.xattr.NAME`).
    func addExtendedAttribute(name: [UInt8], value: [UInt8]) {
        Self.withCString(name) { text, _ in
            value.withUnsafeBytes { raw in
                archive_entry_xattr_add_entry(pointer, text, raw.baseAddress, raw.count)
            }
        }
    }

    /// Adds one POSIX.1e ACL entry (stored as `SCHILY.acl.access` / `SCHILY.acl.default` text).
    /// - Parameters:
    ///   - isDefault: a directory's default ACL rather than the access ACL.
    ///   - tag: one of libarchive's `ARCHIVE_ENTRY_ACL_USER_OBJ` … `ARCHIVE_ENTRY_ACL_OTHER`.
    ///   - permissions: read 4, write 2, execute 1 (the same bits in Linux and libarchive).
    ///   - qualifier: the uid or gid for named user/group entries, else -1.
    func addACL(isDefault: Bool, tag: Int32, permissions: Int32, qualifier: Int32) throws {
        let type = isDefault ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT : ARCHIVE_ENTRY_ACL_TYPE_ACCESS
        let code = archive_entry_acl_add_entry(pointer, type, permissions, tag, qualifier, nil)
        if code != ARCHIVE_OK {
            throw PackagingError.archive(path: displayName, operation: "add acl entry", message: "invalid acl entry")
        }
    }

    /// Calls `body` with a NUL-terminated copy of `bytes` and whether they are valid UTF-8.
    private static func withCString(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>, Bool) -> Void) {
        let isUTF8 = String(validating: bytes, as: UTF8.self) != nil
        // A name with an embedded NUL cannot exist on Linux; libarchive would see the prefix.
        let terminated = bytes.map { CChar(bitPattern: $0) } + [0]
        terminated.withUnsafeBufferPointer { chars in
            if let base = chars.baseAddress { body(base, isUTF8) }
        }
    }
}
