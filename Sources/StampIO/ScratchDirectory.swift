import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A private scratch directory, `BASE/LABEL-PID.XXXXXX` (mode 0700, made by `mkdtemp`, so it
/// is ours and new), removed with everything in it when ``remove()`` is called, on
/// SIGINT/SIGTERM/SIGHUP (registered with ``TemporaryFiles``), and by the next stamp of the
/// same user when this process was killed with SIGKILL.
///
/// `BASE` is `TMPDIR` when set; else /dev/shm (a tmpfs) when the caller knows the bytes it
/// will hold and both the tmpfs and the available memory have that much room, unless
/// `STAMP_NO_TMPFS=1`; else /var/tmp.
///
/// Both /dev/shm and /var/tmp are world-writable: any local user can plant a directory named
/// like a stale scratch directory there. So stale entries are removed only when they belong
/// to the calling user, are directories (never symlinks) when looked at, and are removed
/// through directory descriptors (``TreeRemover``), never by path.
public final class ScratchDirectory: @unchecked Sendable {
    // @unchecked: every property is a constant.
    /// The directory (its parents resolved, so that no symlink stands between it and paths
    /// made under it).
    public let path: String
    /// Its device and inode when made: ``remove()`` removes only that directory.
    public let identity: TreeRemover.Identity

    /// Makes a scratch directory under ``base(memoryBytes:)`` (or `base` when given), after
    /// removing stale ones of the same label and user.
    public init(label: String, memoryBytes: UInt64? = nil, base given: String? = nil) throws {
        let base = given ?? Self.base(memoryBytes: memoryBytes)
        Self.removeStale(in: base, label: label)
        var template = Array("\(base)/\(label)-\(getpid()).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw IOError.system(path: base, operation: "mkdtemp", errno: Errno(rawValue: errno))
        }
        let resolved = realpath(made, nil)
        path = resolved.map { String(cString: $0) } ?? String(cString: made)
        free(resolved)
        guard let identity = TreeRemover.identity(of: path) else {
            throw IOError.system(path: path, operation: "lstat", errno: Errno(rawValue: errno))
        }
        self.identity = identity
        TemporaryFiles.shared.registerDirectory(path, identity: identity)
    }

    /// Where a scratch directory goes: see the type's description.
    public static func base(memoryBytes: UInt64?) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let tmp = environment["TMPDIR"], !tmp.isEmpty { return tmp }
        if let bytes = memoryBytes, environment["STAMP_NO_TMPFS"] != "1", memoryRoom() >= bytes { return "/dev/shm" }
        return "/var/tmp"
    }

    /// Removes `LABEL-PID.*` directories under `base` of stamp processes that no longer exist
    /// (killed by a signal no handler sees), so a tree left in memory does not stay there
    /// until reboot: only directories of the calling user, through descriptors.
    public static func removeStale(in base: String, label: String) {
        let parent = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        let prefix = label + "-"
        for name in listNames(parent) where name.hasPrefix(prefix) {
            let pidText = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH,
                name.dropFirst(prefix.count + pidText.count).hasPrefix(".")
            else { continue }
            try? TreeRemover.remove(name, in: parent, owner: geteuid(), display: base + "/" + name)
        }
    }

    static func listNames(_ fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return []
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The smaller of /dev/shm's free space (0 when it is not a tmpfs) and MemAvailable.
    public static func memoryRoom() -> UInt64 {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8),
            mounts.split(separator: "\n").contains(where: {
                $0.split(separator: " ").dropFirst().prefix(2) == ["/dev/shm", "tmpfs"]
            })
        else { return 0 }
        var fs = statvfs()
        guard statvfs("/dev/shm", &fs) == 0 else { return 0 }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        guard let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) })
        else { return 0 }
        return min(free, kib * 1024)
    }

    /// Removes the directory and everything in it (through descriptors; only if it is still
    /// the directory made). Errors are ignored: this runs on the way out.
    public func remove() {
        try? TreeRemover.remove(path: path, expecting: identity)
        TemporaryFiles.shared.unregisterDirectory(path)
    }
}
