import CStampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A walk of a tree stamp did not write itself (a built image's tree, whose links were made by
/// the image's own packages), for the reads `disk-image-create` makes of it after the build:
/// the manifests copied out, the size report.
///
/// ```
/// root fd ───────── openat2(root fd, "a/b", RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) ──► dir fd
///                                                    read every name, lstat each, readlink
///                                                    the links, close ──► events, in order:
///   .enter(dir) … .entry(file) … .enter(subdir) … .leave(subdir) … .leave(dir)
/// ```
///
/// Every directory is opened from the root by its path inside the tree, with no symbolic link
/// allowed on the way: a link of the tree is reported as a link, never followed out of it.
/// One directory is open at a time and the walk keeps its own stack (no recursion), so any
/// depth is read under any open-file limit and on any thread's stack; the names of one
/// directory per level are what depth costs. Entries come in the directory's own order
/// (readdir), as `du` and `cp` meet them.
struct TreeBeneath {
    /// One entry: its path inside the tree (bytes, no leading slash; empty for the root), its
    /// lstat, and for a symbolic link its target.
    struct Entry {
        var relative: [UInt8]
        var info: stat
        var linkTarget: [UInt8]?

        var isDirectory: Bool { info.st_mode & S_IFMT == S_IFDIR }
        var isRegular: Bool { info.st_mode & S_IFMT == S_IFREG }
        var isLink: Bool { info.st_mode & S_IFMT == S_IFLNK }
    }

    enum Event {
        /// A directory, before its entries: the visitor returns false to skip it (its entries
        /// and its `.leave` alike).
        case enter(Entry)
        /// Anything but a directory.
        case entry(Entry)
        /// A directory entered, after its entries.
        case leave(Entry)
    }

    /// A problem reading the tree: the path (the root's path joined with the entry's) and why.
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "\(path): \(reason)" }
    }

    let root: String
    let rootFD: Int32

    /// Opens `root` (itself may be reached through links: it is the caller's path, not the tree's).
    init(root: String) throws {
        self.root = root
        rootFD = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw Failure(path: root, reason: Self.errnoText()) }
    }

    /// The directory `relative` of `parent`'s tree as a tree of its own, reached beneath
    /// `parent`'s root with no link on the way; nil when it is missing, not a directory, or a
    /// link is on its way.
    init?(directory relative: [UInt8], of parent: TreeBeneath) {
        guard let fd = try? parent.open(relative, flags: O_RDONLY | O_DIRECTORY) else { return nil }
        root = parent.path(relative)
        rootFD = fd
    }

    func close() { _ = Glibc.close(rootFD) }

    /// The host path of an entry, for messages and for the caller's own writes.
    func path(_ relative: [UInt8]) -> String {
        relative.isEmpty ? root : root + "/" + String(decoding: relative, as: UTF8.self)
    }

    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)).lowercased() }

    /// Opens an entry of the tree beneath the root (no link anywhere on its path).
    func open(_ relative: [UInt8], flags: Int32) throws -> Int32 {
        let fd =
            relative.isEmpty
            ? stamp_open_beneath(rootFD, ".", flags) : relativeCString(relative) { stamp_open_beneath(rootFD, $0, flags) }
        guard fd >= 0 else { throw Failure(path: path(relative), reason: Self.errnoText()) }
        return fd
    }

    private func relativeCString<T>(_ relative: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (relative + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// The entries of directory `relative`, each lstat'ed and its link read, in readdir order.
    func list(_ relative: [UInt8]) throws -> [Entry] {
        let fd = try open(relative, flags: O_RDONLY | O_DIRECTORY)
        guard let dir = fdopendir(fd) else {
            let code = errno
            _ = Glibc.close(fd)
            throw Failure(path: path(relative), reason: Self.errnoText(code))
        }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let dirent = readdir(dir) else {
                if errno != 0 { throw Failure(path: path(relative), reason: Self.errnoText()) }
                break
            }
            let name = withUnsafeBytes(of: dirent.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let child = relative.isEmpty ? name : relative + [0x2F] + name
            var info = stat()
            let found = (name + [0]).withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { fstatat(dirfd(dir), $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) }
            }
            guard found == 0 else { throw Failure(path: path(child), reason: Self.errnoText()) }
            var entry = Entry(relative: child, info: info, linkTarget: nil)
            if entry.isLink {
                var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
                let length = (name + [0]).withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { cName in
                        buffer.withUnsafeMutableBufferPointer {
                            readlinkat(
                                dirfd(dir), cName.baseAddress!,
                                UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count)
                        }
                    }
                }
                guard length >= 0 else { throw Failure(path: path(child), reason: Self.errnoText()) }
                entry.linkTarget = Array(buffer.prefix(length))
            }
            entries.append(entry)
        }
        return entries
    }

    /// Walks the tree from its root (reported first, as `.enter`).
    func walk(_ visit: (Event) throws -> Bool) throws {
        let fd = try open([], flags: O_RDONLY | O_DIRECTORY)
        var info = stat()
        let got = fstat(fd, &info)
        _ = Glibc.close(fd)
        guard got == 0 else { throw Failure(path: root, reason: Self.errnoText()) }
        let top = Entry(relative: [], info: info, linkTarget: nil)
        guard try visit(.enter(top)) else { return }
        // One frame per open level: the directory, its entries, the next to visit.
        var stack: [(directory: Entry, entries: [Entry], next: Int)] = [(top, try list([]), 0)]
        while !stack.isEmpty {
            let level = stack.count - 1
            guard stack[level].next < stack[level].entries.count else {
                let done = stack.removeLast()
                _ = try visit(.leave(done.directory))
                continue
            }
            let entry = stack[level].entries[stack[level].next]
            stack[level].next += 1
            if entry.isDirectory {
                if try visit(.enter(entry)) { stack.append((entry, try list(entry.relative), 0)) }
            } else {
                _ = try visit(.entry(entry))
            }
        }
    }
}
