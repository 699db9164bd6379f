import Foundation
import StampTestSupport
import SystemPackage
import Testing

@testable import StampIO

/// The one spawner: what each program stamp starts gets, checked from inside the program
/// (its /proc/self/status, its descriptors, its process group) with the system's own tools.
@Suite struct SpawnTests {
    func shell(_ script: String, configure: (inout Spawn.Command) -> Void = { _ in }) throws -> (Spawn.Termination, [String]) {
        var command = Spawn.Command("/bin/sh", ["-c", script])
        command.stdout = .pipe
        command.stderr = .toOutput
        configure(&command)
        let child = try command.start()
        var lines: [String] = []
        child.lines { lines.append($0) }
        return (child.wait(), lines)
    }

    @Test func exitCodesAndSignals() throws {
        #expect(try shell("exit 3").0 == .exited(3))
        #expect(try shell("true").0.succeeded)
        let killed = try shell("kill -TERM $$").0
        #expect(killed == .signalled(SIGTERM) && killed.status == 128 + SIGTERM)
    }

    @Test func argumentsEnvironmentDirectoryAndStreams() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (status, lines) = try shell(#"printf '%s\n' "$0" "$1"; env | LC_ALL=C sort; pwd; echo to-stderr >&2; cat"#) {
            $0.arguments += ["zero", "one two"]
            $0.environment = ["ONLY": "this", "PATH": "/usr/bin:/bin"]
            $0.directory = dir.path
        }
        #expect(status == .exited(0))
        // stdin is /dev/null: cat prints nothing; stderr follows stdout.
        #expect(lines.first == "zero" && lines.dropFirst().first == "one two")
        #expect(lines.contains("ONLY=this") && !lines.contains { $0.hasPrefix("HOME=") })
        #expect(lines.contains(dir.path) && lines.last == "to-stderr", "\(lines)")
    }

    @Test func outputToFilesTruncatedOrAppended() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let file = dir.file("log")
        for (text, append) in [("one", false), ("two", true)] {
            var command = Spawn.Command("/bin/echo", [text])
            command.stdout = .file(file, append: append)
            #expect(try command.start().wait().succeeded)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "one\ntwo\n")
        var again = Spawn.Command("/bin/echo", ["three"])
        again.stdout = .file(file, append: false)
        _ = try again.start().wait()
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "three\n")
    }

    /// No descriptor of this process but 0, 1 and 2 reaches the program, even one opened
    /// without close-on-exec.
    @Test func onlyTheStandardDescriptorsAreInherited() throws {
        let leaked = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        #expect(leaked > 2)
        defer { close(leaked) }
        let (status, lines) = try shell("ls /proc/$$/fd; true")  // `; true`: sh stays, and lists its own
        #expect(status.succeeded)
        #expect(lines.sorted() == ["0", "1", "2"], "\(lines)")
    }

    /// Signals ignored or blocked here are default and unblocked in the program.
    @Test func signalsAreReset() throws {
        let previous = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, previous) }
        var block = sigset_t()
        var old = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        var command = Spawn.Command("/bin/grep", ["-E", "^Sig(Ign|Blk):", "/proc/self/status"])
        command.stdout = .pipe
        let child = try command.start()
        var lines: [String] = []
        child.lines { lines.append($0) }
        #expect(child.wait().succeeded)
        // Masks in hexadecimal, bit N-1 for signal N (glibc keeps its own two real-time
        // signals, 32 and 33, ignored: they are not this process's to give).
        func mask(_ name: String) -> UInt64? {
            lines.first { $0.hasPrefix(name + ":") }.flatMap {
                UInt64($0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
            }
        }
        let blocked = try #require(mask("SigBlk"), "\(lines)")
        let ignored = try #require(mask("SigIgn"), "\(lines)")
        #expect(blocked == 0, "\(lines)")
        #expect(ignored & (1 << UInt64(SIGUSR1 - 1)) == 0 && ignored & 0x7FFF_FFFF == 0, "\(lines)")
    }

    @Test func processGroupAndKill() throws {
        var command = Spawn.Command("/bin/sleep", ["30"])
        command.newProcessGroup = true
        let child = try command.start()
        let stat = try String(contentsOfFile: "/proc/\(child.pid)/stat", encoding: .utf8)
        // Field 5 of /proc/PID/stat (after the parenthesised name) is the process group.
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        #expect(fields[2] == "\(child.pid)", "\(stat)")
        child.signal(SIGKILL, group: true)
        #expect(child.wait() == .signalled(SIGKILL))
    }

    /// The program (which would sleep for an hour) ends by SIGKILL once its task is cancelled.
    /// No wall-clock bound: under the unit phase's load the cancellation can take minutes to
    /// arrive (timing goals live in Benchmarks/); a program that ran out its hour would end
    /// with status 0 and fail the check.
    @Test func cancellationKillsTheProgram() async throws {
        let command = Spawn.Command("/bin/sleep", ["3600"])
        let task = Task { try await command.run { child in child.output() } }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let (termination, _) = try await task.value
        #expect(termination == .signalled(SIGKILL))
    }

    @Test func whichFindsExecutableFilesOnly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("tool-dir"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir.file("plain"), contents: Data("x".utf8))
        FileManager.default.createFile(
            atPath: dir.file("tool"), contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        #expect(Spawn.which("tool", searchPath: dir.path) == dir.file("tool"))
        #expect(Spawn.which("tool-dir", searchPath: dir.path) == nil)
        #expect(Spawn.which("plain", searchPath: dir.path) == nil)
        #expect(Spawn.which("sh", searchPath: dir.path) == nil)
        #expect(Spawn.which("sh").map { FileManager.default.isExecutableFile(atPath: $0) } == true)
        #expect(Spawn.which("stamp-no-such-tool") == nil)
    }

    @Test func aMissingProgramIsOneLineNamingIt() throws {
        do {
            _ = try Spawn.Command("/nonexistent/tool", []).start()
            Issue.record("a missing program started")
        } catch {
            #expect(error as? IOError == .system(path: "/nonexistent/tool", operation: "start", errno: .noSuchFileOrDirectory))
            #expect("\(error)" == "/nonexistent/tool: start: no such file or directory")
        }
    }
}
