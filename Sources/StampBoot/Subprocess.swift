#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a child process with an explicit environment and collects what it prints.
///
/// Uses `posix_spawn`, which is safe in a process that already runs threads (Swift's runtime
/// always does). stdout and stderr share one pipe so the order of messages is kept; stdin is
/// `/dev/null`. The host environment is never inherited: the caller passes every variable.
enum Subprocess {
    /// What a finished child left behind.
    struct Result: Sendable {
        /// The exit status, or 128 + signal when it was killed.
        var status: Int32
        /// stdout and stderr, interleaved, decoded as UTF-8 (invalid bytes replaced).
        var output: String
    }

    /// Runs `arguments[0]` (an absolute path) and waits for it.
    /// - Throws: ``BootError/spawnFailed(command:errno:)`` when it cannot start.
    static func run(_ arguments: [String], environment: [String]) throws(BootError) -> Result {
        precondition(!arguments.isEmpty && arguments[0].hasPrefix("/"), "an absolute program path is required")
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .spawnFailed(command: arguments[0], errno: errno) }
        let (readEnd, writeEnd) = (fds[0], fds[1])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)

        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
            }
        }
        close(writeEnd)
        guard status == 0 else {
            close(readEnd)
            throw .spawnFailed(command: arguments[0], errno: status)
        }

        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 {
                collected.append(contentsOf: buffer[0..<n])
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        close(readEnd)

        var wstatus: Int32 = 0
        while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
        let exited = (wstatus & 0x7F) == 0
        let code = exited ? (wstatus >> 8) & 0xFF : 128 + (wstatus & 0x7F)
        return Result(status: code, output: String(decoding: collected, as: UTF8.self))
    }

    /// Finds `name` in the usual system directories (the host's, not the tree's).
    static func locate(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let path = directory + "/" + name
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    /// Calls `body` with a NULL-terminated C array of `strings`, valid only inside `body`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R
    ) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for p in pointers { free(p) } }
        return body(pointers)
    }
}
