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

    @Argument(help: "The image to read.", completion: .file()) var input: String
    @Option(
        name: .setting(.outputFormat, .convert), help: .setting(.outputFormat, .convert),
        completion: .setting(.outputFormat, .convert))
    var format: String
    @Argument(help: "The image to write.", completion: .file()) var output: String
    @Option(
        name: .setting(.qcow2Compat, .convert), help: .setting(.qcow2Compat, .convert),
        completion: .setting(.qcow2Compat, .convert))
    var qcow2Compat: String?
    @Flag(name: .setting(.fast, .convert), help: .setting(.fast, .convert)) var fast = false
    @Flag(name: .setting(.quiet, .convert), help: .setting(.quiet, .convert)) var quiet = false
    @Flag(name: .setting(.verbose, .convert), help: .setting(.verbose, .convert)) var verbose = false
    @Option(name: .setting(.disk, .convert), help: .setting(.disk, .convert)) var disk: String?

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.convert)
        raw[.outputFormat] = format
        raw[.qcow2Compat] = qcow2Compat
        raw.flag(.fast, fast)
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        raw[.disk] = disk
        return raw
    }

    func validate() throws {
        _ = try rawSettings.resolved()
        if let problem = emptyInputProblem(input) { throw ValidationError(problem) }
        if let problem = outputPathProblem(output, tree: nil) { throw ValidationError(problem) }
    }

    func run() throws {
        let values = try rawSettings.resolved()
        let format = values.text(.outputFormat) ?? "raw"
        if quiet { LogLine.configure(.init(stdout: nil)) }
        let start = monotonicSeconds()
        let reader: any DiskImageReader
        let disk = values.integer(.disk).map(Int.init)
        if OVAInspector.isOVA(path: input) {
            reader = try OVAInspector.openDisk(path: input, number: disk ?? 1)
        } else {
            if disk != nil { throw ValidationError("--disk: \(input) is not an OVA") }
            reader = try ImageDetector.open(path: input)
        }
        var options = ContainerOptions()
        // --qcow2-compat, the table's row (the values `stamp pack` takes).
        options.qcow2Compat = Qcow2Compat(rawValue: values.text(.qcow2Compat) ?? "1.1") ?? .v3
        if values.flag(.fast) { options.compression = .fast }
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
