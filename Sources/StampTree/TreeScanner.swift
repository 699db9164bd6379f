import CStampSupport
import StampIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Errors found while scanning a source tree.
public enum TreeError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case notDirectory(path: String)
    case unreadable(path: String, operation: String, errno: Errno)
    case unsupportedType(path: String, mode: UInt32)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): no such directory"
        case .notDirectory(let path): return "\(path): not a directory"
        case .unreadable(let path, let operation, let errno):
            return "\(path): \(operation): \(errno.description.prefix(1).lowercased() + errno.description.dropFirst())"
        case .unsupportedType(let path, let mode): return "\(path): unsupported file type (mode \(String(mode, radix: 8)))"
        }
    }
}

/// Options for a scan.
public struct ScanOptions: Sendable {
    /// Find the data regions of files whose allocated size is smaller than their length.
    public var detectHoles = true
    /// Read extended attributes.
    public var readXattrs = true
    /// Directories, relative to the root (`boot`, `var/log`), whose contents are left out:
    /// the mount points of other filesystems on the same disk. Each stays, empty.
    public var emptyDirectories: Set<String> = []
    /// Entries recorded as if the tree held them, where it holds nothing of that name: the
    /// device nodes a build in a user namespace cannot create (see ``SupplementaryEntry``).
    public var supplements: [SupplementaryEntry] = []
    /// Whether a symlink given as the root is followed (a command line's argument, as
    /// `mke2fs -d` does); false for roots inside untrusted trees.
    public var followRootSymlink = true

    public init() {}
}

/// Reads a directory tree's metadata into a ``RootTree``: one `statx` per entry, `readlink`
/// for symlinks, `llistxattr`/`lgetxattr` where attributes exist, and `SEEK_DATA`/`SEEK_HOLE`
/// only for files that look sparse. File contents are never read.
public struct TreeScanner {
    public var options: ScanOptions

    public init(options: ScanOptions = ScanOptions()) { self.options = options }

    /// Scans `root`, which must be a directory.
    public func scan(_ root: String) throws -> RootTree {
        var st = stamp_stat()
        if stamp_lstat(AT_FDCWD, root, &st) != 0 {
            if errno == ENOENT { throw TreeError.notFound(path: root) }
            throw TreeError.unreadable(path: root, operation: "stat", errno: Errno(rawValue: errno))
        }
        var rootStat = st
        if st.mode & 0o170000 == 0o120000 {
            guard options.followRootSymlink else { throw TreeError.notDirectory(path: root) }
            // A symlink given on the command line is followed, as `mke2fs -d` does.
            var followed = stamp_stat()
            if stamp_lstat(AT_FDCWD, root + "/.", &followed) == 0 { rootStat = followed }
        }
        guard rootStat.mode & 0o170000 == 0o040000 else { throw TreeError.notDirectory(path: root) }
        var state = ScanState(root: root, options: options)
        let bytes = Array(root.utf8)
        state.entries.append(try state.makeEntry(path: root, bytes: bytes, name: [], parent: 0, st: rootStat, dirfd: AT_FDCWD, leaf: bytes))
        try state.scanDirectory(index: 0, path: root, bytes: bytes)
        return RootTree(sourcePath: root, entries: state.entries)
    }
}

private struct ScanState {
    let root: String
    let options: ScanOptions
    var entries: [Entry] = []
    var firstName: [InodeKey: Int32] = [:]

    struct InodeKey: Hashable {
        var major: UInt32, minor: UInt32, ino: UInt64
    }

    init(root: String, options: ScanOptions) {
        self.root = root
        self.options = options
    }

    /// Scans the directory at `bytes` (its exact path; `path` is the same for messages).
    mutating func scanDirectory(index: Int, path: String, bytes: [UInt8]) throws {
        guard let dir = withCString(bytes, { opendir($0) }) else {
            throw TreeError.unreadable(path: path, operation: "open directory", errno: Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw TreeError.unreadable(path: path, operation: "read directory", errno: Errno(rawValue: errno)) }
                break
            }
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> [UInt8] in
                let bytes = raw.bindMemory(to: UInt8.self)
                let len = bytes.firstIndex(of: 0) ?? bytes.count
                return Array(bytes[0..<len])
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        var subdirectories: [(Int, String, [UInt8])] = []
        var children: [Int32] = []
        children.reserveCapacity(names.count)
        for name in names {
            let childPath = path + "/" + String(decoding: name, as: UTF8.self)
            let childBytes = bytes + [0x2F] + name
            var st = stamp_stat()
            let rc = withCString(name) { stamp_lstat(fd, $0, &st) }
            if rc != 0 {
                if errno == ENOENT { continue }  // vanished between readdir and stat
                throw TreeError.unreadable(path: childPath, operation: "stat", errno: Errno(rawValue: errno))
            }
            let entry = try makeEntry(path: childPath, bytes: childBytes, name: name, parent: Int32(index), st: st, dirfd: fd, leaf: name)
            let childIndex = entries.count
            entries.append(entry)
            children.append(Int32(childIndex))
            if entry.kind == .directory { subdirectories.append((childIndex, childPath, childBytes)) }
        }
        if !options.supplements.isEmpty {
            let relative = path == root ? "" : String(path.dropFirst(root.count + 1))
            supplement(directory: index, relative: relative, names: Set(names), children: &children)
        }
        entries[index].children = children
        for (child, childPath, childBytes) in subdirectories {
            if !options.emptyDirectories.isEmpty && options.emptyDirectories.contains(String(childPath.dropFirst(root.count + 1))) {
                continue
            }
            try scanDirectory(index: child, path: childPath, bytes: childBytes)
        }
    }

    /// Adds the ``ScanOptions/supplements`` that belong in directory `index` (at `relative`)
    /// and are absent from it, keeping `children` sorted by name. They are owned by root and
    /// take the directory's times; a supplementary directory is empty.
    mutating func supplement(directory index: Int, relative: String, names: Set<[UInt8]>, children: inout [Int32]) {
        let parent = entries[index]
        for s in options.supplements where s.directory == relative && !names.contains(Array(s.name.utf8)) {
            var entry = Entry(
                name: Array(s.name.utf8), parent: Int32(index), kind: s.kind, mode: s.fileTypeBits | (s.permissions & 0o7777),
                uid: 0, gid: 0, size: 0, accessTime: parent.modificationTime, modificationTime: parent.modificationTime,
                changeTime: parent.modificationTime, creationTime: nil, deviceMajor: s.major, deviceMinor: s.minor,
                linkCount: s.kind == .directory ? 2 : 1, hardLinkOf: nil, xattrs: [], symlinkTarget: nil,
                dataRegions: nil, children: [])
            if let target = s.symlinkTarget {
                entry.symlinkTarget = Array(target.utf8)
                entry.size = UInt64(target.utf8.count)
            }
            children.append(Int32(entries.count))
            entries.append(entry)
        }
        children.sort { entries[Int($0)].name.lexicographicallyPrecedes(entries[Int($1)].name) }
    }

    /// The entry for `leaf` in `dirfd`, whose full path is `bytes` (`path` for messages).
    mutating func makeEntry(
        path: String, bytes: [UInt8], name: [UInt8], parent: Int32, st: stamp_stat, dirfd: Int32, leaf: [UInt8]
    ) throws -> Entry {
        guard let kind = FileKind(mode: st.mode) else { throw TreeError.unsupportedType(path: path, mode: st.mode) }
        var entry = Entry(
            name: name, parent: parent, kind: kind, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size,
            accessTime: Timestamp(seconds: st.atime_sec, nanoseconds: st.atime_nsec),
            modificationTime: Timestamp(seconds: st.mtime_sec, nanoseconds: st.mtime_nsec),
            changeTime: Timestamp(seconds: st.ctime_sec, nanoseconds: st.ctime_nsec),
            creationTime: st.has_btime != 0 ? Timestamp(seconds: st.btime_sec, nanoseconds: st.btime_nsec) : nil,
            deviceMajor: st.rdev_major, deviceMinor: st.rdev_minor, linkCount: st.nlink, hardLinkOf: nil,
            xattrs: [], symlinkTarget: nil, dataRegions: nil, children: [])
        if kind != .directory && st.nlink > 1 {
            let key = InodeKey(major: st.dev_major, minor: st.dev_minor, ino: st.ino)
            if let first = firstName[key] {
                entry.hardLinkOf = first
                return entry  // every other attribute belongs to the first name's inode
            }
            firstName[key] = Int32(entries.count)
        }
        if options.readXattrs { entry.xattrs = try readXattrs(path, bytes: bytes) }
        switch kind {
        case .symlink:
            var buffer = [UInt8](repeating: 0, count: Int(max(st.size, 1)) + 1)
            let n = buffer.withUnsafeMutableBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { target in
                    withCString(leaf) { readlinkat(dirfd, $0, target, p.count) }
                }
            }
            if n < 0 { throw TreeError.unreadable(path: path, operation: "readlink", errno: Errno(rawValue: errno)) }
            entry.symlinkTarget = Array(buffer[0..<n])
            entry.size = UInt64(n)
        case .regular where options.detectHoles && st.blocks * 512 < st.size:
            entry.dataRegions = try holes(path, bytes: bytes, size: st.size)
        default:
            break
        }
        return entry
    }

    func holes(_ path: String, bytes: [UInt8], size: UInt64) throws -> [Range<UInt64>] {
        let fd = try openForScan(path, bytes: bytes)
        defer { try? fd.close() }
        do {
            return try Syscalls.dataRegions(of: fd, size: size)
        } catch {
            throw TreeError.unreadable(path: path, operation: "seek data", errno: error)
        }
    }

    func openForScan(_ path: String, bytes: [UInt8]) throws -> FileDescriptor {
        do {
            let filePath = withCString(bytes) { FilePath(platformString: $0) }
            return try FileDescriptor.open(filePath, .readOnly, options: [.noFollow])
        } catch let e as Errno {
            throw TreeError.unreadable(path: path, operation: "open", errno: e)
        }
    }

    func readXattrs(_ path: String, bytes: [UInt8]) throws -> [ExtendedAttribute] {
        let cPath = (bytes + [0]).map { CChar(bitPattern: $0) }
        var size = stamp_llistxattr(cPath, nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == ENODATA { return [] }
            throw TreeError.unreadable(path: path, operation: "list xattrs", errno: Errno(rawValue: errno))
        }
        if size == 0 { return [] }
        var list = [CChar](repeating: 0, count: size)
        size = stamp_llistxattr(cPath, &list, size)
        if size < 0 { throw TreeError.unreadable(path: path, operation: "list xattrs", errno: Errno(rawValue: errno)) }
        var result: [ExtendedAttribute] = []
        var start = 0
        for i in 0..<size where list[i] == 0 {
            let name = list[start..<i].map { UInt8(bitPattern: $0) }
            start = i + 1
            if name.isEmpty { continue }
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            let operation = "read xattr \(String(decoding: name, as: UTF8.self))"
            // Asked for its size, then read; an attribute that grows in between (ERANGE) is
            // asked again, one that is removed (ENODATA) is skipped.
            var value: [UInt8]? = nil
            for _ in 0..<8 {
                let size = stamp_lgetxattr(cPath, cName, nil, 0)
                if size < 0 {
                    if errno == ENODATA { break }
                    throw TreeError.unreadable(path: path, operation: operation, errno: Errno(rawValue: errno))
                }
                // One byte more than asked, so that a read of size 0 is a read, not a query.
                var buffer = [UInt8](repeating: 0, count: size + 1)
                let read = buffer.withUnsafeMutableBytes { stamp_lgetxattr(cPath, cName, $0.baseAddress, $0.count) }
                if read < 0 {
                    if errno == ERANGE { continue }
                    if errno == ENODATA { break }
                    throw TreeError.unreadable(path: path, operation: operation, errno: Errno(rawValue: errno))
                }
                value = Array(buffer[0..<min(read, buffer.count)])
                break
            }
            guard let value else {
                if errno == ENODATA { continue }
                throw TreeError.unreadable(path: path, operation: operation, errno: Errno(rawValue: ERANGE))
            }
            result.append(ExtendedAttribute(name: name, value: value))
        }
        return result
    }
}

/// Calls `body` with `bytes` as a NUL-terminated C string (a path or name as the kernel
/// knows it: any bytes but NUL).
func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try (bytes + [0]).withUnsafeBufferPointer { p in
        try p.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}
