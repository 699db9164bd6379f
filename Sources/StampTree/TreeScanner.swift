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
    /// The entry changed while it was read: a directory or file swapped (another inode, or a
    /// symlink where a directory was), so nothing of it is used.
    case changed(path: String)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): no such directory"
        case .notDirectory(let path): return "\(path): not a directory"
        case .unreadable(let path, let operation, let errno):
            return "\(path): \(operation): \(errno.description.prefix(1).lowercased() + errno.description.dropFirst())"
        case .unsupportedType(let path, let mode): return "\(path): unsupported file type (mode \(String(mode, radix: 8)))"
        case .changed(let path): return "\(path): changed while it was read (replaced by another file or a symlink)"
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
    /// Threads that read directories at once (1: one after another). The model is the same
    /// either way; more threads keep more of a cold tree's metadata reads in flight.
    public var threads = ScanOptions.defaultThreads
    /// With several threads: how many entries may wait, scanned, for the fragments before
    /// them (``ParallelScan``) before the threads read only the directory the splice waits
    /// for. About 200 bytes each plus their names, so the default holds a few MiB.
    var spliceBacklog = 16384

    public init() {}

    /// One per CPU (at most 64). The parallel scan splices directories into the model as they
    /// complete, so its memory is the one-thread scan's plus a bounded backlog.
    /// `STAMP_SCAN_THREADS` (1…64) overrides it, for the benchmarks' comparisons.
    public static var defaultThreads: Int {
        if let text = getenv("STAMP_SCAN_THREADS"), let n = Int(String(cString: text)), (1...64).contains(n) { return n }
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return max(1, min(n, 64))
    }
}

/// Reads a directory tree's metadata into a ``RootTree``: one `statx` per entry, `readlink`
/// for symlinks, the xattr calls where attributes exist, and `SEEK_DATA`/`SEEK_HOLE` only for
/// files that look sparse. File contents are never read.
///
/// The tree is untrusted and may change while it is read. Every directory is opened below the
/// root's descriptor without following any symlink (``RootTree/openBeneath(_:flags:)``), one
/// at a time per thread (closed before its subdirectories are read, so depth costs no
/// descriptors), and must be the directory that was stat'ed (device and inode); entries are
/// stat'ed, read and listed relative to that descriptor. A directory swapped for a symlink
/// after the scan is refused when the data is read (``RootTree/openData(of:)``).
///
/// With ``ScanOptions/threads`` above 1, directories are read on that many threads at once
/// (``ParallelScan``); the model is the same entry for entry as a scan on one thread.
public struct TreeScanner {
    public var options: ScanOptions

    public init(options: ScanOptions = ScanOptions()) { self.options = options }

    /// Scans `root`, which must be a directory. A symlink given as the root is followed, as
    /// `mke2fs -d` follows it, unless ``ScanOptions/followRootSymlink`` is false.
    public func scan(_ root: String) throws -> RootTree {
        var st = stamp_stat()
        if stamp_lstat(AT_FDCWD, root, &st) != 0 {
            if errno == ENOENT { throw TreeError.notFound(path: root) }
            throw TreeError.unreadable(path: root, operation: "stat", errno: Errno(rawValue: errno))
        }
        if st.mode & 0o170000 == 0o120000 {
            guard options.followRootSymlink else { throw TreeError.notDirectory(path: root) }
            var followed = stamp_stat()
            if stamp_lstat(AT_FDCWD, root + "/.", &followed) == 0 { st = followed }
        }
        guard st.mode & 0o170000 == 0o040000 else { throw TreeError.notDirectory(path: root) }
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (options.followRootSymlink ? 0 : O_NOFOLLOW)
        let fd = open(root, flags)
        guard fd >= 0 else { throw TreeError.unreadable(path: root, operation: "open directory", errno: Errno(rawValue: errno)) }
        let descriptor = FileDescriptor(rawValue: fd)
        var opened = stamp_stat()
        guard stamp_fstat(fd, &opened) == 0,
            opened.ino == st.ino, opened.dev_major == st.dev_major, opened.dev_minor == st.dev_minor
        else {
            try? descriptor.close()
            throw TreeError.changed(path: root)
        }
        var state = ScanState(root: root, rootDescriptor: fd, options: options)
        do {
            state.entries.append(
                try state.makeEntry(path: { root }, name: [], parent: 0, st: st, dirfd: fd, leaf: [0x2E]))
            if options.threads > 1 {
                state.entries = try ParallelScan(state: state, threads: options.threads, backlog: options.spliceBacklog).run(
                    root: root)
            } else {
                try state.scanDirectory(index: 0, path: root, relative: [])
            }
        } catch {
            try? descriptor.close()
            throw error
        }
        return RootTree(sourcePath: root, entries: state.entries, rootDescriptor: descriptor)
    }
}

struct ScanState {
    let root: String
    let rootDescriptor: Int32
    let options: ScanOptions
    var entries: [Entry] = []
    var firstName: [InodeKey: Int32] = [:]

    struct InodeKey: Hashable {
        var major: UInt32, minor: UInt32, ino: UInt64
    }

    init(root: String, rootDescriptor: Int32, options: ScanOptions) {
        self.root = root
        self.rootDescriptor = rootDescriptor
        self.options = options
    }

    /// Scans the directory at `relative` below the root (`path` is its full path, for messages)
    /// and everything beneath it.
    mutating func scanDirectory(index: Int, path: String, relative: [UInt8]) throws {
        for (child, childPath, childRelative) in try scanChildren(index: index, path: path, relative: relative) {
            try scanDirectory(index: child, path: childPath, relative: childRelative)
        }
    }

    /// Records the entries of the directory at `relative` (entry `index`) and returns its
    /// subdirectories to scan next (index, path, relative path), in name order; those listed
    /// in ``ScanOptions/emptyDirectories`` are left out.
    mutating func scanChildren(index: Int, path: String, relative: [UInt8]) throws -> [(Int, String, [UInt8])] {
        let fd = withCString(relative) { stamp_open_beneath(rootDescriptor, $0, O_RDONLY | O_DIRECTORY) }
        guard fd >= 0 else {
            if errno == ELOOP || errno == EXDEV || errno == ENOTDIR { throw TreeError.changed(path: path) }
            throw TreeError.unreadable(path: path, operation: "open directory", errno: Errno(rawValue: errno))
        }
        var st = stamp_stat()
        guard stamp_fstat(fd, &st) == 0, st.ino == entries[index].sourceInode, RootTree.device(st) == entries[index].sourceDevice
        else {
            close(fd)
            throw TreeError.changed(path: path)
        }
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw TreeError.unreadable(path: path, operation: "open directory", errno: Errno(rawValue: errno))
        }
        var subdirectories: [(Int, String, [UInt8])] = []
        do {
            defer { closedir(dir) }
            var names: [[UInt8]] = []
            while true {
                errno = 0
                guard let ent = readdir(dir) else {
                    if errno != 0 {
                        throw TreeError.unreadable(path: path, operation: "read directory", errno: Errno(rawValue: errno))
                    }
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
            var children: [Int32] = []
            children.reserveCapacity(names.count)
            for name in names {
                // Only messages and subdirectories need the path strings.
                func childPath() -> String { path + "/" + String(decoding: name, as: UTF8.self) }
                var st = stamp_stat()
                let rc = withCString(name) { stamp_lstat(fd, $0, &st) }
                if rc != 0 {
                    if errno == ENOENT { continue }  // vanished between readdir and stat
                    throw unreadable(childPath, "stat")
                }
                let entry = try makeEntry(path: childPath, name: name, parent: Int32(index), st: st, dirfd: fd, leaf: name)
                let childIndex = entries.count
                entries.append(entry)
                children.append(Int32(childIndex))
                if entry.kind == .directory {
                    subdirectories.append((childIndex, childPath(), relative.isEmpty ? name : relative + [0x2F] + name))
                }
            }
            if !options.supplements.isEmpty {
                let relativeText = String(decoding: relative, as: UTF8.self)
                supplement(directory: index, relative: relativeText, names: Set(names), children: &children)
            }
            entries[index].children = children
        }
        if options.emptyDirectories.isEmpty { return subdirectories }
        return subdirectories.filter { !options.emptyDirectories.contains(String(decoding: $0.2, as: UTF8.self)) }
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

    /// The entry for `leaf` in `dirfd` (`path` gives its path for messages).
    mutating func makeEntry(
        path: () -> String, name: [UInt8], parent: Int32, st: stamp_stat, dirfd: Int32, leaf: [UInt8]
    ) throws -> Entry {
        guard let kind = FileKind(mode: st.mode) else { throw TreeError.unsupportedType(path: path(), mode: st.mode) }
        var entry = Entry(
            name: name, parent: parent, kind: kind, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size,
            accessTime: Timestamp(seconds: st.atime_sec, nanoseconds: st.atime_nsec),
            modificationTime: Timestamp(seconds: st.mtime_sec, nanoseconds: st.mtime_nsec),
            changeTime: Timestamp(seconds: st.ctime_sec, nanoseconds: st.ctime_nsec),
            creationTime: st.has_btime != 0 ? Timestamp(seconds: st.btime_sec, nanoseconds: st.btime_nsec) : nil,
            deviceMajor: st.rdev_major, deviceMinor: st.rdev_minor, linkCount: st.nlink, hardLinkOf: nil,
            xattrs: [], symlinkTarget: nil, dataRegions: nil, children: [])
        entry.sourceDevice = RootTree.device(st)
        entry.sourceInode = st.ino
        if kind != .directory && st.nlink > 1 {
            let key = InodeKey(major: st.dev_major, minor: st.dev_minor, ino: st.ino)
            if let first = firstName[key] {
                entry.hardLinkOf = first
                return entry  // every other attribute belongs to the first name's inode
            }
            firstName[key] = Int32(entries.count)
        }
        if options.readXattrs { entry.xattrs = try readXattrs(path, dirfd: dirfd, leaf: leaf) }
        switch kind {
        case .symlink:
            var buffer = [UInt8](repeating: 0, count: Int(min(max(st.size, 1), 1 << 16)) + 1)
            let n = buffer.withUnsafeMutableBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { target in
                    withCString(leaf) { readlinkat(dirfd, $0, target, p.count) }
                }
            }
            if n < 0 { throw unreadable(path, "readlink") }
            entry.symlinkTarget = Array(buffer[0..<n])
            entry.size = UInt64(n)
        case .regular where options.detectHoles && st.blocks * 512 < st.size:
            entry.dataRegions = try holes(path, dirfd: dirfd, leaf: leaf, st: st)
        default:
            break
        }
        return entry
    }

    /// The data regions of the sparse file `leaf` in `dirfd`, which must still be the file
    /// that was stat'ed.
    func holes(_ path: () -> String, dirfd: Int32, leaf: [UInt8], st: stamp_stat) throws -> [Range<UInt64>] {
        let raw = withCString(leaf) { openat(dirfd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard raw >= 0 else { throw unreadable(path, "open") }
        let fd = FileDescriptor(rawValue: raw)
        defer { try? fd.close() }
        var opened = stamp_stat()
        guard stamp_fstat(raw, &opened) == 0, opened.ino == st.ino, RootTree.device(opened) == RootTree.device(st) else {
            throw TreeError.changed(path: path())
        }
        do {
            return try Syscalls.dataRegions(of: fd, size: st.size)
        } catch {
            throw TreeError.unreadable(path: path(), operation: "seek data", errno: error)
        }
    }

    /// The attributes of `leaf` in `dirfd`, read with `listxattrat`/`getxattrat` (or through
    /// `/proc/self/fd/DIRFD/LEAF` with the `l*xattr` calls on older kernels): the directory
    /// is pinned by its descriptor and the leaf is not followed, so a path swapped after the
    /// scan cannot redirect the read.
    func readXattrs(_ path: () -> String, dirfd: Int32, leaf: [UInt8]) throws -> [ExtendedAttribute] {
        let cPath = (leaf + [0]).map { CChar(bitPattern: $0) }
        var size = stamp_listxattr_at(dirfd, cPath, nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == ENODATA { return [] }
            throw unreadable(path, "list xattrs")
        }
        if size == 0 { return [] }
        var list = [CChar](repeating: 0, count: size)
        size = stamp_listxattr_at(dirfd, cPath, &list, size)
        if size < 0 { throw unreadable(path, "list xattrs") }
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
                let size = stamp_getxattr_at(dirfd, cPath, cName, nil, 0)
                if size < 0 {
                    if errno == ENODATA { break }
                    throw unreadable(path, operation)
                }
                // One byte more than asked, so that a read of size 0 is a read, not a query.
                var buffer = [UInt8](repeating: 0, count: size + 1)
                let read = buffer.withUnsafeMutableBytes { stamp_getxattr_at(dirfd, cPath, cName, $0.baseAddress, $0.count) }
                if read < 0 {
                    if errno == ERANGE { continue }
                    if errno == ENODATA { break }
                    throw unreadable(path, operation)
                }
                value = Array(buffer[0..<min(read, buffer.count)])
                break
            }
            guard let value else {
                if errno == ENODATA { continue }
                throw TreeError.unreadable(path: path(), operation: operation, errno: Errno(rawValue: ERANGE))
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

/// The error for a failed call on `path`, with `errno` as the call left it (read before the
/// path's text is made: building it may call malloc, which can change errno).
func unreadable(_ path: () -> String, _ operation: String) -> TreeError {
    let code = errno
    return TreeError.unreadable(path: path(), operation: operation, errno: Errno(rawValue: code))
}
