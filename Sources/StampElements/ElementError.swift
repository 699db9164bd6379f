/// One problem found by the element engine.
///
/// Every case names the element, path or phase at fault, and ``description`` is a single
/// lower-case line without a trailing period, so it can be printed as the one line a failed
/// `disk-image-create` run ends with. Validation collects these into ``ElementProblems``
/// instead of stopping at the first one.
public enum ElementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An `ELEMENTS_PATH` entry (or the built-in elements directory) is not a directory;
    /// `reason` says what it is instead ("does not exist", "is a broken symbolic link to …").
    case invalidElementsDirectory(path: String, reason: String)
    /// No element of this name exists in any elements directory.
    case elementNotFound(name: String, requiredBy: String?)
    /// Two elements in the set both provide the same (usually virtual) name.
    case providedTwice(name: String, providers: [String])
    /// An element was asked for by name but another element in the set already provides it.
    case requestedButProvided(name: String, provider: String)
    /// Nothing in the set provides `operating-system`.
    case noOperatingSystem
    /// No element was requested at all.
    case noElements
    /// Two elements install a hook file of the same name into the same hooks directory.
    case duplicateHook(element: String, path: String, firstElement: String)
    /// `package-installs.yaml`/`.json` or `pkg-map` could not be read.
    case invalidElementFile(element: String, path: String, reason: String)
    /// The block-device configuration (`DIB_BLOCK_DEVICE_CONFIG`, the file it names, or an
    /// element's `block-device-*.yaml`) cannot be read or is not valid YAML; `source` names it.
    case invalidBlockDeviceConfig(source: String, reason: String)
    /// A `break=` entry names no known break point.
    case unknownBreakPoint(String)
    /// The work directory, cache or another host path could not be prepared.
    case hostSetup(path: String, reason: String)
    /// A directory the build must create or write (image cache, `TMPDIR`) cannot be used.
    case unusableDirectory(role: String, path: String, reason: String)
    /// A required host tool is missing.
    case missingTool(String)
    /// An element script exited non-zero (128 + N: killed by signal N). `output` is the last
    /// line the script printed, which usually says why.
    case scriptFailed(element: String?, phase: String, script: String, exitCode: Int32, output: String? = nil)
    /// A non-root build, but the caller has no subordinate id range of
    /// ``SubordinateIDs/requiredCount`` ids in /etc/subuid (`kind` `.uid`) or /etc/subgid:
    /// `who` names the user, `found` lists the too-small ranges it has there, `suggestion` is a
    /// line to add that overlaps nobody's, and `alsoGroups` says /etc/subgid needs it too.
    case noSubordinateRange(
        who: String, kind: SubordinateIDs.Kind, found: [SubordinateIDs.Range], suggestion: String,
        alsoGroups: Bool)
    /// ``ElementBuild/run(_:logger:)`` called in-process by a non-root caller who has
    /// subordinate ranges: the phases run only as uid 0 of the build's user namespace, which
    /// ``UserNamespace/reexecUnlessRoot(arguments:)`` enters (the executables call it).
    case unprivilegedNotSupported(who: String)
    /// An environment variable the build reads has a value it cannot use.
    case invalidVariable(name: String, value: String, reason: String)
    /// The isolated stage process ended without reporting the end of its work.
    case stageFailed(reason: String, exitCode: Int32)

    public var description: String {
        switch self {
        case .invalidElementsDirectory(let path, let reason):
            return "elements directory \(path) \(reason)"
        case .elementNotFound(let name, let requiredBy):
            if let requiredBy { return "element '\(name)' not found (required by '\(requiredBy)')" }
            return "element '\(name)' not found"
        case .providedTwice(let name, let providers):
            return "'\(name)' is provided by more than one element: \(providers.joined(separator: ", "))"
        case .requestedButProvided(let name, let provider):
            return "element '\(name)' was requested but is already provided by '\(provider)'"
        case .noOperatingSystem:
            return "please include an operating system element (nothing provides 'operating-system')"
        case .noElements:
            return "at least one distribution root element must be specified"
        case .duplicateHook(let element, let path, let firstElement):
            return "there is a duplicated hook in your elements: \(element)/\(path) (also in \(firstElement))"
        case .invalidElementFile(let element, let path, let reason):
            return "element '\(element)': invalid \(path): \(reason)"
        case .invalidBlockDeviceConfig(let source, let reason):
            return "\(source): invalid block-device configuration: \(reason)"
        case .unknownBreakPoint(let name):
            return "unknown break point '\(name)' (use before-<phase>, after-<phase> or after-error)"
        case .hostSetup(let path, let reason):
            return "cannot prepare \(path): \(reason)"
        case .unusableDirectory(let role, let path, let reason):
            return "\(role) \(path): \(reason)"
        case .missingTool(let tool):
            return "required host tool '\(tool)' not found in PATH"
        case .scriptFailed(let element, let phase, let script, let exitCode, let output):
            let owner = element.map { " of element '\($0)'" } ?? ""
            let said = output.map { ": \($0)" } ?? ""
            if let signal = signalName(exitCode) {
                return "script \(script)\(owner) was killed by signal \(signal) in \(phase) (exit code \(exitCode))\(said)"
            }
            return "script \(script)\(owner) failed in \(phase) with exit code \(exitCode)\(said)"
        case .noSubordinateRange(let who, let kind, let found, let suggestion, let alsoGroups):
            let size = found.isEmpty ? "" : " of at least \(SubordinateIDs.requiredCount) ids"
            let only = found.isEmpty ? "" : " (only \(found.map(\.description).joined(separator: ", ")))"
            let groups = alsoGroups ? " (and the same to \(SubordinateIDs.Kind.gid.file))" : ""
            return "\(who) has no subordinate \(kind.rawValue) range\(size) in \(kind.file)\(only): "
                + "add a line such as '\(suggestion)'\(groups), or run as root"
        case .unprivilegedNotSupported(let who):
            return
                "\(who) has subordinate id ranges, but the element phases run only as uid 0 of the build's user namespace (UserNamespace.reexecUnlessRoot, as disk-image-create and stamp build do): run as root"
        case .invalidVariable(let name, let value, let reason):
            return "invalid \(name) '\(value)': \(reason)"
        case .stageFailed(let reason, let exitCode):
            return "element stage failed (exit code \(exitCode)): \(reason)"
        }
    }
}

/// The signal a shell exit status of 128 + N reports (`KILL` for 137), or nil for a plain
/// exit status.
func signalName(_ status: Int32) -> String? {
    let names: [Int32: String] = [
        1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
        9: "KILL", 11: "SEGV", 13: "PIPE", 14: "ALRM", 15: "TERM",
    ]
    guard status > 128, let name = names[status - 128] else { return nil }
    return name
}

/// Every problem found while validating or running an element build, reported together.
///
/// Validation never stops at the first problem: an unknown element, a provider conflict and a
/// duplicated hook are all listed in one value. ``description`` is one line.
public struct ElementProblems: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problems, in the order they were found.
    public var problems: [ElementError]

    public init(_ problems: [ElementError]) { self.problems = problems }

    public var description: String {
        if problems.count == 1 { return problems[0].description }
        return "\(problems.count) problems: " + problems.map(\.description).joined(separator: "; ")
    }

    /// Throws `self` when there is at least one problem.
    func throwIfAny() throws(ElementProblems) {
        if !problems.isEmpty { throw self }
    }
}
