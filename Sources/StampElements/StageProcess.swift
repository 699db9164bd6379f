import Foundation
import Logging

/// Runs one ``StageScript`` in its own PID and mount namespace and turns its output into log
/// lines, per-script timings and, on failure, an ``ElementError``.
///
/// The child is spawned from a dedicated `Thread` that stays alive until the child exits:
/// `setpriv --pdeathsig KILL` ties `unshare` to the *thread* that forked it, so the signal must
/// not fire because a pool thread retired.
struct StageProcess: Sendable {
    /// Where the driver, the runner and the tree live.
    var driver: URL
    var environment: [String: String]
    /// Hook file origins, to name the element of a failed script.
    var origins: [String: String]
    var logger: Logger?

    typealias Timing = ScriptTiming

    struct Outcome: Sendable {
        var exitCode: Int32
        var completed: Bool
        var timings: [Timing]
        var failure: Timing?
        var errorMessage: String?
        /// The last line the failed script printed (see ``Monitor/lastOutput``).
        var failureOutput: String?
        /// The last line of output of the stage, for a driver that ended early.
        var lastOutput: String?
    }

    /// The command line that isolates the driver.
    var arguments: [String] {
        [
            "--pdeathsig", "KILL", "--", "unshare", "--mount", "--propagation", "private", "--pid", "--fork",
            "--kill-child", "--", "/bin/sh", driver.path,
        ]
    }

    func run() async throws -> Outcome {
        let outcome: Outcome = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                do {
                    continuation.resume(returning: try self.runBlocking())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "stamp-stage"
            thread.start()
        }
        if !outcome.completed {
            if let failure = outcome.failure {
                throw ElementProblems([
                    .scriptFailed(
                        element: failure.phase == "packages" ? nil : origins["\(failure.phase)/\(failure.script)"],
                        phase: failure.phase, script: failure.script, exitCode: failure.status,
                        output: outcome.failureOutput)
                ])
            }
            let reason = outcome.errorMessage ?? outcome.lastOutput.map { "the stage driver ended early: \($0)" }
            throw ElementProblems([
                .stageFailed(reason: reason ?? "the stage driver ended early", exitCode: outcome.exitCode)
            ])
        }
        return outcome
    }

    /// Spawns, reads every line, waits. Runs on the dedicated thread.
    private func runBlocking() throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.which("setpriv") ?? "/usr/bin/setpriv")
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let reader = pipe.fileHandleForReading
        var monitor = Monitor(logger: logger, hooks: environment["TMP_HOOKS_PATH"] ?? "")
        var pending = Data()
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                monitor.handle(line)
            }
        }
        if !pending.isEmpty { monitor.handle(String(decoding: pending, as: UTF8.self)) }
        process.waitUntilExit()
        return Outcome(
            exitCode: process.terminationStatus, completed: monitor.completed && process.terminationStatus == 0,
            timings: monitor.timings, failure: monitor.failure, errorMessage: monitor.errorMessage,
            failureOutput: monitor.failureOutput, lastOutput: monitor.lastOutput)
    }

    /// The first executable `tool` on stamp's PATH or, failing that, in the standard
    /// directories; with `searchPath`, on that colon list only.
    static func which(_ tool: String, searchPath: String? = nil) -> String? {
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        let fallback: [Substring] = searchPath == nil ? ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] : []
        for dir in path.split(separator: ":") + fallback {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Parses the driver's `@@stamp@@` lines; everything else is element output.
    struct Monitor {
        var logger: Logger?
        var hooks: String
        var timings: [Timing] = []
        var failure: Timing?
        var completed = false
        var errorMessage: String?
        /// The last non-blank line of element output since the current script started (shell
        /// trace lines, `+ …`, skipped), cut to 300 characters: it usually names the problem
        /// ("debootstrap: command not found"), so the one-line error of a failed build quotes it.
        var lastOutput: String?
        var failureOutput: String?
        var phaseStart = ContinuousClock.now
        var scriptStart = ContinuousClock.now
        var phaseTimings: [Timing] = []

        mutating func handle(_ line: String) {
            guard line.hasPrefix(RunParts.marker + " ") else {
                logger?.info("\(line)")
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty && !text.hasPrefix("+") { lastOutput = String(text.prefix(300)) }
                return
            }
            let fields = line.dropFirst(RunParts.marker.count + 1).split(separator: " ", maxSplits: 3).map(String.init)
            switch fields.first {
            case "phase-start" where fields.count >= 2:
                phaseStart = .now
                phaseTimings = []
                logger?.info("Running hooks from \(hooks)/\(fields[1])")
            case "start" where fields.count >= 3:
                scriptStart = .now
                lastOutput = nil
                logger?.info("dib-run-parts Running \(hooks)/\(fields[1])/\(fields[2])")
            case "end" where fields.count >= 4:
                let elapsed = ContinuousClock.now - scriptStart
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let timing = Timing(phase: fields[1], script: fields[2], seconds: seconds, status: Int32(fields[3]) ?? 1)
                timings.append(timing)
                phaseTimings.append(timing)
                if timing.status != 0 {
                    failure = timing
                    failureOutput = lastOutput
                    logger?.error("dib-run-parts \(fields[2]) failed with exit code \(timing.status)")
                } else {
                    logger?.info("dib-run-parts \(fields[2]) completed in \(String(format: "%.3f", seconds)) s")
                }
            case "phase-end" where fields.count >= 2:
                guard !phaseTimings.isEmpty else { return }
                logger?.info("----------------------- PROFILING -----------------------")
                logger?.info("Target: \(fields[1])")
                for timing in phaseTimings {
                    let name = timing.script.padding(toLength: max(40, timing.script.count), withPad: " ", startingAt: 0)
                    logger?.info("\(name) \(String(format: "%8.3f", timing.seconds))")
                }
                logger?.info("--------------------- END PROFILING ---------------------")
            case "break" where fields.count >= 2:
                logger?.notice("break point \(fields[1])")
            case "error":
                errorMessage = fields.dropFirst().joined(separator: " ")
                logger?.error("\(errorMessage ?? "")")
            case "stage-done":
                completed = true
            default:
                logger?.info("\(line)")
            }
        }
    }
}

/// One finished hook script: its phase directory, name, wall time and exit status.
public struct ScriptTiming: Sendable, Equatable {
    public var phase: String
    public var script: String
    public var seconds: Double
    public var status: Int32
}
