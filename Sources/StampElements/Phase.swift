/// A hook phase: a `<name>.d` directory of scripts run by dib-run-parts.
///
/// DIB's order and placement (diskimage-builder's `disk-image-create` and its element guide):
///
/// | phase | runs | stage |
/// |---|---|---|
/// | `root.d` | outside | ``ElementBuild/run(_:logger:)`` |
/// | `extra-data.d` | outside | run |
/// | `pre-install.d` | chroot | run |
/// | `install.d` | chroot | run, then the `-p` packages |
/// | `post-install.d` | chroot | run |
/// | `post-root.d` | outside | run |
/// | `block-device.d` | outside | ``ElementBuild/finalise(_:options:logger:)`` |
/// | `pre-finalise.d` | outside | finalise |
/// | `finalise.d` | chroot | finalise |
/// | `cleanup.d` | outside | finalise |
public enum Phase: String, Sendable, CaseIterable, Comparable {
    case root = "root"
    case extraData = "extra-data"
    case preInstall = "pre-install"
    case install = "install"
    case postInstall = "post-install"
    case postRoot = "post-root"
    case blockDevice = "block-device"
    case preFinalise = "pre-finalise"
    case finalise = "finalise"
    case cleanup = "cleanup"

    /// The hooks directory name, e.g. `install.d`.
    public var directory: String { rawValue + ".d" }

    /// Whether DIB runs the phase inside the chroot.
    public var runsInChroot: Bool {
        switch self {
        case .preInstall, .install, .postInstall, .finalise: return true
        default: return false
        }
    }

    /// Whether `TARGET_ROOT` is set (DIB: `root.d` and `cleanup.d` only).
    public var hasTargetRoot: Bool { self == .root || self == .cleanup }

    /// Whether `DIB_DEFAULT_INSTALLTYPE` is visible (from `extra-data.d` on).
    public var hasInstallType: Bool { self != .root }

    /// Whether `DIB_IMAGE_SIZE` (KiB) is visible (from `block-device.d` on).
    public var hasImageSize: Bool { self >= .blockDevice }

    /// Phases of the first stage (up to and including `post-root.d`).
    public static let buildPhases: [Phase] = [.root, .extraData, .preInstall, .install, .postInstall, .postRoot]
    /// Phases of the finalise stage.
    public static let finalisePhases: [Phase] = [.blockDevice, .preFinalise, .finalise, .cleanup]

    /// The phase for a directory name such as `install.d` or a bare `install`.
    public init?(directory: String) {
        let bare = directory.hasSuffix(".d") ? String(directory.dropLast(2)) : directory
        self.init(rawValue: bare)
    }

    public static func < (lhs: Phase, rhs: Phase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A debug break point from DIB's `break=` variable (comma list).
public enum BreakPoint: Sendable, Equatable, Hashable, CustomStringConvertible {
    case before(Phase)
    case after(Phase)
    case afterError

    /// Parses `before-install`, `after-root`, `after-error` (a `.d` suffix is accepted).
    public init?(_ text: String) {
        if text == "after-error" {
            self = .afterError
            return
        }
        if text.hasPrefix("before-"), let phase = Phase(directory: String(text.dropFirst(7))) {
            self = .before(phase)
            return
        }
        if text.hasPrefix("after-"), let phase = Phase(directory: String(text.dropFirst(6))) {
            self = .after(phase)
            return
        }
        return nil
    }

    /// Parses the whole `break=` value; unknown entries are returned as problems.
    public static func parseList(_ value: String?) -> (points: [BreakPoint], problems: [ElementError]) {
        var points: [BreakPoint] = []
        var problems: [ElementError] = []
        for part in (value ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
        where !part.isEmpty {
            if let point = BreakPoint(part) { points.append(point) } else { problems.append(.unknownBreakPoint(part)) }
        }
        return (points, problems)
    }

    public var description: String {
        switch self {
        case .before(let phase): return "before-\(phase.rawValue)"
        case .after(let phase): return "after-\(phase.rawValue)"
        case .afterError: return "after-error"
        }
    }
}
