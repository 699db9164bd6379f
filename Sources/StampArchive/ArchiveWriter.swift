import CArchive

/// The one owner of a libarchive write handle (`struct archive *`) writing a tar archive to a
/// file descriptor.
///
/// ```
/// let writer = try ArchiveWriter(path: out, descriptor: fd, format: .paxRestricted)
/// let entry = try ArchiveEntry()
/// for each member {
///     entry.clear(); entry.setPath(…); entry.setMode(…); …
///     try writer.writeHeader(entry)          // ustar header (+ pax header when needed)
///     try writer.writeData(chunk, entryName:) // as many chunks as the size set
/// }
/// try writer.finish()                         // two zero blocks, flush, free
/// ```
///
/// Every return code passes through ``check(_:_:)``, which attaches libarchive's own message
/// (`archive_error_string`); errors are ``ArchiveError``s naming ``path``. ``finish()``
/// writes the end of the archive and frees the handle, reporting errors; ``abandon()`` and
/// `deinit` only free (for the error paths, where the file is discarded).
public final class ArchiveWriter {
    /// The tar dialect.
    public enum Format: Sendable {
        /// ustar headers, plus a pax extended header only for entries that need one (long
        /// names, xattrs, ACLs, big or negative values); those also carry the mtime's ns.
        case paxRestricted
        /// A pax extended header for every entry whose mtime has a fractional part.
        case pax
    }

    /// The path reported in errors.
    public let path: String
    private var handle: OpaquePointer?

    /// Opens a writer on `descriptor` (which stays owned by the caller, and must stay open
    /// until ``finish()`` or ``abandon()``).
    /// - Parameters:
    ///   - blockSize: libarchive's write size; the last block is not padded.
    ///   - gzip: compress the stream with gzip at level 9 (`gzip -9`, what DIB's `tgz` runs),
    ///     with no timestamp or name in the gzip header, so equal trees give equal files.
    public init(path: String, descriptor: Int32, format: Format, blockSize: Int32 = 1 << 20, gzip: Bool = false) throws {
        self.path = path
        guard let handle = archive_write_new() else {
            throw ArchiveError.outOfMemory(path: path, operation: "archive_write_new")
        }
        self.handle = handle
        switch format {
        case .paxRestricted: try check(archive_write_set_format_pax_restricted(handle), "set format")
        case .pax: try check(archive_write_set_format_pax(handle), "set format")
        }
        // Extended attributes as `SCHILY.xattr.*` only: what GNU tar, star and libarchive all
        // read. The default adds `LIBARCHIVE.xattr.*` copies that GNU tar warns about.
        try check(archive_write_set_format_option(handle, "pax", "xattrheader", "SCHILY"), "set xattr header option")
        if gzip {
            try check(archive_write_add_filter_gzip(handle), "add gzip filter")
            try check(archive_write_set_filter_option(handle, "gzip", "compression-level", "9"), "set gzip level")
            try check(archive_write_set_filter_option(handle, "gzip", "timestamp", nil), "drop the gzip timestamp")
        }
        try check(archive_write_set_bytes_per_block(handle, blockSize), "set block size")
        try check(archive_write_set_bytes_in_last_block(handle, 1), "set last block size")
        try check(archive_write_open_fd(handle, descriptor), "open")
    }

    deinit { abandon() }

    /// Frees the handle without writing anything more (the error path: the output file is
    /// being discarded). `archive_write_fail` stops `archive_write_free` from flushing.
    public func abandon() {
        guard let handle else { return }
        self.handle = nil
        archive_write_fail(handle)
        archive_write_free(handle)
    }

    /// Writes `entry`'s header (and pax extended header when needed).
    public func writeHeader(_ entry: ArchiveEntry) throws {
        let handle = try live("write header of \(entry.displayName)")
        try check(archive_write_header(handle, entry.pointer), "write header of \(entry.displayName)")
    }

    /// Writes all of `data` as (the next part of) the current entry's contents.
    /// - Parameter entryName: how messages name the entry.
    public func writeData(_ data: UnsafeRawBufferPointer, entryName: @autoclosure () -> String) throws {
        guard let base = data.baseAddress, data.count > 0 else { return }
        let written = archive_write_data(try live("write data of \(entryName())"), base, data.count)
        if written < 0 { try check(Int32(clamping: written), "write data of \(entryName())") }
        if written != data.count {
            throw ArchiveError.shortWrite(
                path: path, operation: "write data of \(entryName())", written: written, expected: data.count)
        }
    }

    /// Writes the end-of-archive blocks, flushes, and frees the handle.
    public func finish() throws {
        guard let handle else { return }
        self.handle = nil
        defer { archive_write_free(handle) }
        try checkLibarchive(archive_write_close(handle), handle, path: path, operation: "close")
    }

    private func live(_ operation: @autoclosure () -> String) throws(ArchiveError) -> OpaquePointer {
        guard let handle else { throw .closed(path: path, operation: operation()) }
        return handle
    }

    /// Throws for `ARCHIVE_FAILED`/`ARCHIVE_FATAL`, with libarchive's message.
    private func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(ArchiveError) {
        try checkLibarchive(code, handle, path: path, operation: operation())
    }
}
