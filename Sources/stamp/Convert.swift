import ArgumentParser
import StampContainers
import StampIO

/// `stamp convert INPUT -O FMT OUTPUT`: between raw, qcow2, VMDK and VHD, without qemu-img.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a disk image between raw, qcow2, vmdk (stream or sparse) and vhd (dynamic or fixed).",
        discussion: "The input format is detected from its contents; inputs are treated as untrusted.")

    @Argument(help: "The image to read.") var input: String
    @Option(name: .customShort("O"), help: "Output format: raw, qcow2, vmdk, vmdk-sparse, vhd, vhd-fixed.") var format: String
    @Argument(help: "The image to write.") var output: String
    @Option(help: "qcow2 compatibility: 1.1 or 0.10.") var qcow2Compat: String = "1.1"
    @Flag(help: "Fastest compression.") var fast = false

    func validate() throws {
        if OutputFormat(name: format) == nil {
            throw ValidationError("unknown output format '\(format)' (use raw, qcow2, vmdk, vmdk-sparse, vhd, vhd-fixed)")
        }
        if Qcow2Compat(rawValue: qcow2Compat) == nil { throw ValidationError("invalid --qcow2-compat '\(qcow2Compat)'") }
        if let problem = emptyInputProblem(input) { throw ValidationError(problem) }
        if let problem = outputPathProblem(output, tree: nil) { throw ValidationError(problem) }
    }

    func run() throws {
        let reader = try ImageDetector.open(path: input)
        var options = ContainerOptions()
        options.qcow2Compat = Qcow2Compat(rawValue: qcow2Compat) ?? .v3
        if fast { options.compression = .fast }
        let sink = try makeImageSink(
            format: OutputFormat(name: format) ?? .raw, path: output, virtualSize: reader.virtualSize, options: options)
        try reader.replay(into: sink)
    }
}
