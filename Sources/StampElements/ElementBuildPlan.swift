import Foundation
import Logging

/// Everything the element engine needs for one build, before validation.
///
/// Built by DIB's compatibility layer (StampDIB's `DIBBuildRequest`, from `disk-image-create`'s
/// argv or `stamp build`'s settings). Nothing here touches the disk;
/// ``ElementBuild/validate(_:blockDevice:variableProblems:logger:)`` checks it.
public struct ElementBuildPlan: Sendable, Equatable {
    /// Element names as the user gave them (``ElementResolution/withBase(_:skipBase:)`` is
    /// applied by validation, not here).
    public var elements: [String]
    /// `-n`: do not add `base`.
    public var skipBase = false
    /// `ELEMENTS_PATH` (colon list); stamp's built-in directory is appended after it.
    public var elementsPath: String?
    /// stamp's `Elements/` directory (next to the binary, or `STAMP_ELEMENTS_DIR`).
    public var builtinElementsDirectory: URL?
    /// `IMAGE_NAME`: the `-o` value, no extension.
    public var imageName = "image"
    /// `-t`: output formats, in the order given (the first is `IMAGE_TYPE`); the engine only
    /// passes them on.
    public var imageTypes: [String] = []
    /// `ARCH`.
    public var arch: String = ElementBuildPlan.hostArch()
    /// The caller's environment plus the overrides the options imply (`DIB_*`), passed to
    /// every phase. `TMPDIR` etc. come from here.
    public var environment: [String: String]
    /// `DIB_IMAGE_CACHE`; default `~/.cache/image-create`.
    public var imageCache: URL
    /// `DIB_OFFLINE`.
    public var offline = false
    /// `DIB_DEBUG_TRACE` (`-x` counted).
    public var debugTrace = 0
    /// `-p`: packages installed right after `install.d`.
    public var extraPackages: [String] = []
    /// `DIB_DEFAULT_INSTALLTYPE` (`--install-type`).
    public var installType = "source"
    /// Where work directories are made (`TMPDIR` wins over `TMP_DIR`, as in DIB).
    public var workParent: URL
    /// DIB's `break=`; `break_cmd`, `break_outside_target` stay in ``environment``.
    public var breakPoints: String?
    /// Require an element that provides `operating-system` (DIB always does).
    public var requireOperatingSystem = true

    public init(elements: [String], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.elements = elements
        self.environment = environment
        let home = environment["HOME"] ?? NSHomeDirectory()
        self.imageCache = URL(fileURLWithPath: environment["DIB_IMAGE_CACHE"] ?? "\(home)/.cache/image-create")
        self.workParent = URL(fileURLWithPath: environment["TMPDIR"] ?? environment["TMP_DIR"] ?? "/tmp")
        self.elementsPath = environment["ELEMENTS_PATH"]
        self.breakPoints = environment["break"]
        if let arch = environment["ARCH"], !arch.isEmpty { self.arch = arch }
        if let dir = environment["STAMP_ELEMENTS_DIR"] { self.builtinElementsDirectory = URL(fileURLWithPath: dir) }
        self.offline = !(environment["DIB_OFFLINE"] ?? "").isEmpty
        self.debugTrace = Int(environment["DIB_DEBUG_TRACE"] ?? "") ?? 0
    }

    /// DIB's default `ARCH`: `dpkg --print-architecture` naming from `uname -m`.
    public static func hostArch() -> String {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch machine {
        case "x86_64": return "amd64"
        case "aarch64": return "arm64"
        case "ppc64le": return "ppc64el"
        case let other where other.hasPrefix("armv"): return "armhf"
        case let other where other.hasPrefix("i") && other.hasSuffix("86"): return "i386"
        default: return machine
        }
    }

    /// Finds the built-in `Elements/` directory: `STAMP_ELEMENTS_DIR`, then `Elements` or
    /// `../share/stamp/Elements` next to the executable, then the source checkout (walking up
    /// from the executable, for `.build/debug/...`).
    public static func locateBuiltinElements(executable: URL, environment: [String: String]) -> URL? {
        if let dir = environment["STAMP_ELEMENTS_DIR"] { return URL(fileURLWithPath: dir) }
        // argv[0] is a bare name when the executable was found through PATH: ask the kernel.
        var executable = executable
        if !executable.relativePath.hasPrefix("/"),
            let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        {
            executable = URL(fileURLWithPath: path)
        }
        let binDir = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = [
            binDir.appendingPathComponent("Elements"),
            binDir.appendingPathComponent("../share/stamp/Elements").standardized,
        ]
        var dir = binDir
        for _ in 0..<5 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent("Elements"))
        }
        return candidates.first { HooksTree.isDirectory($0.appendingPathComponent("base")) }
    }
}

/// The values DIB's block layer exports before any phase runs, derived from the block-device
/// configuration (diskimage-builder's block-device layer, `dib-block-device getval`). The
/// engine exports them; which configuration applies is the caller's choice (StampDIB's
/// `BlockDeviceSelection`), given to ``ElementBuild/validate(_:blockDevice:variableProblems:logger:)``.
public struct BlockDeviceSettings: Sendable, Equatable {
    /// Where the configuration came from: `DIB_BLOCK_DEVICE_CONFIG`, an element file, or the
    /// built-in partitionless fallback.
    public var source: String
    /// The YAML text to hand to the disk layout (StampDisk parses and validates it).
    public var yaml: String
    /// `DIB_ROOT_LABEL`.
    public var rootLabel: String
    /// `DIB_ROOT_FSTYPE`.
    public var rootFSType: String
    /// `DIB_BOOT_LABEL` (label of the file system mounted at `/boot`, else empty).
    public var bootLabel: String
    /// `DIB_MOUNTPOINTS`, in mount order.
    public var mountPoints: [String]
    /// True when the configuration came from `DIB_BLOCK_DEVICE_CONFIG` (the disk is then laid
    /// out by it rather than by the layout the elements imply).
    public var fromEnvironment = false

    public init(
        source: String, yaml: String, rootLabel: String, rootFSType: String, bootLabel: String, mountPoints: [String],
        fromEnvironment: Bool = false
    ) {
        self.source = source
        self.yaml = yaml
        self.rootLabel = rootLabel
        self.rootFSType = rootFSType
        self.bootLabel = bootLabel
        self.mountPoints = mountPoints
        self.fromEnvironment = fromEnvironment
    }
}

/// Chooses the block-device configuration of a build from its resolved elements and plan.
public typealias BlockDeviceChoice =
    @Sendable (_ elements: [Element], _ plan: ElementBuildPlan) throws(ElementProblems) -> BlockDeviceSettings
