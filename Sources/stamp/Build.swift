import ArgumentParser
import Dispatch
import Foundation
import Logging
import StampBytes
import StampDIB
import StampElements
import StampPipeline
import StampConfig

/// `stamp build ELEMENT… -o OUT`: the element engine of `disk-image-create` with stamp's own
/// option names. The options are translated to DIB's command line and environment, so both
/// commands build the same image from the same elements.
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an image from diskimage-builder elements (the engine of disk-image-create).",
        discussion: """
            Runs the elements' phases in a chroot (private mount and PID namespaces, nothing left \
            mounted even after SIGKILL), then writes the disk natively, with a progress line on a \
            terminal. Root is not needed: an ordinary user with a subordinate id range \
            (/etc/subuid, /etc/subgid) builds as uid 0 of a user namespace of their own.

            DIB equivalents: every build option of disk-image-create, under its name (-x, -n, \
            -u, -a, -c, -p, --root-label, --logfile, --mkfs-options, --qemu-img-options, …); \
            --release sets DIB_RELEASE; --elements-path adds to ELEMENTS_PATH; \
            --block-device-config sets DIB_BLOCK_DEVICE_CONFIG; --size is DIB's --image-size \
            (which is accepted too, in GiB); --download-cache is DIB's --image-cache; --env \
            NAME=VALUE sets any other variable the elements read.

            Examples:
              stamp build debian-minimal vm -o out/debian -t qcow2 --release bookworm
              stamp build debian-minimal vm block-device-efi -o appliance -t ova --checksum
              stamp build --from oci:node-layout:v1 vm -o node -t qcow2   (OS from an image)
            """)

    @Argument(
        help: "Elements to build (an operating-system element such as debian-minimal or ubuntu-minimal, then others).",
        completion: .custom { _, _, prefix in elementNames(prefix) })
    var elements: [String] = []

    @Option(name: .setting(.from, .build), help: .setting(.from, .build)) var from: String?
    @OptionGroup var registry: RegistryAccessOptions
    @Option(
        name: .setting(.stampedCache, .build), help: .setting(.stampedCache, .build), completion: .setting(.stampedCache, .build))
    var stampedCache: String?
    @Option(name: .setting(.output, .build), help: .setting(.output, .build), completion: .setting(.output, .build))
    var output: String
    @Option(name: .setting(.types, .build), help: .setting(.types, .build), completion: .setting(.types, .build))
    var types: String?
    @Option(name: .setting(.release, .build), help: .setting(.release, .build)) var release: String?
    @Option(
        name: .setting(.elementsPath, .build), help: .setting(.elementsPath, .build), completion: .setting(.elementsPath, .build))
    var elementsPath: [String] = []
    @Option(
        name: .setting(.blockDeviceConfig, .build), help: .setting(.blockDeviceConfig, .build),
        completion: .setting(.blockDeviceConfig, .build))
    var blockDeviceConfig: String?
    @Option(name: .setting(.size, .build), help: .setting(.size, .build)) var size: String?
    @Option(
        name: .setting(.downloadCache, .build), help: .setting(.downloadCache, .build),
        completion: .setting(.downloadCache, .build))
    var downloadCache: String?
    @Flag(name: .setting(.offline, .build), help: .setting(.offline, .build)) var offline = false
    @Flag(name: .setting(.checksum, .build), help: .setting(.checksum, .build)) var checksum = false
    @Option(
        name: .setting(.qcow2Compat, .build), help: .setting(.qcow2Compat, .build), completion: .setting(.qcow2Compat, .build))
    var qcow2Compat: String?
    @Option(name: .setting(.packages, .build), help: .setting(.packages, .build)) var packages: [String] = []
    @Option(name: .setting(.env, .build), help: .setting(.env, .build)) var env: [String] = []
    @Flag(name: .setting(.trace, .build), help: .setting(.trace, .build)) var trace = false
    @OptionGroup var package: OVAPackageOptions
    @Flag(name: .setting(.quiet, .build), help: .setting(.quiet, .build)) var quiet = false
    @Flag(name: .setting(.verbose, .build), help: .setting(.verbose, .build)) var verbose = false
    @OptionGroup var dib: DIBBuildOptions

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.build)
        raw[.from] = from
        raw[.stampedCache] = stampedCache
        raw[.output] = output
        raw[.types] = types
        raw[.release] = release
        raw.list(.elementsPath, elementsPath)
        raw[.blockDeviceConfig] = blockDeviceConfig
        raw[.size] = size
        raw[.downloadCache] = downloadCache
        raw.flag(.offline, offline)
        raw.flag(.checksum, checksum)
        raw[.qcow2Compat] = qcow2Compat
        raw.list(.packages, packages)
        raw.list(.env, env)
        raw.flag(.trace, trace)
        registry.collect(into: &raw)
        package.collect(into: &raw)
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        dib.collect(into: &raw)
        return raw
    }

    func validate() throws {
        var problems: [String] = []
        do {
            try rawSettings.resolve().printedIfAsked()
        } catch {
            problems += error.problems
        }
        if let path = blockDeviceConfig, !FileManager.default.isReadableFile(atPath: path) {
            problems.append("\(path): cannot read the block-device config")
        }
        if elements.isEmpty && from == nil { problems.append("no elements given (and no --from IMAGE)") }
        if stampedCache != nil && from == nil { problems.append("--stamped-cache applies to --from IMAGE builds only") }
        problems += registry.problems(reference: from, scope: "--from docker://…")
        do { _ = try package.load() } catch { problems.append("\(error)") }
        if let options = dib.qemuImgOptions { problems += DIBBuildRequest.qemuImgOptionPairs(options).problems }
        if !problems.isEmpty { throw ValidationError(problems.uniqued().joined(separator: "; ")) }
    }

    func run() throws {
        let request = DIBBuildRequest(
            settings: try rawSettings.resolved(), elements: elements, environment: ProcessInfo.processInfo.environment,
            arguments: Settings.redactingSecrets(Array(Stamp.arguments.dropFirst()), on: .build))
        let environment = request.environment
        var plan = request.plan
        plan.builtinElementsDirectory = ElementBuildPlan.locateBuiltinElements(
            executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
        if quiet { LogLine.configure(.init(stdout: nil)) }
        var configured = Logger(label: "stamp-build") { _ in LogLineHandler() }
        if verbose { configured.logLevel = .debug }
        let logger = configured
        let build = try ElementBuild.validate(plan, logger: logger)
        // Not root: go on as uid 0 of a user namespace (UserNamespace.swift), or fail in one line.
        try UserNamespace.reexecUnlessRoot(arguments: Stamp.arguments)
        if let path = request.logfile { try DIBBuildOptions.openLog(path) }
        var ova = OVASettings()
        (ova.config, ova.signer) = try package.load()
        let settings = ova
        let outputs = try waitFor { try await DIBBuild.run(request, build: build, logger: logger, ova: settings) }
        for path in outputs { Log.line("wrote \(path)") }
        Log.line("Build completed successfully")
    }
}

/// `stamp elements ELEMENT…`: the resolved element set, as a build would use it.
struct Elements: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the elements a build would use: dependencies resolved, each with its path and what it provides.",
        usage: "stamp elements [<options>] <element> ...",
        discussion: """
            Resolution is DIB's: `base` is added unless --no-base, `vm` brings `block-device-mbr`, \
            element-deps are followed and virtual names (operating-system, block-device) are \
            matched to the element that provides them. All problems are reported at once.
            """)

    @Argument(
        help: "Elements, as given to stamp build or disk-image-create.",
        completion: .custom { _, _, prefix in elementNames(prefix) })
    var elements: [String]

    @Option(
        help: ArgumentHelp("A directory of elements, searched before the built-in ones (repeatable).", valueName: "dir"),
        completion: .directory)
    var elementsPath: [String] = []

    @Flag(help: "Do not add the base element.")
    var noBase = false

    @Flag(name: .setting(.quiet, .pack), help: "Print only the elements' names, one a line.") var quiet = false
    @Flag(name: .setting(.verbose, .pack), help: "Also print what each element depends on.") var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet conflicts with --verbose: choose one of -q and -v") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let path = (elementsPath + [environment["ELEMENTS_PATH"]].compactMap { $0 }).filter { !$0.isEmpty }.joined(separator: ":")
        let builtin = ElementBuildPlan.locateBuiltinElements(
            executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
        let index = try ElementIndex(elementsPath: path, builtinDirectory: builtin)
        let requested = ElementResolution.implicitElements(elements, skipBase: noBase, arch: "amd64")
        let resolution = try ElementResolution(requested: requested, index: index)
        let width = resolution.elements.map(\.name.count).max() ?? 0
        var provides: [String: [String]] = [:]
        for (virtual, provider) in resolution.providers { provides[provider, default: []].append(virtual) }
        for element in resolution.elements {
            if quiet {
                print(element.name)
                continue
            }
            let pad = String(repeating: " ", count: width - element.name.count)
            let virtual = provides[element.name].map { "  (provides \($0.sorted().joined(separator: ", ")))" } ?? ""
            print("\(element.name)\(pad)  \(element.path.path)\(virtual)")
            if verbose && !element.dependencies.isEmpty { print("  depends on \(element.dependencies.joined(separator: ", "))") }
        }
    }
}

/// Runs async work from a synchronous command and returns its result (the main thread
/// waits; the work runs on the cooperative pool).
func waitFor<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// The result of ``waitFor(_:)``. `@unchecked Sendable`: written once by the task before it
/// signals, read by the waiter after.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
