import CArchive

/// The one owner of a libarchive disk writer (`archive_write_disk_new`): creates files,
/// directories, links and device nodes with owners, modes, ns times and xattrs, from members
/// an ``ArchiveReader`` hands it (``ArchiveReader/extract(to:member:)``).
///
/// Options: `ARCHIVE_EXTRACT_OWNER | PERM | TIME | XATTR | UNLINK | SECURE_NODOTDOT |
/// SECURE_SYMLINKS`. Paths it is given were checked by the caller; libarchive's own refusals of
/// `..` and of symlinks in the path stay on as a second guard.
///
/// libarchive defers a new directory's times and permissions until the writer closes, and
/// then applies them by path: callers that cannot trust the names on the way to stay
/// directories turn that off for directories (``setRestoresModesAndTimes(_:)``) and set them
/// through descriptors. ``close()`` applies whatever was deferred and reports errors; `deinit`
/// applies it too, silently, on error paths.
public final class DiskWriter {
    /// How messages name what is being written (e.g. `layer 2 sha256:…`).
    public let path: String
    private var handle: OpaquePointer?

    public init(path: String) throws {
        self.path = path
        guard let handle = archive_write_disk_new() else {
            throw ArchiveError.outOfMemory(path: path, operation: "archive_write_disk_new")
        }
        self.handle = handle
        try check(archive_write_disk_set_options(handle, Self.flags), "set options")
    }

    deinit {
        if let handle { archive_write_free(handle) }
    }

    /// Whether libarchive restores modes and times (`ARCHIVE_EXTRACT_PERM | TIME`) of the
    /// members that follow. Off for directories: libarchive would defer a new directory's
    /// mode and times to ``close()`` and apply them then by path, through whatever the names
    /// on the way have become by then (a later member can turn `a/` into `a -> /host/dir`);
    /// the caller sets them through descriptors instead.
    public func setRestoresModesAndTimes(_ on: Bool) throws {
        guard on != restoresModesAndTimes else { return }
        restoresModesAndTimes = on
        let flags = on ? Self.flags : Self.flags & ~(ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME)
        try check(archive_write_disk_set_options(try live("set options"), flags), "set options")
    }

    private var restoresModesAndTimes = true

    private static let flags =
        ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR
        | ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS

    /// Applies deferred directory times and permissions, reports any error, and frees the
    /// handle.
    public func close() throws {
        guard let handle else { return }
        self.handle = nil
        defer { archive_write_free(handle) }
        try checkLibarchive(archive_write_close(handle), handle, path: path, operation: "close")
    }

    /// The open handle, for ``ArchiveReader/extract(to:member:)``.
    func live(_ operation: @autoclosure () -> String) throws(ArchiveError) -> OpaquePointer {
        guard let handle else { throw .closed(path: path, operation: operation()) }
        return handle
    }

    /// Throws for `ARCHIVE_FAILED`/`ARCHIVE_FATAL`, with libarchive's message.
    func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(ArchiveError) {
        try checkLibarchive(code, handle, path: path, operation: operation())
    }
}
