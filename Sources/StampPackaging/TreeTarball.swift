import StampArchive
import StampIO
import StampTree
import SystemPackage

/// Writes a scanned root tree as a tarball (`-t tar`), with everything a root filesystem needs
/// to come back identical under `tar --xattrs --acls -xpf`.
///
/// ```
/// ./                      the root directory (its mode and owner)
/// ./bin -> usr/bin        symlink
/// ./dev/null              character device 1,3
/// ./usr/bin/ping          regular file, SCHILY.xattr.security.capability
/// ./usr/bin/link          hard link to an earlier name (no data)
/// ./srv/shared            directory, SCHILY.acl.access / SCHILY.acl.default
/// (two zero blocks)
/// ```
///
/// Entries come in tree order (a directory before its children, children by name); the first
/// name of a hard-linked inode written carries the data and the later ones link to it. Owners are numeric only (no user or group names:
/// the build host's passwd file says nothing about the image's). Extended attributes go in as
/// pax records; the kernel's `system.posix_acl_access`/`_default` attributes are turned into
/// POSIX.1e ACL entries instead, which is what `tar --acls` restores. Sockets cannot be stored
/// in a tarball and are skipped. Regular files are read once, front to back, in 1 MiB chunks.
///
/// The tarball is an `OutputFile`: on any error nothing appears under the final name.
public struct TreeTarball {
    /// Which pax flavour to write (see ``ArchiveWriter/Format``).
    public enum Format: Sendable {
        /// ustar headers, extended only where needed; mtimes keep their nanoseconds only on
        /// entries that carry a pax header anyway (xattrs, ACLs, long names).
        case paxRestricted
        /// Every entry with a fractional mtime gets a pax header with the exact value.
        case pax
    }

    public var format: Format = .paxRestricted
    /// Later modification times are clamped to this (SOURCE_DATE_EPOCH).
    public var clampTime: Timestamp?
    /// A gzip-compressed tarball (`-t tgz`): the same archive through `gzip -9`.
    public var gzip = false

    public init(format: Format = .paxRestricted, clampTime: Timestamp? = nil, gzip: Bool = false) {
        self.format = format
        self.clampTime = clampTime
        self.gzip = gzip
    }

    /// Writes `tree` to `path`.
    /// - Throws: `IOError` for source or output system-call failures (a file that changed
    ///   size since the scan included), ``PackagingError/archive(path:operation:message:)``
    ///   with libarchive's message.
    public func write(_ tree: RootTree, to path: String) throws {
        let output = try OutputFile(path: path)
        try write(tree, into: output)
        try output.commit()
    }

    /// Writes `tree` into `output`, which is left open under its temporary name for the
    /// caller to read, commit or discard (the docker-archive's layer is such a scratch file);
    /// on an error it is discarded.
    public func write(_ tree: RootTree, into output: OutputFile) throws {
        try PackagingError.rethrowingArchiveErrors { try writeTarball(tree, into: output) }
    }

    private func writeTarball(_ tree: RootTree, into output: OutputFile) throws {
        let path = output.path
        let archive = try ArchiveWriter(
            path: path, descriptor: output.descriptor.rawValue, format: format == .pax ? .pax : .paxRestricted, gzip: gzip)
        let entry = try ArchiveEntry()
        let buffer = IOBuffer(size: 1 << 20)
        var names = [[UInt8]](repeating: [], count: tree.entries.count)
        names[0] = Array("./".utf8)
        var stored: [Int: [UInt8]] = [:]

        do {
            // Depth-first, parents first; an explicit stack keeps deep trees off the call stack.
            var stack: [Int] = [0]
            while let index = stack.popLast() {
                let item = tree.entries[index]
                if index != 0 {
                    let parent = Int(item.parent)
                    names[index] = (parent == 0 ? Array("./".utf8) : names[parent] + [UInt8(ascii: "/")]) + item.name
                }
                if item.kind == .directory { stack.append(contentsOf: item.children.reversed().map(Int.init)) }
                if item.kind == .socket { continue }
                try writeEntry(
                    index, of: tree, name: names[index], stored: &stored, entry: entry, archive: archive, buffer: buffer)
            }
            try archive.finish()
        } catch {
            // Free libarchive's handle before the descriptor it writes to is closed.
            archive.abandon()
            output.discard()
            throw error
        }
    }

    /// Writes one member. `stored` maps a hard-linked inode (its first scanned name) to the
    /// member name already holding its data; later names become hard links to it.
    private func writeEntry(
        _ index: Int, of tree: RootTree, name: [UInt8], stored: inout [Int: [UInt8]], entry: ArchiveEntry,
        archive: ArchiveWriter, buffer: IOBuffer
    ) throws {
        // All names of an inode share its metadata; take it from the name the scan saw first.
        let inode = tree.entries[index].kind == .regular ? Int(tree.entries[index].hardLinkOf ?? Int32(index)) : index
        let item = tree.entries[inode]
        let linkTarget = item.kind == .regular ? stored[inode] : nil
        entry.clear()
        entry.setPath(name)
        entry.setMode(item.mode)
        entry.setOwner(uid: item.uid, gid: item.gid)
        let mtime = item.modificationTime.clamped(to: clampTime)
        entry.setModificationTime(seconds: mtime.seconds, nanoseconds: mtime.nanoseconds)
        var copyData = false
        switch item.kind {
        case .regular:
            if let linkTarget {
                entry.setHardLink(linkTarget)
                entry.setSize(0)
            } else {
                entry.setSize(item.size)
                copyData = item.size > 0
                if item.linkCount > 1 || inode != index { stored[inode] = name }
            }
        case .symlink:
            entry.setSymlink(item.symlinkTarget ?? [])
        case .characterDevice, .blockDevice:
            entry.setDevice(major: item.deviceMajor, minor: item.deviceMinor)
        case .directory, .fifo, .socket:
            break
        }
        // A hard link's attributes belong to the inode, already stored with the data.
        if linkTarget == nil {
            for xattr in item.xattrs {
                if let acl = POSIXACL.kind(ofAttribute: xattr.name) {
                    try POSIXACL.add(xattr.value, isDefault: acl == .defaultACL, to: entry, path: tree.sourcePath(of: index))
                } else {
                    entry.addExtendedAttribute(name: xattr.name, value: xattr.value)
                }
            }
        }
        try archive.writeHeader(entry)
        if copyData { try copyContents(of: index, in: tree, size: item.size, archive: archive, buffer: buffer) }
    }

    /// Streams a regular file's bytes into the current entry, checking it did not change size.
    private func copyContents(
        of index: Int, in tree: RootTree, size: UInt64, archive: ArchiveWriter, buffer: IOBuffer
    ) throws {
        let source = tree.sourcePath(of: index)
        let file = try tree.openData(of: index)
        defer { try? file.close() }
        Syscalls.adviseSequential(file)
        try SourceRange(descriptor: file, path: source, offset: 0, length: size)
            .forEachChunk(buffer: buffer.bytes) { chunk, _ in
                try archive.writeData(chunk, entryName: source)
            }
        let now = try withPath(source, "stat") { try Syscalls.size(of: file) }
        if now > size { throw IOError.sourceGrew(path: source, expected: size, actual: now) }
    }
}

/// The kernel's POSIX ACL xattrs (`system.posix_acl_access`, `system.posix_acl_default`) in
/// their VFS encoding, turned into libarchive ACL entries.
///
/// ```
/// header  le32 a_version = 2
/// entry   le16 e_tag   le16 e_perm   le32 e_id      (repeated, 8 bytes each)
/// e_tag:  0x01 USER_OBJ  0x02 USER  0x04 GROUP_OBJ  0x08 GROUP  0x10 MASK  0x20 OTHER
/// e_perm: 4 read, 2 write, 1 execute; e_id: uid/gid for USER/GROUP, else 0xFFFFFFFF
/// ```
enum POSIXACL {
    enum Kind { case accessACL, defaultACL }

    static func kind(ofAttribute name: [UInt8]) -> Kind? {
        if name == Array("system.posix_acl_access".utf8) { return .accessACL }
        if name == Array("system.posix_acl_default".utf8) { return .defaultACL }
        return nil
    }

    /// Decodes `value` and adds each entry to `entry`.
    static func add(_ value: [UInt8], isDefault: Bool, to entry: ArchiveEntry, path: String) throws {
        func le(_ at: Int, _ width: Int) -> UInt32 {
            (0..<width).reduce(UInt32(0)) { $0 | UInt32(value[at + $1]) << (8 * $1) }
        }
        guard value.count >= 4, (value.count - 4) % 8 == 0, le(0, 4) == 2 else {
            throw PackagingError.unsupportedEntry(path: path, reason: "malformed posix acl attribute")
        }
        for at in stride(from: 4, to: value.count, by: 8) {
            let tag: ArchiveEntry.ACLTag
            switch le(at, 2) {
            case 0x01: tag = .userObject
            case 0x02: tag = .user(uid: le(at + 4, 4))
            case 0x04: tag = .groupObject
            case 0x08: tag = .group(gid: le(at + 4, 4))
            case 0x10: tag = .mask
            case 0x20: tag = .other
            default:
                throw PackagingError.unsupportedEntry(path: path, reason: "unknown posix acl tag \(le(at, 2))")
            }
            let permissions = Int32(le(at + 2, 2) & 7)
            try entry.addACL(isDefault: isDefault, tag: tag, permissions: permissions)
        }
    }
}
