// disk-image-create: DIB's command line over stamp's engine.
//
// Parses DIB's whole getopt surface (DIBCommandLine), validates the element plan (every
// problem at once), runs the element phases in a private mount and PID namespace
// (ElementBuild), and writes the outputs natively (DIBBuild → Packer). STAMP_PLAN_ONLY=1
// prints the plan (outputs, resolved elements, layout) and stops.
import Foundation
import Logging
import StampElements
import StampPipeline

LoggingSystem.bootstrap { _ in LogLineHandler() }
let logger = Logger(label: "disk-image-create")
let environment = ProcessInfo.processInfo.environment

/// Ends the run: one line on stderr naming the problem (Foundation's errors as `path: reason`,
/// never folded over several lines), exit status 1 as DIB's.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("disk-image-create: \(message)\n".utf8))
    exit(1)
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
