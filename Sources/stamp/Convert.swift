import ArgumentParser
import Foundation
import StampBytes
import StampContainers
import StampIO
import StampPipeline
import StampConfig

/// `stamp convert INPUT -O FMT OUTPUT`: between raw, qcow2, VMDK and VHD, without qemu-img.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a disk image between raw, qcow2, vmdk (stream or sparse) and vhd (dynamic or fixed).",
        usage: "stamp convert [<options>] <input> -O <format> <output>",
        discussion: """
            The input format is detected from its contents; inputs are treated as untrusted. On a \
            terminal a progress line shows bytes written, rate and time left (not with -q).
            """)

    static let formats = ["raw", "qcow2", "vmdk", "vmdk-sparse", "vhd", "vhd-fixed"]

    @Argument(help: "The image to read.", completion: .file()) var input: String
    @Option(
        name: .customShort("O"), help: ArgumentHelp("Output format: \(formats.joined(separator: ", ")).", valueName: "format"),
        completion: .list(formats))
    var format: String
    @Argument(help: "The image to write.", completion: .file()) var output: String
    @Option(help: .setting(.qcow2Compat, .pack), completion: .setting(.qcow2Compat, .pack))
    var qcow2Compat: String = Settings[.qcow2Compat].defaultValue ?? "1.1"
    @Flag(help: "Fastest compression.") var fast = false
    @Flag(name: .setting(.quiet, .pack), help: "Print nothing but errors (no progress line).") var quiet = false
    @Flag(name: .setting(.verbose, .pack), help: "Also print what was read and written.") var verbose = false
    @Option(help: "With an OVA as input: the disk to convert (1 for the first, in the OVF's DiskSection order).")
    var disk: Int?

    func validate() throws {
        if OutputFormat(name: format) == nil {
            throw ValidationError("unknown output format '\(format)' (use \(Self.formats.joined(separator: ", ")))")
        }
        if quiet && verbose { throw ValidationError("--quiet conflicts with --verbose: choose one of -q and -v") }
        _ = try compat()
        if let problem = emptyInputProblem(input) { throw ValidationError(problem) }
        if let problem = outputPathProblem(output, tree: nil) { throw ValidationError(problem) }
    }

    /// --qcow2-compat, checked as `stamp pack` checks it (the settings table's row).
    func compat() throws -> Qcow2Compat {
        do {
            return Qcow2Compat(rawValue: try Settings.parse(qcow2Compat, for: Settings[.qcow2Compat], on: .pack).canonical) ?? .v3
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if quiet { LogLine.configure(.init(stdout: nil)) }
        let start = monotonicSeconds()
        let reader: any DiskImageReader
        if OVAInspector.isOVA(path: input) {
            reader = try OVAInspector.openDisk(path: input, number: disk ?? 1)
        } else {
            if disk != nil { throw ValidationError("--disk: \(input) is not an OVA") }
            reader = try ImageDetector.open(path: input)
        }
        var options = ContainerOptions()
        options.qcow2Compat = try compat()
        if fast { options.compression = .fast }
        let sink = try makeImageSink(
            format: OutputFormat(name: format) ?? .raw, path: output, virtualSize: reader.virtualSize, options: options)
        if verbose { Log.line("reading \(input): \(formatBytes(reader.virtualSize)) disk") }
        try reader.replay(into: ProgressSink.wrapping(sink, total: reader.virtualSize, label: "converting"))
        if verbose {
            Log.line(
                "wrote \(output) (\(format), \(sizeOnDisk(output))) in \(String(format: "%.1f", monotonicSeconds() - start)) s")
        }
    }
}
