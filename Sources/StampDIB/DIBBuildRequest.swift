import Foundation
import StampConfig
import StampElements

/// A parsed `disk-image-create` invocation: what to build and which files to write.
///
/// ``plan`` is the element side (what ``ElementBuild`` needs); the other properties are for the
/// disk and output side of the pipeline. Environment variables are folded in the way DIB does
/// (an option wins over the variable it sets; `DIB_CHECKSUM` in the environment also turns
/// checksums on).
public struct DIBBuildRequest: Sendable, Equatable {
    /// The argv as given (without the program name): `DIB_ARGS`, `dib_arguments`.
    public var arguments: [String] = []
    /// The caller's environment plus leading `NAME=value` words.
    public var environment: [String: String]
    /// Element names, in command-line order.
    public var elements: [String] = []
    /// `-o`, without extension (a `.<fmt>` suffix is dropped when exactly one `-t` was given).
    public var outputBase = "image"
    /// `-t`, in the order given (nodepool's order is arbitrary).
    public var formats: [String] = ["qcow2"]
    public var arch: String?
    public var debugTrace = 0
    /// `-u` turns this off.
    public var compress = true
    /// `-c`.
    public var clearEnvironment = false
    /// `-n`.
    public var skipBase = false
    /// `-p`, comma lists flattened.
    public var extraPackages: [String] = []
    /// `--checksum`.
    public var checksum = false
    public var noTmpfs = false
    public var offline = false
    public var imageCache: String?
    public var mkfsOptions: String?
    /// `--qemu-img-options` pairs, in order; apply to qcow2 only.
    public var qemuImgOptions: [(key: String, value: String)] = []
    public var ramdiskElement: String?
    public var rootLabel: String?
    public var installType: String?
    public var dockerTarget: String?
    public var logfile: String?
    /// `--image-size`, `--min-tmpfs`, `--image-extra-size`, `--mkfs-journal-size`,
    /// `--max-online-resize`, as given.
    public var numeric: [String: String] = [:]
    /// The typed settings the request was made from (the settings table's), for the cache key;
    /// the fields above are what the element engine reads.
    public var settings: SettingValues?

    public init(environment: [String: String]) { self.environment = environment }

    public static func == (lhs: DIBBuildRequest, rhs: DIBBuildRequest) -> Bool {
        lhs.plan == rhs.plan && lhs.outputBase == rhs.outputBase && lhs.formats == rhs.formats
            && lhs.checksumAlgorithms == rhs.checksumAlgorithms && lhs.compress == rhs.compress
            && lhs.qemuImgOptions.map { "\($0.key)=\($0.value)" } == rhs.qemuImgOptions.map { "\($0.key)=\($0.value)" }
            && lhs.logfile == rhs.logfile
    }

    /// The qcow2 version the options ask for: `compat=0.10` (or `v2`) → 2, otherwise 3.
    public var qcow2Version: Int {
        ["0.10", "v2"].contains(qemuImgOptions.last { $0.key == "compat" }?.value ?? "") ? 2 : 3
    }

    /// The VMDK subformat the options ask for (`subformat=`), if any. DIB passes the options
    /// to every `qemu-img convert`; stamp applies each to the format it belongs to.
    public var vmdkSubformat: String? {
        qemuImgOptions.last { $0.key == "subformat" }?.value
    }

    /// The VMDK adapter type the options ask for (`adapter_type=`), if any.
    public var vmdkAdapterType: String? {
        qemuImgOptions.last { $0.key == "adapter_type" }?.value
    }

    /// The options accepted that change nothing in stamp's output (`extent_size_hint`, a
    /// hint for the host filesystem's allocation); the build logs them.
    public var ignoredQemuImgOptions: [String] {
        qemuImgOptions.filter { $0.key == "extent_size_hint" }.map { "\($0.key)=\($0.value)" }
    }

    /// qemu-img's creation options (`qemu-img create -f FMT -o help`, 7.2) for the formats
    /// DIB converts with it (qcow2, vmdk) and for vpc (VHD), and what stamp does with each:
    /// `compat`, `subformat` and `adapter_type` choose what stamp writes; the others are
    /// accepted with the value stamp's writers produce anyway (64 KiB clusters, 16-bit
    /// refcounts, zlib, no lazy refcounts, no preallocation, the footer's size for VHD, …)
    /// and refused with any other, in one line that says what stamp writes.
    static let qemuImgFixedValues: [String: (values: Set<String>, stampWrites: String)] = [
        "cluster_size": (["65536", "64k", "64K", "64KiB"], "qcow2 clusters of 64 KiB"),
        "refcount_bits": (["16"], "16-bit qcow2 refcounts"),
        "compression_type": (["zlib"], "zlib-compressed qcow2 clusters"),
        "lazy_refcounts": (["off", "false", "no"], "qcow2 refcounts kept up to date (no lazy refcounts)"),
        "extended_l2": (["off", "false", "no"], "standard qcow2 L2 entries (no extended L2)"),
        "preallocation": (["off"], "sparse images (preallocation=off)"),
        "encryption": (["off", "false", "no"], "unencrypted images"),
        "data_file_raw": (["off", "false", "no"], "qcow2 images holding their own data"),
        "nocow": (["off", "false", "no"], "files with copy-on-write left as the filesystem has it"),
        "compat6": (["off", "false", "no"], "VMDK version 1 headers"),
        "zeroed_grain": (["off", "false", "no"], "VMDKs without zeroed-grain entries"),
        "hwversion": (["4"], "VMDKs with virtualHWVersion 4"),
        "force_size": (["on", "true", "yes"], "VHDs sized by their footer's current size (force_size=on)"),
    ]

    /// Options qemu-img takes that make the image depend on another file, or on a size other
    /// than the tree's: refused, with why.
    static let qemuImgRefused: [String: String] = [
        "backing_file": "stamp writes standalone images (no backing file)",
        "backing_fmt": "stamp writes standalone images (no backing file)",
        "data_file": "stamp writes qcow2 images that hold their own data (no external data file)",
        "size": "the disk size comes from --image-size or the tree, not from qemu-img",
        "toolsversion": "stamp writes VMDKs with ddb.toolsVersion 2147483647",
    ]

    /// The pairs of a `--qemu-img-options` value (`compat=0.10,adapter_type=ide`), and one
    /// problem per pair that is not `key=value` or that stamp cannot honour, each naming it.
    public static func qemuImgOptionPairs(_ value: String) -> (pairs: [(key: String, value: String)], problems: [String]) {
        var pairs: [(key: String, value: String)] = []
        var problems: [String] = []
        for pair in value.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                problems.append("invalid value '\(pair)' for --qemu-img-options: expected key=value")
                continue
            }
            if let reason = qemuImgOptionProblem(key: parts[0], value: parts[1]) {
                problems.append("invalid value '\(pair)' for --qemu-img-options: \(reason)")
                continue
            }
            pairs.append((parts[0], parts[1]))
        }
        return (pairs, problems)
    }

    /// Why a `--qemu-img-options` pair cannot be honoured, or nil. Keys qemu-img does not
    /// know for qcow2, vmdk or vpc are refused as qemu-img refuses them.
    static func qemuImgOptionProblem(key: String, value: String) -> String? {
        switch key {
        case "compat":
            // The table's check (the values --qcow2-compat takes), DIB's words.
            return (try? Settings.parse(value, for: Settings[.qcow2Compat], on: .build)) == nil
                ? "qcow2 compat is 0.10 or 1.1" : nil
        case "subformat" where !["streamOptimized", "monolithicSparse"].contains(value):
            return "stamp writes the vmdk subformats streamOptimized and monolithicSparse"
        case "subformat":
            return nil
        case "adapter_type" where !["ide", "lsilogic", "buslogic"].contains(value):
            return "stamp writes the vmdk adapter types ide, lsilogic and buslogic"
        case "adapter_type", "extent_size_hint":
            return nil
        default:
            if let fixed = qemuImgFixedValues[key] {
                return fixed.values.contains(value) ? nil : "stamp writes \(fixed.stampWrites) only"
            }
            if let reason = qemuImgRefused[key] ?? (key.hasPrefix("encrypt.") ? "stamp writes unencrypted images" : nil) {
                return reason
            }
            return "qemu-img has no option '\(key)' for qcow2, vmdk or vpc"
        }
    }

    /// `md5`/`sha256` from `--checksum` or `DIB_CHECKSUM` (`1` = both, else the names the
    /// value holds, as DIB matches them).
    public var checksumAlgorithms: [String] {
        if checksum { return ["md5", "sha256"] }
        guard let value = environment["DIB_CHECKSUM"], !value.isEmpty, value != "0" else { return [] }
        if value == "1" { return ["md5", "sha256"] }
        // DIB looks for each name anywhere in the value: "md5", "sha256,md5", "md5sum".
        return ["md5", "sha256"].filter { value.contains($0) }
    }

    /// The output file for a format: `<-o>.<ext>` (`vmdk-sparse` writes `.vmdk`).
    public func outputPath(for format: String) -> String { "\(outputBase).\(OutputFormats.fileExtension(format) ?? format)" }

    /// `<-o>.d`: the manifests directory (`DIB_MANIFEST_SAVE_DIR`).
    public var manifestDirectory: String { "\(outputBase).d" }

    /// The variables DIB exports for these options, as its command line sets them.
    public var exportedVariables: [String: String] {
        var env: [String: String] = [:]
        env["DIB_DEBUG_TRACE"] = String(max(debugTrace, Int(environment["DIB_DEBUG_TRACE"] ?? "") ?? 0))
        if checksum { env["DIB_CHECKSUM"] = "1" }
        if noTmpfs { env["DIB_NO_TMPFS"] = "1" }
        if offline { env["DIB_OFFLINE"] = "1" }
        if let arch { env["ARCH"] = arch }
        if let value = numeric["image-size"] { env["DIB_IMAGE_SIZE"] = value }
        if let value = numeric["min-tmpfs"] { env["DIB_MIN_TMPFS"] = value }
        if let value = numeric["image-extra-size"] { env["DIB_IMAGE_EXTRA_SIZE"] = value }
        if let value = numeric["mkfs-journal-size"] { env["DIB_JOURNAL_SIZE"] = value }
        if let value = numeric["max-online-resize"] { env["MAX_ONLINE_RESIZE"] = value }
        if let imageCache { env["DIB_IMAGE_CACHE"] = imageCache }
        if let mkfsOptions { env["DIB_MKFS_OPTS"] = mkfsOptions }
        if !qemuImgOptions.isEmpty {
            env["QEMU_IMG_OPTIONS"] = qemuImgOptions.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        if let rootLabel { env["ROOT_LABEL"] = rootLabel }
        if let installType { env["DIB_DEFAULT_INSTALLTYPE"] = installType }
        if let dockerTarget { env["DOCKER_TARGET"] = dockerTarget }
        if logfile != nil && environment["DIB_QUIET"] == nil { env["DIB_QUIET"] = "1" }
        env["IMAGE_NAME"] = outputBase
        env["DIB_MANIFEST_SAVE_DIR"] = manifestDirectory + "/"
        env["DIB_ARGS"] = arguments.joined(separator: " ")
        return env
    }

    /// Variables read by stamp itself that hold secrets: kept out of the elements' environment,
    /// `DIB_ENV` (which DIB records in the image's manifests) and the build's logs. The
    /// `oci-image` element's registry credentials are read from ``environment``.
    public static let secretVariables = Set(Settings.table.filter(\.secret).compactMap(\.variable))

    /// The element plan for ``ElementBuild``.
    public var plan: ElementBuildPlan {
        var base =
            clearEnvironment
            ? ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": environment["HOME"] ?? "/root"]
            : environment
        base.merge(exportedVariables) { _, new in new }
        for name in Self.secretVariables { base.removeValue(forKey: name) }
        base["DIB_ENV"] = base.filter { $0.key.hasPrefix("DIB_") && $0.key != "DIB_ENV" }.sorted { $0.key < $1.key }
            .map { "declare -x \($0.key)=\"\($0.value)\"" }.joined(separator: "\n")
        var plan = ElementBuildPlan(elements: elements, environment: base)
        plan.skipBase = skipBase
        plan.imageName = outputBase
        plan.imageTypes = formats
        plan.debugTrace = Int(base["DIB_DEBUG_TRACE"] ?? "") ?? 0
        plan.extraPackages = extraPackages
        if let installType { plan.installType = installType }
        return plan
    }
}
