// disk-image-create: DIB's command line over stamp's engine.
//
// Parses DIB's whole getopt surface (DIBCommandLine), validates the element plan (every
// problem at once), runs the element phases in a private mount and PID namespace
// (ElementBuild), and writes the outputs natively (DIBBuild → Packer). STAMP_PLAN_ONLY=1
// prints the plan (outputs, resolved elements, layout) and stops.
import Foundation
import Logging
import StampConfig
import StampDIB
import StampElements
import StampIO
import StampPipeline

Sandbox.runIfRequested()  // a hidden re-execution from an element stage (Sandbox.swift)
LoggingSystem.bootstrap { _ in LogLineHandler() }
// SIGINT/SIGTERM/SIGHUP (nodepool's timeout, Ctrl-C) remove the outputs' temporary files
// before exiting 128+signal; the element stages die with this process (--pdeathsig).
TemporaryFiles.shared.installSignalHandlers()
let logger = Logger(label: "disk-image-create")
let environment = ProcessInfo.processInfo.environment

/// Ends the run: one line on stderr naming the problem (Foundation's errors as `path: reason`,
/// never folded over several lines), exit status 1 as DIB's. With `--logfile` the log ends
/// with the same line, timestamped. It is never also written to standard output, so a
/// terminal shows it once whatever `DIB_QUIET` says.
func fail(_ message: String) -> Never {
    TemporaryFiles.shared.removeAll()
    let line = "disk-image-create: \(message)"
    FileHandle.standardError.write(Data((line + "\n").utf8))
    if let log = LogLine.current.logfile { LogLine.writeAll(log, "\(LogLine.timestamp()) | \(line)\n") }
    exit(1)
}

/// Routes the log as DIB's output filter does. DIB sends every line through a filter that
/// writes it to standard output (timestamped unless `DIB_NO_TIMESTAMP=1`) when not quiet,
/// and to the `--logfile` FILE (appended, always timestamped). `DIB_QUIET=1` silences
/// standard output; a log file with `DIB_QUIET` unset or empty implies it, `DIB_QUIET=0`
/// keeps both. With a log file, `Output logs going to: FILE` is printed first whatever
/// `DIB_QUIET` says.
///
/// When quiet, file descriptor 1 itself points at the log file (or /dev/null), so that
/// nothing written there directly reaches the terminal either. The log file's descriptor
/// stays open across the re-execution into a user namespace (``UserNamespace``), named by
/// `STAMP_DIB_LOG_FD`, so the file is opened and announced once.
func routeOutput(logfile: String?) {
    func number(_ name: String) -> Int? { environment[name].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    let quietSet = !(environment["DIB_QUIET"] ?? "").isEmpty
    let quiet = logfile != nil && !quietSet ? true : number("DIB_QUIET") == 1
    var destinations = LogLine.Destinations(stdout: 1, timestamps: number("DIB_NO_TIMESTAMP") != 1, logfile: nil)
    if let path = logfile {
        if let inherited = environment["STAMP_DIB_LOG_FD"].flatMap(Int32.init), fcntl(inherited, F_GETFD) >= 0 {
            destinations.logfile = inherited
        } else {
            LogLine.writeAll(1, "Output logs going to: \(path)\n")
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { fail("--logfile \(path): \(String(cString: strerror(errno)).lowercased())") }
            // Above the descriptors the standard streams and the build use, kept across exec.
            let kept = fcntl(fd, F_DUPFD, 10)
            guard kept >= 0 else { fail("--logfile \(path): \(String(cString: strerror(errno)).lowercased())") }
            close(fd)
            destinations.logfile = kept
            setenv("STAMP_DIB_LOG_FD", String(kept), 1)
        }
    }
    if quiet {
        destinations.stdout = nil
        if let log = destinations.logfile {
            dup2(log, 1)
        } else {
            let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
            if null >= 0 {
                dup2(null, 1)
                close(null)
            }
        }
    }
    LogLine.configure(destinations)
}

func fail(_ error: Error) -> Never {
    fail(ErrorLine.describe(error))
}

/// `text` with every line wider than `width` columns wrapped at spaces; an option line's
/// continuation is indented to its description's column (after the first run of two spaces).
func wrapped(_ text: String, width: Int = 80) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        guard line.count > width else {
            out.append(line)
            continue
        }
        let chars = Array(line)
        var column = 0
        var i = 2
        while i + 1 < chars.count, column == 0 {
            if chars[i] == " ", chars[i + 1] == " " {
                var j = i
                while j < chars.count, chars[j] == " " { j += 1 }
                column = j
            }
            i += 1
        }
        let indent = String(repeating: " ", count: column > 0 && column < width / 2 ? column : 4)
        var current: String?
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            let piece = String(word)
            guard let sofar = current else {
                current = piece
                continue
            }
            if sofar.count + 1 + piece.count > width, !piece.isEmpty, sofar.count > indent.count {
                out.append(sofar)
                current = indent + piece
            } else {
                current = sofar + " " + piece
            }
        }
        out.append(current ?? "")
    }
    return out.joined(separator: "\n")
}

let command: DIBCommandLine.Command
do {
    command = try DIBCommandLine.parse(CommandLine.arguments.dropFirst(), environment: environment)
} catch {
    fail(error)
}

switch command {
case .help:
    print(wrapped(DIBCommandLine.usage))
case .version:
    // DIB prints its version number alone; scripts compare it.
    print(StampVersion.number(describe: gitDescribe, commits: gitCommitCount))
case .build(let request):
    // For the settings table's tests: the options as typed settings, then stop.
    if environment["STAMP_PRINT_SETTINGS"] == "1", let settings = request.settings {
        print(settings.givenLines.joined(separator: "\n"))
        exit(0)
    }
    routeOutput(logfile: request.logfile)
    var plan = request.plan
    plan.builtinElementsDirectory = ElementBuildPlan.locateBuiltinElements(
        executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
    let build: ValidatedElementBuild
    do {
        build = try ElementBuild.validate(plan, logger: logger)
    } catch {
        fail(error)
    }
    if environment["STAMP_PLAN_ONLY"] != nil {
        print("outputs: " + request.formats.map { request.outputPath(for: $0) }.joined(separator: " "))
        print("elements:")
        for element in build.resolution.elements { print("  \(element.name)  \(element.path.path)") }
        print("layout: \(build.standardLayout.rawValue)  root label: \(build.blockDevice.rootLabel)")
        exit(0)
    }
    // Not root: go on as uid 0 of a user namespace with the caller's subordinate ids
    // (UserNamespace.swift); this process is replaced, or the one line says what is missing.
    do {
        try UserNamespace.reexecUnlessRoot(arguments: CommandLine.arguments)
    } catch {
        fail(error)
    }
    // Staying in this process: the element stages need not inherit the log file.
    if let log = LogLine.current.logfile { _ = fcntl(log, F_SETFD, FD_CLOEXEC) }
    do {
        let outputs = try await DIBBuild.run(request, build: build, logger: logger)
        for path in outputs { logger.info("Image file \(path) created...") }
        logger.info("Build completed successfully")
    } catch {
        fail(error)
    }
}
