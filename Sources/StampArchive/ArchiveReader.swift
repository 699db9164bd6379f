import CArchive

#if canImport(Glibc)
    import Glibc
#endif

/// The one owner of a libarchive read handle (`struct archive *`) over a file, reading tar
/// (any compression libarchive detects: gzip, zstd, xz, none) or, with ``Format/raw``, the
/// decompressed bytes of a single stream.
///
/// Every return code passes through ``check(_:_:)``, which attaches libarchive's message.
/// ``close()`` frees the handle; `deinit` frees it on error paths. No `OpaquePointer`
/// leaves this module. Each way of opening is a convenience init that hands its
/// `archive_read_open*` call to the one designated init (the module's overview has an example).
public final class ArchiveReader {
    /// `.tar`: a tar archive; `.raw`: one member, the whole decompressed stream.
    public enum Format: Sendable { case tar, raw }

    /// The file being read, for messages.
    public let path: String
    private var handle: OpaquePointer?
    private let entry: ArchiveEntry

    /// What feeds an ``init(name:source:)`` reader; kept alive with the handle, which holds
    /// an unretained pointer to it.
    private let feed: SourceFeed?

    /// Opens the file at `path` (read in 1 MiB blocks).
    public convenience init(path: String, format: Format = .tar) throws {
        try self.init(path: path, format: format) { handle in
            archive_read_open_filename(handle, path, 1 << 20)
        }
    }

    /// A reader of the plain (already decompressed) tar stream `source` hands out block by
    /// block; `name` names it in messages. An error `source` throws is what the call that
    /// needed the data throws.
    public convenience init(name: String, source: any ArchiveByteSource) throws {
        let feed = SourceFeed(source: source)
        try self.init(path: name, format: .tar, feed: feed) { handle in
            archive_read_open(handle, Unmanaged.passUnretained(feed).toOpaque(), nil, readFromSource, nil)
        }
    }

    /// Makes a read handle for `format`, with every filter libarchive has, and opens it with
    /// `open` (one of libarchive's `archive_read_open*` calls on the handle it is given).
    /// On a throw, `deinit` frees the handle.
    private init(path: String, format: Format, feed: SourceFeed? = nil, open: (OpaquePointer) -> Int32) throws {
        self.path = path
        self.feed = feed
        self.entry = try ArchiveEntry(path: path)
        guard let handle = archive_read_new() else {
            throw ArchiveError.outOfMemory(path: path, operation: "archive_read_new")
        }
        self.handle = handle
        try check(archive_read_support_filter_all(handle), "enable filters")
        switch format {
        case .tar: try check(archive_read_support_format_tar(handle), "enable tar")
        case .raw: try check(archive_read_support_format_raw(handle), "enable raw")
        }
        try check(open(handle), "open")
    }

    deinit {
        if let handle { archive_read_free(handle) }
    }

    /// Frees the handle.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        archive_read_free(handle)
    }

    /// Moves to the next member; nil at the end of the archive.
    public func next() throws -> ArchiveMember? {
        let code = archive_read_next_header2(try live(), entry.pointer)
        if code == ARCHIVE_EOF { return nil }
        try check(code, "read header")
        return ArchiveMember(entry: entry)
    }

    /// Reads the current member's data in chunks (each valid only during `body`).
    public func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachDataBlock("read data") { block, _ in
            if block.count > 0 { try body(block) }
        }
    }

    /// Reads the next bytes of the current member's data into `buffer` (holes of a sparse
    /// member read as zeros); returns how many, 0 at the member's end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = archive_read_data(try live(), base, buffer.count)
        if n < 0 { try check(Int32(clamping: n), "read data") }
        return max(0, n)
    }

    /// Hands the current member to a disk writer.
    public func extract(to writer: DiskWriter, member: String) throws {
        let output = try writer.live("write \(member)")
        try writer.check(archive_write_header(output, entry.pointer), "write \(member)")
        if archive_entry_size(entry.pointer) > 0 {
            try forEachDataBlock("read data of \(member)") { block, offset in
                let written = archive_write_data_block(output, block.baseAddress, block.count, offset)
                try writer.check(Int32(clamping: written), "write data of \(member)")
            }
        }
        try writer.check(archive_write_finish_entry(output), "finish \(member)")
    }

    /// Calls `body` with each block libarchive decompresses of the current member's data and
    /// the block's offset in the member (a sparse member's blocks skip its holes).
    private func forEachDataBlock(
        _ operation: @autoclosure () -> String, _ body: (UnsafeRawBufferPointer, la_int64_t) throws -> Void
    ) throws {
        let handle = try live()
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let code = archive_read_data_block(handle, &buffer, &size, &offset)
            if code == ARCHIVE_EOF { return }
            try check(code, operation())
            try body(UnsafeRawBufferPointer(start: buffer, count: size), offset)
        }
    }

    private func live() throws(ArchiveError) -> OpaquePointer {
        guard let handle else { throw .closed(path: path, operation: "read") }
        return handle
    }

    /// Throws for `ARCHIVE_FAILED`/`ARCHIVE_FATAL`, with libarchive's message, or the
    /// source's own error when the source failed.
    private func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(ArchiveError) {
        if code < ARCHIVE_WARN, let failure = feed?.failure { throw failure }
        try checkLibarchive(code, handle, path: path, operation: operation())
    }
}

/// Blocks of a plain tar stream for ``ArchiveReader/init(name:source:)``: what lets a
/// decompressor of our own (on a thread of its own) feed libarchive.
public protocol ArchiveByteSource: AnyObject {
    /// The next block, valid until the next call; nil at the end of the stream.
    /// - Throws: ``ArchiveError/source(path:operation:message:)`` when the stream fails.
    func nextBlock() throws(ArchiveError) -> UnsafeRawBufferPointer?
}

/// libarchive's read callback for ``ArchiveReader/init(name:source:)``: the next block of
/// the source, 0 at its end, -1 (the error kept for the reader to throw) when it fails.
private func readFromSource(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ block: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    let feed = Unmanaged<SourceFeed>.fromOpaque(context!).takeUnretainedValue()
    do {
        guard let bytes = try feed.source.nextBlock() else { return 0 }
        block?.pointee = bytes.baseAddress
        return la_ssize_t(bytes.count)
    } catch {
        feed.failure = error
        return -1
    }
}

/// The context libarchive's read callback gets: the source, and its error if it threw.
private final class SourceFeed {
    let source: any ArchiveByteSource
    var failure: ArchiveError?
    init(source: any ArchiveByteSource) { self.source = source }
}

/// A view of the current header of an ``ArchiveReader``; valid until the next `next()`.
/// Setters change what a ``DiskWriter`` will create.
public struct ArchiveMember {
    let entry: ArchiveEntry
    private var pointer: OpaquePointer { entry.pointer }

    /// The member name as stored (raw bytes).
    public var path: [UInt8] { Self.bytes(archive_entry_pathname(pointer)) }
    /// The hard-link target, if the member is a hard link.
    public var hardLink: [UInt8]? { archive_entry_hardlink(pointer).map { Self.bytes($0) } }
    public var symlinkTarget: [UInt8]? { archive_entry_symlink(pointer).map { Self.bytes($0) } }
    public var mode: UInt32 { UInt32(archive_entry_mode(pointer)) }
    public var fileType: UInt32 { UInt32(archive_entry_filetype(pointer)) }
    public var size: Int64 { Int64(archive_entry_size(pointer)) }
    public var isDirectory: Bool { fileType == 0o040000 }
    public var isRegular: Bool { fileType == 0o100000 }
    /// The numeric owner (names in the tar are ignored, as umoci and the OCI spec do).
    public var uid: Int64 { Int64(archive_entry_uid(pointer)) }
    public var gid: Int64 { Int64(archive_entry_gid(pointer)) }
    /// A device node's numbers.
    public var deviceMajor: UInt32 { UInt32(truncatingIfNeeded: archive_entry_rdevmajor(pointer)) }
    public var deviceMinor: UInt32 { UInt32(truncatingIfNeeded: archive_entry_rdevminor(pointer)) }

    /// The member's extended attributes in the order the tar lists them (pax
    /// `SCHILY.xattr.NAME` records: capabilities as `security.capability`, POSIX ACLs as
    /// `system.posix_acl_access`/`_default` in the kernel's binary form).
    public var extendedAttributes: [(name: [UInt8], value: [UInt8])] {
        var out: [(name: [UInt8], value: [UInt8])] = []
        guard archive_entry_xattr_reset(pointer) > 0 else { return out }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(pointer, &name, &value, &size) == ARCHIVE_OK {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            out.append((Self.bytes(name), bytes))
        }
        return out
    }

    public func setPath(bytes: [UInt8]) { withNULTerminated(bytes) { archive_entry_copy_pathname(pointer, $0) } }
    public func setHardLink(bytes: [UInt8]) { withNULTerminated(bytes) { archive_entry_copy_hardlink(pointer, $0) } }

    /// Gives the member an atime equal to its mtime when the tar has none (as umoci does;
    /// libarchive would otherwise use the time of extraction).
    public func defaultAccessTimeToModificationTime() {
        if archive_entry_atime_is_set(pointer) == 0, archive_entry_mtime_is_set(pointer) != 0 {
            archive_entry_set_atime(pointer, archive_entry_mtime(pointer), archive_entry_mtime_nsec(pointer))
        }
    }

    /// The member's access and modification times (atime defaults to mtime, as above).
    public var times: (access: timespec, modification: timespec) {
        let mtime = timespec(tv_sec: archive_entry_mtime(pointer), tv_nsec: archive_entry_mtime_nsec(pointer))
        guard archive_entry_atime_is_set(pointer) != 0 else { return (mtime, mtime) }
        return (timespec(tv_sec: archive_entry_atime(pointer), tv_nsec: archive_entry_atime_nsec(pointer)), mtime)
    }

    private static func bytes(_ text: UnsafePointer<CChar>?) -> [UInt8] {
        guard let text else { return [] }
        return Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
    }
}
