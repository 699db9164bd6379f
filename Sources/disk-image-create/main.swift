// disk-image-create: DIB's command line over stamp's engine.
//
// Parses DIB's whole getopt surface (DIBCommandLine), validates the element plan (every
// problem at once), runs the element phases in a private mount and PID namespace
// (ElementBuild), and writes the outputs natively (DIBBuild → Packer). STAMP_PLAN_ONLY=1
// prints the plan (outputs, resolved elements, layout) and stops.
import Foundation
import Logging
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
/// never folded over several lines), exit status 1 as DIB's.
func fail(_ message: String) -> Never {
    TemporaryFiles.shared.removeAll()
    let line = "disk-image-create: \(message)\n"
    FileHandle.standardError.write(Data(line.utf8))
    // With --logfile the log ends with the same line (stdout is the log there).
    if loggingToFile { FileHandle.standardOutput.write(Data(line.utf8)) }
    exit(1)
}

nonisolated(unsafe) var loggingToFile = false

/// `--logfile FILE`, as DIB: the timestamped log is appended to FILE, and with `DIB_QUIET`
/// (which --logfile sets unless it is given) nothing else goes to stdout. Done on file
/// descriptor 1, so the element scripts' output, which inherits it, is in the log too;
/// without quiet, a `tee -a FILE` child copies stdout to both. Opened once: the process
/// re-executed in a user namespace (``UserNamespace``) inherits it.
func openLogfile(_ path: String) {
    if environment["STAMP_DIB_LOGFILE_OPEN"] == path {
        loggingToFile = true
        return
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fail("--logfile \(path): \(String(cString: strerror(errno)).lowercased())") }
    let quiet = environment["DIB_QUIET"].map { $0 != "0" && !$0.isEmpty } ?? true
    if quiet {
        dup2(fd, 1)
    } else {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { fail("--logfile \(path): pipe: \(String(cString: strerror(errno)))") }
        let tee = Process()
        tee.executableURL = URL(fileURLWithPath: "/usr/bin/tee")
        tee.arguments = ["-a", path]
        tee.standardInput = FileHandle(fileDescriptor: ends[0], closeOnDealloc: false)
        tee.standardOutput = FileHandle.standardOutput
        do { try tee.run() } catch { fail("--logfile \(path): tee: \(error)") }
        dup2(ends[1], 1)
        close(ends[0])
        close(ends[1])
    }
    close(fd)
    setenv("STAMP_DIB_LOGFILE_OPEN", path, 1)
    loggingToFile = true
}

func fail(_ error: Error) -> Never {
    fail(ErrorLine.describe(error))
}

let command: DIBCommandLine.Command
do {
    command = try DIBCommandLine.parse(CommandLine.arguments.dropFirst(), environment: environment)
} catch {
    fail(error)
}

switch command {
case .help:
    print(DIBCommandLine.usage)
case .version:
    print("stamp disk-image-create (diskimage-builder compatible)")
case .build(let request):
    // For the settings table's tests: the options as typed settings, then stop.
    if environment["STAMP_PRINT_SETTINGS"] == "1", let settings = request.settings {
        print(settings.givenLines.joined(separator: "\n"))
        exit(0)
    }
    if let path = request.logfile { openLogfile(path) }
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
        print("layout: \(DIBBuild.layout(for: build).rawValue)  root label: \(build.blockDevice.rootLabel)")
        exit(0)
    }
    // Not root: go on as uid 0 of a user namespace with the caller's subordinate ids
    // (UserNamespace.swift); this process is replaced, or the one line says what is missing.
    do {
        try UserNamespace.reexecUnlessRoot(arguments: CommandLine.arguments)
    } catch {
        fail(error)
    }
    do {
        let outputs = try await DIBBuild.run(request, build: build, logger: logger)
        for path in outputs { logger.info("Image file \(path) created...") }
        logger.info("Build completed successfully")
    } catch {
        fail(error)
    }
}
