import CStampSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The Linux calls stamp needs beyond swift-system, in one place so they can be found and
/// reviewed. Each returns a Swift value or throws `Errno`.
public enum Syscalls {
    /// copy_file_range(2): copies up to `length` bytes inside the kernel. Returns bytes copied
    /// (0 at the source's end of file).
    public static func copyFileRange(
        from source: FileDescriptor, at sourceOffset: UInt64,
        to target: FileDescriptor, at targetOffset: UInt64, length: Int
    ) throws(Errno) -> Int {
        while true {
            let n = stamp_copy_file_range(source.rawValue, Int64(sourceOffset), target.rawValue, Int64(targetOffset), length)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw Errno(rawValue: errno)
        }
    }

    /// The data regions of an open file as `[start, end)` byte ranges, found with
    /// SEEK_DATA/SEEK_HOLE. A filesystem without hole reporting yields one region.
    public static func dataRegions(of fd: FileDescriptor, size: UInt64) throws(Errno) -> [Range<UInt64>] {
        var regions: [Range<UInt64>] = []
        var position: Int64 = 0
        let end = Int64(size)
        while position < end {
            let data = stamp_seek_data(fd.rawValue, position)
            if data < 0 {
                if errno == ENXIO { break }
                if errno == EINVAL || errno == ENOTSUP { return size > 0 ? [0..<size] : [] }
                throw Errno(rawValue: errno)
            }
            if data >= end { break }
            var hole = stamp_seek_hole(fd.rawValue, data)
            if hole < 0 { throw Errno(rawValue: errno) }
            hole = min(hole, end)
            regions.append(UInt64(data)..<UInt64(hole))
            position = hole
        }
        return regions
    }

    /// Opens a source file for reading without updating its access time (so that reading a
    /// tree does not change what the next scan of it sees), and without following a symlink.
    public static func openSource(_ path: String) throws(Errno) -> FileDescriptor {
        try openSource(Array(path.utf8))
    }

    /// ``openSource(_:)-(String)`` for a path given as its exact bytes (names need not be UTF-8).
    public static func openSource(_ path: [UInt8]) throws(Errno) -> FileDescriptor {
        let fd = (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { stamp_open_source($0.baseAddress!) }
        }
        if fd < 0 { throw Errno(rawValue: errno) }
        return FileDescriptor(rawValue: fd)
    }

    /// Deallocates `[offset, offset+length)` of a file, leaving its size unchanged.
    public static func punchHole(_ fd: FileDescriptor, offset: UInt64, length: UInt64) throws(Errno) {
        if stamp_punch_hole(fd.rawValue, Int64(offset), Int64(length)) != 0 { throw Errno(rawValue: errno) }
    }

    /// Tells the kernel a file will be read front to back (a hint; never fails).
    /// Starts writing back the dirty pages of `[offset, offset+length)` and returns at once,
    /// so that the final fsync finds most of a big output already on its way to the disk.
    public static func startWriteback(_ fd: FileDescriptor, offset: UInt64, length: UInt64) {
        stamp_start_writeback(fd.rawValue, Int64(offset), Int64(length))
    }

    public static func adviseSequential(_ fd: FileDescriptor) { stamp_advise_sequential(fd.rawValue) }

    /// Asks the kernel to start reading a range ahead of use (a hint; never fails).
    public static func adviseWillNeed(_ fd: FileDescriptor, offset: UInt64, length: UInt64) {
        stamp_advise_willneed(fd.rawValue, Int64(offset), Int64(length))
    }

    /// ftruncate(2).
    public static func truncate(_ fd: FileDescriptor, size: UInt64) throws(Errno) {
        if ftruncate(fd.rawValue, off_t(size)) != 0 { throw Errno(rawValue: errno) }
    }

    /// fstat(2): the size of an open file.
    public static func size(of fd: FileDescriptor) throws(Errno) -> UInt64 {
        var st = stat()
        if fstat(fd.rawValue, &st) != 0 { throw Errno(rawValue: errno) }
        return UInt64(st.st_size)
    }

    /// fsync(2): the file's data and metadata reach stable storage before this returns.
    public static func sync(_ fd: FileDescriptor) throws(Errno) {
        while fsync(fd.rawValue) != 0 {
            if errno != EINTR { throw Errno(rawValue: errno) }
        }
    }

    /// fsync(2) of a directory, so that a rename or create inside it survives a crash.
    public static func syncDirectory(_ path: String) throws(Errno) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Errno(rawValue: errno) }
        defer { close(fd) }
        while fsync(fd) != 0 {
            // Some filesystems cannot sync a directory; the rename is then as durable as it gets.
            if errno == EINVAL || errno == EROFS { return }
            if errno != EINTR { throw Errno(rawValue: errno) }
        }
    }

    /// rename(2).
    public static func rename(_ from: String, to: String) throws(Errno) {
        if Glibc.rename(from, to) != 0 { throw Errno(rawValue: errno) }
    }

    /// unlink(2), ignoring a missing file.
    public static func unlinkIfPresent(_ path: String) {
        _ = Glibc.unlink(path)
    }

    /// The number of CPUs this process may use.
    public static var cpuCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }

    /// Writes `bytes` to `relative` (mode 0644) in the tree at `root` as stamp's own file: the
    /// directories resolve as the tree sees them from inside (its symlinks, absolute ones
    /// too, stay within it: openat2 RESOLVE_IN_ROOT; missing ones are made, 0755), and a
    /// symlink in the file's place is replaced by the file, never followed. For stamp's edits
    /// of a tree that may come from an image (its fstab): nothing of the host is reached.
    public static func writeInRoot(_ root: String, _ relative: String, _ bytes: [UInt8]) throws(Errno) {
        let rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootfd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(rootfd) }
        let slash = relative.lastIndex(of: "/")
        let parent = slash.map { String(relative[..<$0]) } ?? "."
        let name = slash.map { String(relative[relative.index(after: $0)...]) } ?? relative
        guard stamp_mkdirs_in_root(rootfd, parent, 0o755) == 0 else { throw Errno(rawValue: errno) }
        let dirfd = stamp_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY, 0)
        guard dirfd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(dirfd) }
        var st = stat()
        if fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
            guard unlinkat(dirfd, name, 0) == 0 else { throw Errno(rawValue: errno) }
        }
        let fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        let file = FileDescriptor(rawValue: fd)
        defer { try? file.close() }
        do {
            _ = try file.writeAll(bytes)
        } catch {
            throw error as? Errno ?? Errno.ioError
        }
    }

    /// `mkdir -p relative` inside the tree at `root`, resolved as ``writeInRoot(_:_:_:)`` does.
    public static func makeDirectoriesInRoot(_ root: String, _ relative: String) throws(Errno) {
        let rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootfd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(rootfd) }
        guard stamp_mkdirs_in_root(rootfd, relative, 0o755) == 0 else { throw Errno(rawValue: errno) }
    }
}
