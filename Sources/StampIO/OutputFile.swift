import CStampSupport
import Dispatch
import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A file written under a temporary name beside its final path and renamed into place only
/// when complete, so that a failed or killed build never leaves a half-written file under a
/// final name.
///
/// ```swift
/// let out = try OutputFile(path: "disk.qcow2")
/// try out.descriptor.writeAll(toAbsoluteOffset: 0, header)
/// try out.commit()          // rename(".disk.qcow2.stamp-1234-1-partial", "disk.qcow2")
/// ```
///
/// The temporary name, `.NAME.stamp-PID-N-partial`, is chosen so that other tools that clean
/// the output directory do not take it for one of their own outputs: nodepool-builder deletes
/// every file there that matches `^(.*)-([abcdef\d]+)\.(?:\w+)$` and that it does not know (an
/// earlier `.NAME.stamp-PID-N.tmp` matched, and builds lost their outputs mid-write). A name
/// whose last dot-separated part holds a `-` cannot match, as DIB's own `NAME.qcow2-new` cannot.
///
/// If `commit()` is never called, `deinit` removes the temporary file. SIGINT and SIGTERM
/// remove every open temporary file before the process exits (see ``TemporaryFiles``);
/// after SIGKILL only the temporary name can remain, never the final one.
public final class OutputFile {
    /// The final path.
    public let path: String
    /// The temporary path written until ``commit()``.
    public let temporaryPath: String
    /// The open descriptor (read-write).
    public let descriptor: FileDescriptor
    /// The directory holding both names ("." for a bare name).
    private let directory: String
    private var finished = false

    /// Creates the temporary file (mode 0644) in the final path's directory.
    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let prefix = slash == nil ? "" : directory + "/"
        self.directory = directory.isEmpty ? "/" : directory
        try OutputFile.checkReplaceable(path)
        OutputFile.removeStale(directory: directory, name: name)
        let temporary = prefix + OutputFile.temporaryName(for: name, pid: getpid(), serial: OutputFile.nextSerial())
        self.temporaryPath = temporary
        self.descriptor = try withPath(path, "create") {
            try FileDescriptor.open(
                FilePath(temporary), .readWrite, options: [.create, .exclusiveCreate, .truncate],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
        TemporaryFiles.shared.register(temporaryPath)
    }

    /// Sets the final size (extending with a hole where needed), flushes the data to stable
    /// storage (fsync), renames the temporary file to its final path and syncs the directory,
    /// so that once this returns a power loss cannot leave a short or empty file under the
    /// final name. (mke2fs and qemu-img also fsync before they exit.)
    public func commit(size: UInt64? = nil) throws {
        precondition(!finished, "commit after close")
        if let size { try withPath(path, "truncate") { try Syscalls.truncate(descriptor, size: size) } }
        try withPath(path, "fsync") { try Syscalls.sync(descriptor) }
        try withPath(path, "close") { try descriptor.close() }
        finished = true
        // Replacing an existing file by rename makes ext4 flush the new file's delayed
        // allocations first (auto_da_alloc), seconds for a big image; the complete image is
        // already on disk under its temporary name, so remove the old one first.
        Syscalls.unlinkIfPresent(path)
        try withPath(path, "rename") { try Syscalls.rename(temporaryPath, to: path) }
        TemporaryFiles.shared.unregister(temporaryPath)
        try withPath(path, "fsync directory") { try Syscalls.syncDirectory(directory) }
    }

    /// Closes and removes the temporary file; the final path is left untouched.
    public func discard() {
        guard !finished else { return }
        finished = true
        try? descriptor.close()
        Syscalls.unlinkIfPresent(temporaryPath)
        TemporaryFiles.shared.unregister(temporaryPath)
    }

    deinit { discard() }

    /// Refuses a final path that names a device node, FIFO or socket (directly or through a
    /// symlink): ``commit()`` replaces the final name, and `stamp convert IN -O raw /dev/sdX`
    /// must not leave a regular file where the device node was.
    public static func checkReplaceable(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        let kind: String
        switch st.st_mode & S_IFMT {
        case S_IFREG, S_IFDIR: return  // a directory is refused where it is opened, as before
        case S_IFBLK: kind = "a block device"
        case S_IFCHR: kind = "a character device"
        case S_IFIFO: kind = "a FIFO"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        throw OutputRefused(path: path, kind: kind)
    }

    /// The temporary name of final name `name`: `.NAME.stamp-PID-N-partial`.
    public static func temporaryName(for name: String, pid: Int32, serial: Int) -> String {
        "." + name + ".stamp-\(pid)-\(serial)" + temporarySuffix
    }

    /// What every temporary name ends with.
    public static let temporarySuffix = "-partial"

    /// Removes `.NAME.stamp-PID-N-partial` files (and the `.NAME.stamp-PID-N.tmp` of earlier
    /// versions) left by a stamp process that no longer exists (one killed with SIGKILL, which
    /// no handler can catch).
    static func removeStale(directory: String, name: String) {
        guard let dir = opendir(directory.isEmpty ? "." : directory) else { return }
        defer { closedir(dir) }
        let prefix = "." + name + ".stamp-"
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard file.hasPrefix(prefix), file.hasSuffix(temporarySuffix) || file.hasSuffix(".tmp") else { continue }
            let pidText = file.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            Syscalls.unlinkIfPresent((directory.isEmpty ? "." : directory) + "/" + file)
        }
    }

    nonisolated(unsafe) private static var serial = 0
    private static let serialLock = DispatchQueue(label: "stamp.outputfile.serial")
    private static func nextSerial() -> Int {
        serialLock.sync {
            serial += 1
            return serial
        }
    }
}

/// An output path that names something stamp never replaces (a device node, a FIFO).
public struct OutputRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var kind: String
    public var description: String {
        "\(path): output is \(kind); stamp writes regular files only and never replaces a device node or FIFO"
    }
}

/// The process-wide list of temporary output files and scratch directories, removed on
/// SIGINT/SIGTERM/SIGHUP.
public final class TemporaryFiles: @unchecked Sendable {
    // @unchecked: `paths` and `directories` are only touched on `queue`.
    public static let shared = TemporaryFiles()
    private let queue = DispatchQueue(label: "stamp.temporary-files")
    private var paths: Set<String> = []
    /// Scratch directories by path, with the identity they had when made (see
    /// ``ScratchDirectory``): removed through descriptors, only if still the same directory.
    private var directories: [String: TreeRemover.Identity] = [:]

    func register(_ path: String) { queue.sync { _ = paths.insert(path) } }
    func unregister(_ path: String) { queue.sync { _ = paths.remove(path) } }

    /// Registers a scratch directory of ours, removed with everything in it on a signal.
    public func registerDirectory(_ path: String, identity: TreeRemover.Identity) {
        queue.sync { directories[path] = identity }
    }

    public func unregisterDirectory(_ path: String) { queue.sync { _ = directories.removeValue(forKey: path) } }

    /// Removes every registered temporary file and scratch directory now.
    public func removeAll() {
        queue.sync {
            for p in paths { Syscalls.unlinkIfPresent(p) }
            paths.removeAll()
            for (path, identity) in directories {
                try? TreeRemover.remove(path: path, expecting: identity, owner: geteuid())
            }
            directories.removeAll()
        }
    }

    /// Installs SIGINT/SIGTERM/SIGHUP handlers that remove temporary files and exit with
    /// 128+signal. Call once from an executable's entry point.
    ///
    /// The signals are caught (a C handler writes the number to a pipe, a thread of ours
    /// does the rest), not ignored: an ignored signal stays ignored in every program the
    /// process starts, so element scripts, apt and `timeout` would have run deaf to SIGTERM.
    public func installSignalHandlers() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let reader = ends[0]
        let thread = Thread { [weak self] in
            var number: UInt8 = 0
            while read(reader, &number, 1) != 1 {
                if errno != EINTR { return }
            }
            let sig = Int32(number)
            self?.removeAll()
            let message = "stamp: interrupted by signal \(sig); temporary files removed\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            _exit(128 + sig)
        }
        thread.name = "stamp-signals"
        thread.start()
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            _ = stamp_catch_signal(sig, ends[1])
            sigaddset(&unblock, sig)
        }
        // A parent may have started us with these blocked (a blocked mask is inherited, as
        // test runners' children show): unblocked on this thread, the entry point's, so
        // they are delivered.
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }
}
