import Foundation
import Logging
import StampIO

/// Runs one ``StageScript`` in its own PID and mount namespace and turns its output into log
/// lines, per-script timings and, on failure, an ``ElementError``.
///
/// The child is spawned by ``Spawn`` from a dedicated `Thread` that stays alive until the child
/// exits: `setpriv --pdeathsig KILL` ties `unshare` to the *thread* that forked it, so the
/// signal must not fire because a pool thread retired. A cancelled build kills it.
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
        var command = Spawn.Command(Spawn.which("setpriv") ?? "/usr/bin/setpriv", arguments, environment: environment)
        command.stdout = .pipe
        command.stderr = .toOutput
        let (logger, hooks) = (logger, environment["TMP_HOOKS_PATH"] ?? "")
        let (termination, monitor) = try await command.run(threadName: "stamp-stage") { child in
            var monitor = Monitor(logger: logger, hooks: hooks)
            child.lines { monitor.handle($0) }
            return monitor
        }
        let outcome = Outcome(
            exitCode: termination.status, completed: monitor.completed && termination.succeeded,
            timings: monitor.timings, failure: monitor.failure, errorMessage: monitor.errorMessage,
            failureOutput: monitor.failureOutput, lastOutput: monitor.lastOutput)
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
