import CArchive

/// The one owner of a libarchive `struct archive_entry *`: the header of one member, filled in
/// before ``ArchiveWriter/writeHeader(_:)`` and reused (``clear()``) for each member.
///
/// Names are raw bytes, as a Linux file system stores them: stored as UTF-8 when they are,
/// else as opaque bytes (pax then marks the record `hdrcharset=BINARY`).
public final class ArchiveEntry {
    let pointer: OpaquePointer
    /// The entry's path for error messages.
    public private(set) var displayName = ""

    /// A POSIX.1e ACL entry's tag: whose permissions it gives.
    public enum ACLTag: Sendable, Equatable {
        /// The file's owner (`ARCHIVE_ENTRY_ACL_USER_OBJ`).
        case userObject
        /// A named user (`ARCHIVE_ENTRY_ACL_USER`, with its uid as the qualifier).
        case user(uid: UInt32)
        /// The file's group (`ARCHIVE_ENTRY_ACL_GROUP_OBJ`).
        case groupObject
        /// A named group (`ARCHIVE_ENTRY_ACL_GROUP`, with its gid as the qualifier).
        case group(gid: UInt32)
        /// The upper bound for named entries and the group (`ARCHIVE_ENTRY_ACL_MASK`).
        case mask
        /// Everyone else (`ARCHIVE_ENTRY_ACL_OTHER`).
        case other
    }

    /// - Parameter path: how an allocation failure names what was being read or written.
    public init(path: String = "") throws {
        guard let pointer = archive_entry_new() else {
            throw ArchiveError.outOfMemory(path: path, operation: "archive_entry_new")
        }
        self.pointer = pointer
    }

    deinit { archive_entry_free(pointer) }

    /// Forgets everything set for the previous entry.
    public func clear() {
        archive_entry_clear(pointer)
        displayName = ""
    }

    /// Sets the member name (raw bytes).
    public func setPath(_ bytes: [UInt8]) {
        displayName = String(decoding: bytes, as: UTF8.self)
        Self.withName(bytes) { text, isUTF8 in
            if isUTF8 { archive_entry_set_pathname_utf8(pointer, text) } else { archive_entry_copy_pathname(pointer, text) }
        }
    }

    /// Makes the entry a hard link to the earlier member `target`.
    public func setHardLink(_ target: [UInt8]) {
        Self.withName(target) { text, isUTF8 in
            if isUTF8 { archive_entry_set_hardlink_utf8(pointer, text) } else { archive_entry_copy_hardlink(pointer, text) }
        }
    }

    /// Sets a symbolic link's target.
    public func setSymlink(_ target: [UInt8]) {
        Self.withName(target) { text, isUTF8 in
            if isUTF8 { archive_entry_set_symlink_utf8(pointer, text) } else { archive_entry_copy_symlink(pointer, text) }
        }
    }

    /// Sets the full `st_mode` (type and permission bits).
    public func setMode(_ mode: UInt32) { archive_entry_set_mode(pointer, mode_t(mode)) }
    /// Sets the numeric owner (no user or group names are stored).
    public func setOwner(uid: UInt32, gid: UInt32) {
        archive_entry_set_uid(pointer, la_int64_t(uid))
        archive_entry_set_gid(pointer, la_int64_t(gid))
    }
    /// Sets the data size: the bytes ``ArchiveWriter/writeData(_:entryName:)`` must then write.
    public func setSize(_ size: UInt64) { archive_entry_set_size(pointer, la_int64_t(size)) }
    /// Sets the mtime; the nanoseconds are written only in a pax header (see
    /// ``ArchiveWriter/Format``), ustar holds whole seconds.
    public func setModificationTime(seconds: Int64, nanoseconds: UInt32) {
        archive_entry_set_mtime(pointer, time_t(seconds), Int(nanoseconds))
    }
    /// Sets a device node's numbers.
    public func setDevice(major: UInt32, minor: UInt32) {
        archive_entry_set_rdevmajor(pointer, dev_t(major))
        archive_entry_set_rdevminor(pointer, dev_t(minor))
    }

    /// Adds an extended attribute (written as `SCHILY.xattr.NAME`).
    public func addExtendedAttribute(name: [UInt8], value: [UInt8]) {
        Self.withName(name) { text, _ in
            value.withUnsafeBytes { raw in
                archive_entry_xattr_add_entry(pointer, text, raw.baseAddress, raw.count)
            }
        }
    }

    /// Adds one POSIX.1e ACL entry (written as `SCHILY.acl.access` / `SCHILY.acl.default` text).
    /// - Parameters:
    ///   - isDefault: a directory's default ACL rather than the access ACL.
    ///   - permissions: read 4, write 2, execute 1 (the same bits in Linux and libarchive).
    /// - Throws: ``ArchiveError/invalidACLEntry(path:)`` naming the entry.
    public func addACL(isDefault: Bool, tag: ACLTag, permissions: Int32) throws {
        let type = isDefault ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT : ARCHIVE_ENTRY_ACL_TYPE_ACCESS
        let (code, qualifier): (Int32, Int32) =
            switch tag {
            case .userObject: (ARCHIVE_ENTRY_ACL_USER_OBJ, -1)
            case .user(let uid): (ARCHIVE_ENTRY_ACL_USER, Int32(bitPattern: uid))
            case .groupObject: (ARCHIVE_ENTRY_ACL_GROUP_OBJ, -1)
            case .group(let gid): (ARCHIVE_ENTRY_ACL_GROUP, Int32(bitPattern: gid))
            case .mask: (ARCHIVE_ENTRY_ACL_MASK, -1)
            case .other: (ARCHIVE_ENTRY_ACL_OTHER, -1)
            }
        if archive_entry_acl_add_entry(pointer, type, permissions, code, qualifier, nil) != ARCHIVE_OK {
            throw ArchiveError.invalidACLEntry(path: displayName)
        }
    }

    /// Calls `body` with a NUL-terminated copy of `bytes` and whether they are valid UTF-8.
    private static func withName(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>, Bool) -> Void) {
        let isUTF8 = String(validating: bytes, as: UTF8.self) != nil
        withNULTerminated(bytes) { body($0, isUTF8) }
    }
}
