import Foundation
import Logging
import StampIO

/// A build's work directory, `$TMPDIR/stamp_build.XXXXXXXX/`, and the cleanup of stale ones.
///
/// ```
/// stamp_build.XXXXXXXX/
///   owner        "<pid> <start time in clock ticks>" of the stamp process that made it
///   hooks/       TMP_HOOKS_PATH: the merged hooks tree, dib-run-parts, package lists
///   mnt/         TMP_MOUNT_PATH: the root tree being built
///   image/       TMP_IMAGE_DIR
///   stage.sh     the stage driver
/// ```
///
/// A work directory whose owner process no longer exists (a build killed with SIGKILL) is
/// removed when the next build starts. Its mounts cannot have outlived the owner: they lived
/// in the stage's private mount namespace. A directory that still has something mounted below
/// it (in the host's namespace) is left alone, with a warning.
public struct WorkDirectory: Sendable {
    public static let prefix = "stamp_build."

    public let url: URL
    public var hooks: URL { url.appendingPathComponent("hooks") }
    public var root: URL { url.appendingPathComponent("mnt") }
    public var imageDirectory: URL { url.appendingPathComponent("image") }

    /// Creates a fresh work directory under `parent`, after removing stale ones.
    /// - Throws: ``ElementProblems`` naming the directory that could not be made.
    public static func create(under parent: URL, logger: Logger?) throws -> WorkDirectory {
        do {
            return try makeFresh(under: parent, logger: logger)
        } catch let problems as ElementProblems {
            throw problems
        } catch {
            throw ElementProblems([.hostSetup(path: parent.path, reason: ErrorLine.describe(error))])
        }
    }

    private static func makeFresh(under parent: URL, logger: Logger?) throws -> WorkDirectory {
        let fm = FileManager.default
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        removeStale(under: parent, logger: logger)
        var template = Array(parent.appendingPathComponent(prefix + "XXXXXX").path.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) }
        guard made != nil else {
            throw ElementProblems([.hostSetup(path: parent.path, reason: ErrorLine.systemReason(errno))])
        }
        let url = URL(fileURLWithPath: String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        let work = WorkDirectory(url: url)
        try ownerLine(pid: getpid()).map {
            try $0.write(to: url.appendingPathComponent("owner"), atomically: true, encoding: .utf8)
        }
        for dir in [work.hooks, work.root, work.imageDirectory] {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work.root.path)
        // Removed on SIGINT/SIGTERM too (unless the user keeps work directories).
        if ProcessInfo.processInfo.environment["STAMP_KEEP_WORKDIR"] == nil, let identity = TreeRemover.identity(of: url.path) {
            TemporaryFiles.shared.registerDirectory(url.path, identity: identity)
        }
        return work
    }

    /// `"<pid> <starttime>"` from `/proc/<pid>/stat` (field 22), so a reused PID is not taken
    /// for the owner.
    static func ownerLine(pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return "\(pid) \(fields[19])"
    }

    /// Removes every `stamp_build.*` under `parent` whose owner is gone.
    public static func removeStale(under parent: URL, logger: Logger?) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        let mountPoints = currentMountPoints()
        for name in names where name.hasPrefix(prefix) {
            let dir = parent.appendingPathComponent(name)
            let owner = (try? String(contentsOf: dir.appendingPathComponent("owner"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if let owner, let pid = owner.split(separator: " ").first.flatMap({ pid_t($0) }),
                ownerLine(pid: pid) == owner
            {
                continue  // its build is still running
            }
            if mountPoints.contains(where: { $0 == dir.path || $0.hasPrefix(dir.path + "/") }) {
                logger?.warning("stale work directory \(dir.path) still has mounts; leaving it")
                continue
            }
            // TMPDIR is often /tmp, where any user can plant a `stamp_build.*`: only our own
            // directories are removed, through descriptors (a symlink swapped in mid-removal
            // is unlinked, never followed).
            guard let identity = TreeRemover.identity(of: dir.path), ownedByUs(dir.path) else { continue }
            logger?.notice("removing stale work directory \(dir.path) from a build that was killed")
            try? TreeRemover.remove(path: dir.path, expecting: identity, owner: geteuid())
        }
    }

    static func ownedByUs(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_uid == geteuid()
    }

    /// Mount points of the calling process's namespace.
    static func currentMountPoints() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? String(fields[4]).replacingOccurrences(of: "\\040", with: " ") : nil
        }
    }

    /// Removes the work directory (the root tree included).
    public func remove() {
        try? TreeRemover.remove(path: url.path)
        TemporaryFiles.shared.unregisterDirectory(url.path)
    }
}
