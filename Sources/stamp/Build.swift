import ArgumentParser
import Dispatch
import Foundation
import Logging
import StampBytes
import StampElements
import StampPipeline

/// `stamp build ELEMENT… -o OUT`: the element engine of `disk-image-create` with stamp's own
/// option names. The options are translated to DIB's command line and environment, so both
/// commands build the same image from the same elements.
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an image from diskimage-builder elements (the engine of disk-image-create).",
        discussion: """
            Runs the elements' phases in a chroot (private mount and PID namespaces, nothing left \
            mounted even after SIGKILL), then writes the disk natively. Needs root.

            DIB equivalents: -o/-t/--checksum as in DIB; --release sets DIB_RELEASE; \
            --elements-path adds to ELEMENTS_PATH; --block-device-config sets \
            DIB_BLOCK_DEVICE_CONFIG; --size is DIB's --image-size; --env NAME=VALUE sets any \
            other variable the elements read.

            Examples:
              stamp build debian-minimal vm -o out/debian -t qcow2 --release bookworm
              stamp build debian-minimal vm block-device-efi -o appliance -t ova --checksum
              stamp build --from oci:node-layout:v1 vm -o node -t qcow2   (OS from a container image)
            """)

    @Argument(help: "Elements to build (an operating-system element such as debian-minimal or ubuntu-minimal, then others).")
    var elements: [String] = []

    @Option(
        help: ArgumentHelp(
            "Take the operating system from a container image (oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME[:TAG]): the oci-image element with DIB_OCI_IMAGE.",
            valueName: "image"))
    var from: String?

    @OptionGroup var registry: RegistryAccessOptions

    @Option(
        help: ArgumentHelp(
            "With --from: serve a build of the same image digest, elements and options from DIR, and keep new ones there (DIB_OCI_STAMPED_CACHE; see stamp images).",
            valueName: "dir"))
    var stampedCache: String?

    @Option(name: .shortAndLong, help: "Output base name: OUT.<format> for each format, and OUT.d/ with the manifests.")
    var output: String

    @Option(name: [.customShort("t"), .long], help: "Comma-separated formats: \(PackFormat.names.joined(separator: ", ")).")
    var types: String = "qcow2"

    @Option(help: "Distribution release (DIB_RELEASE), e.g. bookworm or jammy.")
    var release: String?

    @Option(help: ArgumentHelp("A directory of elements, searched before the built-in ones (repeatable).", valueName: "dir"))
    var elementsPath: [String] = []

    @Option(help: ArgumentHelp("A DIB block-device YAML that lays out the disk.", valueName: "file"))
    var blockDeviceConfig: String?

    @Option(help: "Disk size (e.g. 4G); by default the tree's size plus DIB's headroom.")
    var size: String?

    @Option(help: ArgumentHelp("Where downloaded base systems are cached (DIB_IMAGE_CACHE).", valueName: "dir"))
    var imageCache: String?

    @Flag(help: "Use only what the image cache holds; do not refresh it.")
    var offline = false

    @Flag(help: "Write OUT.<format>.md5 and .sha256 beside each output.")
    var checksum = false

    @Option(help: "qcow2 compatibility level: 1.1 (v3) or 0.10 (v2, what nodepool asks for).")
    var qcow2Compat: String?

    @Option(name: [.customShort("p"), .long], help: "Extra packages to install (comma-separated).")
    var packages: String?

    @Option(help: ArgumentHelp("An environment variable for the elements (repeatable).", valueName: "NAME=VALUE"))
    var env: [String] = []

    @Flag(help: "Trace the element scripts (DIB's -x).")
    var trace = false

    @OptionGroup var package: OVAPackageOptions

    func validate() throws {
        var problems: [String] = []
        for n in types.split(separator: ",") where PackFormat(name: String(n)) == nil {
            problems.append("unknown format '\(n)' (use \(PackFormat.names.joined(separator: ", ")))")
        }
        if let size, parseSize(size) == nil { problems.append("invalid --size '\(size)'") }
        if let path = blockDeviceConfig, !FileManager.default.isReadableFile(atPath: path) {
            problems.append("\(path): cannot read the block-device config")
        }
        for e in env where !e.contains("=") || e.hasPrefix("=") { problems.append("--env '\(e)' is not NAME=VALUE") }
        if elements.isEmpty && from == nil { problems.append("no elements given (and no --from IMAGE)") }
        if stampedCache != nil && from == nil { problems.append("--stamped-cache applies to --from IMAGE builds only") }
        problems += registry.problems(reference: from, scope: "--from docker://…")
        if let c = qcow2Compat, c != "1.1" && c != "0.10" { problems.append("invalid --qcow2-compat '\(c)' (use 1.1 or 0.10)") }
        do { _ = try package.load() } catch { problems.append("\(error)") }
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    /// DIB's argument words and environment for these options.
    func dibInvocation(environment base: [String: String]) -> (arguments: [String], environment: [String: String]) {
        var args = ["-o", output, "-t", types]
        if trace { args.append("-x") }
        if checksum { args.append("--checksum") }
        if offline { args.append("--offline") }
        if let imageCache { args += ["--image-cache", imageCache] }
        if let packages { args += ["-p", packages] }
        if let qcow2Compat { args += ["--qemu-img-options", "compat=\(qcow2Compat)"] }
        if let size, let bytes = parseSize(size) { args += ["--image-size", String(Double(bytes) / Double(1 << 30))] }
        var environment = base
        if let release { environment["DIB_RELEASE"] = release }
        if !elementsPath.isEmpty {
            let absolute = elementsPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            environment["ELEMENTS_PATH"] = (absolute + [environment["ELEMENTS_PATH"]].compactMap { $0 }.filter { !$0.isEmpty })
                .joined(separator: ":")
        }
        if let blockDeviceConfig {
            environment["DIB_BLOCK_DEVICE_CONFIG"] = "file://" + URL(fileURLWithPath: blockDeviceConfig).standardizedFileURL.path
        }
        for e in env {
            let parts = e.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        var elements = elements
        if let from {
            environment["DIB_OCI_IMAGE"] = from
            environment.merge(registry.environment()) { _, new in new }
            if let stampedCache {
                environment["DIB_OCI_STAMPED_CACHE"] = URL(fileURLWithPath: stampedCache).standardizedFileURL.path
            }
            if !elements.contains("oci-image") { elements.insert("oci-image", at: 0) }
        }
        return (args + elements, environment)
    }

    func run() throws {
        let (arguments, environment) = dibInvocation(environment: ProcessInfo.processInfo.environment)
        guard case .build(let request) = try DIBCommandLine.parse(arguments, environment: environment) else { return }
        var plan = request.plan
        plan.builtinElementsDirectory = ElementBuildPlan.locateBuiltinElements(
            executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
        let logger = Logger(label: "stamp-build") { _ in LogLineHandler() }
        let build = try ElementBuild.validate(plan, logger: logger)
        // Not root: go on as uid 0 of a user namespace (UserNamespace.swift), or fail in one line.
        try UserNamespace.reexecUnlessRoot(arguments: CommandLine.arguments)
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
        discussion: """
            Resolution is DIB's: `base` is added unless --no-base, `vm` brings `block-device-mbr`, \
            element-deps are followed and virtual names (operating-system, block-device) are \
            matched to the element that provides them. All problems are reported at once.
            """)

    @Argument(help: "Elements, as given to stamp build or disk-image-create.")
    var elements: [String]

    @Option(help: ArgumentHelp("A directory of elements, searched before the built-in ones (repeatable).", valueName: "dir"))
    var elementsPath: [String] = []

    @Flag(help: "Do not add the base element.")
    var noBase = false

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
            let pad = String(repeating: " ", count: width - element.name.count)
            let virtual = provides[element.name].map { "  (provides \($0.sorted().joined(separator: ", ")))" } ?? ""
            print("\(element.name)\(pad)  \(element.path.path)\(virtual)")
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
