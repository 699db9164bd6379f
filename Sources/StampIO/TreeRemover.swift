import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Removes a directory tree through directory descriptors, never through a path, so that
/// nobody can redirect the removal by swapping a directory for a symlink while it runs.
///
/// ```
/// parent fd ──openat(name, O_DIRECTORY|O_NOFOLLOW)──► dir fd ── unlinkat(dir fd, entry, 0)
///                                                        │        (EISDIR: descend into it)
///                                                        └─ openat("..") back up, checked to
///                                                           be the same inode it came from
/// ```
///
/// Every step is relative to an open directory: `openat` with `O_NOFOLLOW` never enters a
/// symlink (a symlink found anywhere is unlinked, its target untouched), `unlinkat` removes
/// the name in the directory already open, and the way back up through `..` is checked by
/// device and inode, so a directory moved elsewhere mid-removal stops the removal rather
/// than letting it continue somewhere else. Only one directory is open at a time, so any
/// depth (a 2,100-level deep layer) is removed under any open-file limit; the stack of
/// names kept in memory is what depth costs.
///
/// Another filesystem mounted inside the tree is left alone (as `rm --one-file-system`).
/// A directory of ours without write or search permission (a layer's 0500 or 0000 directory
/// unpacked by an ordinary user) is given 0700 first; entries that still cannot be removed
/// are skipped and the first failure is thrown at the end, naming its path.
public enum TreeRemover {
    /// The device and inode of a directory, to recognise it again.
    public struct Identity: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64

        public init(device: UInt64, inode: UInt64) {
            self.device = device
            self.inode = inode
        }

        init(_ st: stat) { self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }
    }

    /// Removes `name` (a directory, or anything else, which is unlinked) in the directory
    /// open as `parent`.
    ///
    /// - Parameters:
    ///   - expecting: when given, the directory must be this one (else nothing is removed).
    ///   - owner: when given, the directory must belong to this uid (else nothing is removed).
    ///   - display: how messages name the directory.
    /// - Returns: false when nothing was there or it was not the directory expected.
    /// - Throws: ``IOError/system(path:operation:errno:)`` for the first entry that could not
    ///   be removed (the rest of the tree is removed regardless).
    @discardableResult
    public static func remove(
        _ name: String, in parent: Int32, expecting: Identity? = nil, owner: uid_t? = nil, display: String
    ) throws -> Bool {
        var top = stat()
        guard fstatat(parent, name, &top, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return false }
            throw IOError.system(path: display, operation: "lstat", errno: Errno(rawValue: errno))
        }
        if let owner, top.st_uid != owner { return false }
        if (top.st_mode & S_IFMT) != S_IFDIR {
            if expecting != nil || owner != nil { return false }
            if unlinkat(parent, name, 0) != 0 && errno != ENOENT {
                throw IOError.system(path: display, operation: "unlink", errno: Errno(rawValue: errno))
            }
            return true
        }
        var fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0, errno == EACCES, top.st_uid == geteuid() {
            _ = fchmodat(parent, name, 0o700, AT_SYMLINK_NOFOLLOW)
            fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else {
            if errno == ENOENT || errno == ELOOP || errno == ENOTDIR { return false }
            throw IOError.system(path: display, operation: "open", errno: Errno(rawValue: errno))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, Identity(st) == Identity(top), expecting.map({ $0 == Identity(st) }) ?? true,
            owner.map({ $0 == st.st_uid }) ?? true
        else {
            close(fd)
            return false
        }
        var walk = Walk(display: display)
        walk.levels.append(Level(name: name, identity: Identity(st)))
        fd = walk.empty(fd)
        close(fd)
        if unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
            walk.note(display, "rmdir", errno)
        }
        if let failure = walk.failure { throw failure }
        return true
    }

    /// Removes the directory at `path` (the path's parent directories are trusted: they are
    /// followed as given; the last component is never followed).
    public static func remove(path: String, expecting: Identity? = nil, owner: uid_t? = nil) throws {
        let (directory, name) = split(path)
        let parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return }
            throw IOError.system(path: directory, operation: "open", errno: Errno(rawValue: errno))
        }
        defer { close(parent) }
        try remove(name, in: parent, expecting: expecting, owner: owner, display: path)
    }

    /// The identity of the directory at `path` (not following a last symlink), nil if none.
    public static func identity(of path: String) -> Identity? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return Identity(st)
    }

    static func split(_ path: String) -> (String, String) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let directory = trimmed[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(trimmed[trimmed.index(after: slash)...]))
    }

    struct Level {
        var name: String
        var identity: Identity
        /// Entries that could not be removed: not tried again.
        var skipped: Set<String> = []
    }

    /// One removal's state: the directories entered, and the first failure.
    struct Walk {
        let display: String
        var levels: [Level] = []
        var failure: IOError?

        var currentPath: String {
            ([display] + levels.dropFirst().map(\.name)).joined(separator: "/")
        }

        mutating func note(_ path: String, _ operation: String, _ code: Int32) {
            if failure == nil { failure = .system(path: path, operation: operation, errno: Errno(rawValue: code)) }
        }

        /// Empties the directory open as `start` (the last of `levels`), descending into
        /// subdirectories one at a time; returns the descriptor of that same directory.
        mutating func empty(_ start: Int32) -> Int32 {
            var fd = start
            var madeWritable = false
            while true {
                switch nextStep(fd, madeWritable: &madeWritable) {
                case .descend(let child, let name, let identity):
                    levels.append(Level(name: name, identity: identity))
                    close(fd)
                    fd = child
                    madeWritable = false
                case .done:
                    if levels.count == 1 { return fd }
                    let finished = levels.removeLast()
                    let up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    var st = stat()
                    guard up >= 0, fstat(up, &st) == 0, Identity(st) == levels.last!.identity else {
                        // Moved while we were inside: stop here rather than go on elsewhere.
                        note(currentPath + "/" + finished.name, "removal stopped: the directory was moved", ESTALE)
                        if up >= 0 { close(up) }
                        levels.removeSubrange(1...)
                        return fd
                    }
                    close(fd)
                    fd = up
                    if unlinkat(fd, finished.name, AT_REMOVEDIR) != 0 && errno != ENOENT {
                        note(currentPath + "/" + finished.name, "rmdir", errno)
                        levels[levels.count - 1].skipped.insert(finished.name)
                    }
                }
            }
        }

        enum Step {
            case descend(Int32, String, Identity)
            case done
        }

        /// Unlinks every non-directory entry of the directory open as `fd`; returns the first
        /// subdirectory to descend into, or `.done` when only skipped entries remain.
        mutating func nextStep(_ fd: Int32, madeWritable: inout Bool) -> Step {
            let copy = dup(fd)
            guard copy >= 0, let dir = fdopendir(copy) else {
                if copy >= 0 { close(copy) }
                note(currentPath, "opendir", errno)
                return .done
            }
            defer { closedir(dir) }
            rewinddir(dir)
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." || levels[levels.count - 1].skipped.contains(name) { continue }
                if entry.pointee.d_type != UInt8(DT_DIR) {
                    if unlinkat(fd, name, 0) == 0 || errno == ENOENT { continue }
                    if errno == EACCES || errno == EPERM, !madeWritable, ownDirectory(fd) {
                        madeWritable = true
                        _ = fchmod(fd, 0o700)
                        if unlinkat(fd, name, 0) == 0 { continue }
                    }
                    if errno != EISDIR {
                        note(currentPath + "/" + name, "unlink", errno)
                        levels[levels.count - 1].skipped.insert(name)
                        continue
                    }
                }
                var child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child < 0, errno == EACCES {
                    var st = stat()
                    if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_uid == geteuid(),
                        (st.st_mode & S_IFMT) == S_IFDIR
                    {
                        _ = fchmodat(fd, name, 0o700, AT_SYMLINK_NOFOLLOW)
                        child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    }
                }
                if child < 0 {
                    if errno == ENOENT { continue }
                    if errno == ELOOP || errno == ENOTDIR {
                        // Not a directory (any more): a symlink is unlinked, never followed.
                        if unlinkat(fd, name, 0) == 0 || errno == ENOENT { continue }
                    }
                    note(currentPath + "/" + name, "open", errno)
                    levels[levels.count - 1].skipped.insert(name)
                    continue
                }
                var st = stat()
                guard fstat(child, &st) == 0 else {
                    note(currentPath + "/" + name, "fstat", errno)
                    close(child)
                    levels[levels.count - 1].skipped.insert(name)
                    continue
                }
                // Another filesystem mounted here: its files are not ours to remove (as
                // `rm --one-file-system`); the mount point stays, and says why.
                if UInt64(st.st_dev) != levels[0].identity.device {
                    note(currentPath + "/" + name, "not removed: another filesystem is mounted there", EBUSY)
                    close(child)
                    levels[levels.count - 1].skipped.insert(name)
                    continue
                }
                if (st.st_mode & S_IWUSR) == 0 || (st.st_mode & S_IXUSR) == 0, st.st_uid == geteuid() {
                    _ = fchmod(child, 0o700)
                }
                return .descend(child, name, Identity(st))
            }
            return .done
        }

        func ownDirectory(_ fd: Int32) -> Bool {
            var st = stat()
            return fstat(fd, &st) == 0 && st.st_uid == geteuid()
        }
    }
}
