import CStampSupport
import Foundation
import SystemPackage

/// The one way stamp starts a program.
///
/// Every program stamp runs (the stage driver under `setpriv`/`unshare`, `mksquashfs`,
/// `docker load`, `cp`, the image size report, ova-compose's `--sign-script`) is started here;
/// the only other `exec` is the in-place re-execution into a user namespace
/// (`UserNamespace`) and the sandbox's own, in C, before Swift starts a thread.
///
/// ```
///  Spawn.Command ── start() ─► posix_spawn (CStampSupport/spawn.c)
///    executable, arguments        fd 0 ◄─ /dev/null | this process's | a file
///    environment, directory       fd 1 ◄─ a pipe (read with Child.lines/output) | /dev/null |
///    stdin, stdout, stderr                this process's | a file (truncated or appended)
///    newProcessGroup              fd 2 ◄─ the same, or fd 1
///                                 no other descriptor, every signal default and unblocked
///  Spawn.Child ── wait() ─► Termination (.exited(code) | .signalled(number))
///  Command.run(…) async: on a thread of its own; the child is killed when the task is cancelled
/// ```
public enum Spawn {
    /// What a program's standard input is.
    public enum Input: Sendable, Equatable {
        case null
        case inherit
        case file(String)
    }

    /// Where a program's standard output or error goes.
    public enum Output: Sendable, Equatable {
        case null
        case inherit
        /// A pipe read by the caller (``Child/lines(_:)``, ``Child/output(keepingLast:)``); one
        /// per program, which standard error shares when both ask for it.
        case pipe
        /// A file, created with mode 0644 when missing; truncated unless `append`.
        case file(String, append: Bool)
        /// Standard error only: wherever standard output goes.
        case toOutput
    }

    /// How a program ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// The exit code, or 128 + the signal's number as a shell reports it.
        public var status: Int32 {
            switch self {
            case .exited(let code): return code
            case .signalled(let signal): return 128 + signal
            }
        }
        public var succeeded: Bool { self == .exited(0) }
        public var description: String {
            switch self {
            case .exited(let code): return "exit \(code)"
            case .signalled(let signal): return "killed by signal \(signal)"
            }
        }
    }

    /// The first executable regular file named `tool` in the directories of `searchPath`, or,
    /// without it, of this process's `PATH` followed by the standard directories. A `tool`
    /// holding a `/` is itself checked.
    public static func which(_ tool: String, searchPath: String? = nil) -> String? {
        func executable(_ path: String) -> Bool {
            var st = stat()
            return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
        }
        guard !tool.isEmpty else { return nil }
        if tool.contains("/") { return executable(tool) ? tool : nil }
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? ""
        let fallback: [Substring] = searchPath == nil ? ["/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] : []
        for directory in path.split(separator: ":") + fallback where !directory.isEmpty {
            let candidate = "\(directory)/\(tool)"
            if executable(candidate) { return candidate }
        }
        return nil
    }

    /// A program to start: its path and arguments (not including `argv[0]`, which is the path).
    public struct Command: Sendable {
        public var executable: String
        public var arguments: [String]
        /// Nil: this process's environment.
        public var environment: [String: String]?
        /// Nil: this process's working directory.
        public var directory: String?
        public var stdin: Input = .null
        public var stdout: Output = .inherit
        public var stderr: Output = .inherit
        /// A process group of its own (signals sent to this process's group do not reach it).
        public var newProcessGroup = false

        public init(
            _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil
        ) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.directory = directory
        }

        /// Starts the program. Throws ``IOError/system(path:operation:errno:)`` naming the
        /// program (or the file that could not be opened for it).
        public func start() throws -> Child {
            var opened: [Int32] = []
            defer { for fd in opened { close(fd) } }
            func openFD(_ path: String, _ flags: Int32) throws -> Int32 {
                let fd = open(path, flags | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw IOError.system(path: path, operation: "open", errno: Errno(rawValue: errno)) }
                opened.append(fd)
                return fd
            }
            var readEnd: Int32 = -1
            func descriptor(_ output: Output, stdoutFD: Int32) throws -> Int32 {
                switch output {
                case .null: return try openFD("/dev/null", O_WRONLY)
                case .inherit: return -1
                case .toOutput: return stdoutFD >= 0 ? stdoutFD : 1
                case .file(let path, let append): return try openFD(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC))
                case .pipe where readEnd >= 0: return stdoutFD  // one pipe: stderr joins stdout's
                case .pipe:
                    var fds: [Int32] = [-1, -1]
                    guard stamp_pipe(&fds) == 0 else {
                        throw IOError.system(path: executable, operation: "pipe", errno: Errno(rawValue: errno))
                    }
                    opened.append(fds[1])
                    readEnd = fds[0]
                    return fds[1]
                }
            }
            let input: Int32
            switch stdin {
            case .null: input = try openFD("/dev/null", O_RDONLY)
            case .inherit: input = -1
            case .file(let path): input = try openFD(path, O_RDONLY)
            }
            let output = try descriptor(stdout == .toOutput ? .inherit : stdout, stdoutFD: -1)
            let error = try descriptor(stderr, stdoutFD: output)
            var pid: pid_t = 0
            let argv = [executable] + arguments
            let envp = environment.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }
            let result = withCStrings(argv) { argvPointer in
                withOptionalCStrings(envp) { envpPointer in
                    stamp_spawn(
                        &pid, executable, argvPointer, envpPointer, directory, input, output, error, newProcessGroup ? 1 : 0)
                }
            }
            guard result == 0 else {
                if readEnd >= 0 { close(readEnd) }
                throw IOError.system(path: executable, operation: "start", errno: Errno(rawValue: result))
            }
            return Child(pid: pid, output: readEnd >= 0 ? readEnd : nil)
        }

        /// Starts the program on a thread of its own, hands the child to `body` there (which
        /// reads its output and returns when done), then waits for it. If the task is
        /// cancelled, the child (its process group, when it has one) gets SIGKILL.
        ///
        /// A thread of its own, not a pool thread: a parent-death signal (`setpriv
        /// --pdeathsig`) follows the thread that started the child, which must not retire.
        public func run<T: Sendable>(
            threadName: String = "stamp-spawn", _ body: @escaping @Sendable (Child) throws -> T
        ) async throws -> (Termination, T) {
            let started = StartedChild()
            return try await withTaskCancellationHandler(
                operation: {
                    try await withCheckedThrowingContinuation { continuation in
                        let thread = Thread { [self] in
                            do {
                                let child = try start()
                                started.set(child, group: newProcessGroup)
                                let value = Result { try body(child) }
                                let termination = child.wait()
                                started.set(nil, group: false)
                                continuation.resume(with: value.map { (termination, $0) })
                            } catch {
                                continuation.resume(throwing: error)
                            }
                        }
                        thread.name = threadName
                        thread.start()
                    }
                },
                onCancel: { started.kill() })
        }
    }

    /// A started program. Its output pipe, when it has one, is closed by ``wait()``.
    public final class Child: @unchecked Sendable {
        public let pid: pid_t
        /// The read end of the program's output pipe (``Output/pipe``).
        public let outputFD: Int32?
        private var waited: Termination?

        init(pid: pid_t, output: Int32?) {
            self.pid = pid
            self.outputFD = output
        }

        /// Calls `body` with each line of the output (without its newline; a last line without
        /// one too), until the program closes it.
        public func lines(_ body: (String) -> Void) {
            var pending: [UInt8] = []
            chunks { chunk in
                pending += chunk
                var start = 0
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    body(String(decoding: pending[start..<newline], as: UTF8.self))
                    start = newline + 1
                }
                pending.removeFirst(start)
            }
            if !pending.isEmpty { body(String(decoding: pending, as: UTF8.self)) }
        }

        /// The whole output, of which only the last `limit` bytes are kept.
        public func output(keepingLast limit: Int = .max) -> [UInt8] {
            var kept: [UInt8] = []
            chunks { chunk in
                kept += chunk
                if kept.count > limit { kept.removeFirst(kept.count - limit) }
            }
            return kept
        }

        /// Reads the output pipe to its end, a chunk at a time.
        private func chunks(_ body: (ArraySlice<UInt8>) -> Void) {
            guard let fd = outputFD else { return }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                body(buffer[0..<n])
            }
        }

        /// Waits for the program to end (once; later calls return the same).
        @discardableResult
        public func wait() -> Termination {
            if let waited { return waited }
            if let fd = outputFD { close(fd) }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else {
                    waited = .exited(127)
                    return .exited(127)
                }
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift's Glibc module does not import.
            let signal = status & 0x7F
            let result: Termination = signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
            waited = result
            return result
        }

        /// Sends `signal` to the program (to its process group with `group`).
        public func signal(_ signal: Int32, group: Bool = false) {
            _ = kill(group ? -pid : pid, signal)
        }
    }

    /// The child of a running ``Command/run(threadName:_:)``, for its cancellation handler.
    private final class StartedChild: @unchecked Sendable {
        private let lock = NSLock()
        private var child: Child?
        private var group = false
        private var cancelled = false

        func set(_ child: Child?, group: Bool) {
            let kill = lock.withLock {
                self.child = child
                self.group = group
                return cancelled
            }
            if kill, let child { child.signal(SIGKILL, group: group) }
        }

        func kill() {
            let (child, group) = lock.withLock {
                cancelled = true
                return (self.child, self.group)
            }
            child?.signal(SIGKILL, group: group)
        }
    }
}

/// `argv`-style: a NULL-terminated array of C strings, valid inside `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(
    _ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    guard let strings else { return body(nil) }
    return withCStrings(strings) { body($0) }
}
