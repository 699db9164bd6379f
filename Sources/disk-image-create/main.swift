// disk-image-create: DIB's command line over stamp's engine.
//
// For now a thin demo: parse, validate the element plan, print it. With
// STAMP_DEMO_RUN_ELEMENTS=1 it also runs the element phases (root.d … post-root.d, then the
// finalise phases) and prints the root tree directory; the integrator wires the disk pipeline.
import Foundation
import Logging
import StampElements
import StampPipeline

/// `YYYY-MM-DD HH:MM:SS.mmm | line`, DIB's log format, on stdout.
struct DIBLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let message = event.message
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        FileHandle.standardOutput.write(Data("\(formatter.string(from: Date())) | \(message)\n".utf8))
    }
}

LoggingSystem.bootstrap { _ in DIBLogHandler() }
let logger = Logger(label: "disk-image-create")
let environment = ProcessInfo.processInfo.environment

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("disk-image-create: \(message)\n".utf8))
    exit(1)
}

let command: DIBCommandLine.Command
do {
    command = try DIBCommandLine.parse(CommandLine.arguments.dropFirst(), environment: environment)
} catch {
    fail(error.description)
}

switch command {
case .help:
    print(DIBCommandLine.usage)
case .version:
    print("stamp disk-image-create (diskimage-builder compatible)")
case .build(let request):
    var plan = request.plan
    plan.builtinElementsDirectory = ElementBuildPlan.locateBuiltinElements(
        executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
    let build: ValidatedElementBuild
    do {
        build = try ElementBuild.validate(plan, logger: logger)
    } catch {
        fail(error.description)
    }
    if environment["STAMP_PLAN_ONLY"] != nil {
        print("outputs: " + request.formats.map { request.outputPath(for: $0) }.joined(separator: " "))
        print("elements:")
        for element in build.resolution.elements { print("  \(element.name)  \(element.path.path)") }
        print("layout: \(DIBBuild.layout(for: build).rawValue)  root label: \(build.blockDevice.rootLabel)")
        exit(0)
    }
    do {
        let outputs = try await DIBBuild.run(request, build: build, logger: logger)
        for path in outputs { logger.info("Image file \(path) created...") }
        logger.info("Build completed successfully")
    } catch {
        fail("\(error)")
    }
}
