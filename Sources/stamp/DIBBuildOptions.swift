import ArgumentParser
import Foundation
import StampConfig
import StampPipeline

/// The options `stamp build` takes from `disk-image-create`, under DIB's names (the settings
/// table's `.build` spellings): `stamp build` accepts every build option DIB's command line
/// does, and they reach the element engine as ``DIBBuildRequest/init(settings:elements:environment:arguments:)``
/// sets them.
struct DIBBuildOptions: ParsableArguments {
    @Option(name: .setting(.arch, .build), help: .setting(.arch, .build)) var arch: String?
    @Flag(name: .setting(.noBase, .build), help: .setting(.noBase, .build)) var noBase = false
    @Flag(name: .setting(.clearEnvironment, .build), help: .setting(.clearEnvironment, .build)) var clearEnvironment = false
    @Flag(name: .setting(.compressQcow2, .build), help: .setting(.compressQcow2, .build)) var noCompressQcow2 = false
    @Option(name: .setting(.label, .build), help: .setting(.label, .build)) var rootLabel: String?
    @Option(name: .setting(.extraSize, .build), help: .setting(.extraSize, .build)) var imageExtraSize: String?
    @Option(name: .setting(.journalSize, .build), help: .setting(.journalSize, .build)) var mkfsJournalSize: String?
    @Option(name: .setting(.maxOnlineResize, .build), help: .setting(.maxOnlineResize, .build)) var maxOnlineResize: String?
    // DIB's values start with a dash (`--mkfs-options "-i 4096"`): taken as they are.
    @Option(name: .setting(.mkfsOptions, .build), parsing: .unconditional, help: .setting(.mkfsOptions, .build))
    var mkfsOptions: String?
    @Option(name: .setting(.qemuImgOptions, .build), help: .setting(.qemuImgOptions, .build)) var qemuImgOptions: String?
    @Flag(name: .setting(.noTmpfs, .build), help: .setting(.noTmpfs, .build)) var noTmpfs = false
    @Option(name: .setting(.minTmpfs, .build), help: .setting(.minTmpfs, .build)) var minTmpfs: String?
    @Option(name: .setting(.ramdiskElement, .build), help: .setting(.ramdiskElement, .build)) var ramdiskElement: String?
    @Option(name: .setting(.installType, .build), help: .setting(.installType, .build)) var installType: String?
    @Option(name: .setting(.dockerTarget, .build), help: .setting(.dockerTarget, .build)) var dockerTarget: String?
    @Option(name: .setting(.logfile, .build), help: .setting(.logfile, .build)) var logfile: String?

    func collect(into raw: inout RawSettings) {
        raw[.arch] = arch
        raw.flag(.noBase, noBase)
        raw.flag(.clearEnvironment, clearEnvironment)
        raw.flag(.compressQcow2, noCompressQcow2)  // the spelling is negated: -u turns it off
        raw[.label] = rootLabel
        raw[.extraSize] = imageExtraSize
        raw[.journalSize] = mkfsJournalSize
        raw[.maxOnlineResize] = maxOnlineResize
        raw[.mkfsOptions] = mkfsOptions
        raw[.qemuImgOptions] = qemuImgOptions
        raw.flag(.noTmpfs, noTmpfs)
        raw[.minTmpfs] = minTmpfs
        raw[.ramdiskElement] = ramdiskElement
        raw[.installType] = installType
        raw[.dockerTarget] = dockerTarget
        raw[.logfile] = logfile
    }

    /// `--logfile FILE`: the build's lines also go to FILE, appended and timestamped, as
    /// disk-image-create writes its log (standard output keeps them too).
    static func openLog(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("--logfile \(path): \(String(cString: strerror(errno)).lowercased())") }
        var destinations = LogLine.current
        destinations.logfile = fd
        LogLine.configure(destinations)
    }
}
