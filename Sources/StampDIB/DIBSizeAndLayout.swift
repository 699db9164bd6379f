import Logging
import StampDisk
import StampElements

/// What DIB decides from the elements and its variables that the element engine does not:
/// the inputs of the image size arithmetic, the checks of their variables, and the standard
/// disk layout the `block-device-*` and `vm` elements imply.
///
/// ```
///  ElementBuildPlan ─► ElementBuild.validate(plan)            (this module's: DIB's choices)
///                        ├─ BlockDeviceSelection.choice      block-device config → DIB_ROOT_LABEL, …
///                        └─ DIBVariables.problems            DIB_IMAGE_SIZE, DIB_IMAGE_EXTRA_SIZE, DIB_JOURNAL_SIZE
///  ValidatedElementBuild ─► .sizeInputs, .standardLayout     (the pipeline sizes and lays out the disk)
/// ```
public struct ImageSizeInputs: Sendable, Equatable {
    /// `DIB_IMAGE_SIZE` / `--image-size` in GiB, if given.
    public var imageSizeGiB: Double?
    /// `DIB_IMAGE_EXTRA_SIZE` in MiB (replaces the ÷0.6 factor).
    public var extraSizeMiB: Double?
    /// `DIB_JOURNAL_SIZE` in MiB (default 64).
    public var journalSizeMiB: Int
    /// Whether any element name contains `block-device-efi` (+525 MiB, even with an explicit size).
    public var addEFIMargin: Bool
    /// `MAX_ONLINE_RESIZE`.
    public var maxOnlineResize: String?
    /// `--mkfs-options`.
    public var mkfsOptions: String?

    /// The inputs a build's variables and resolved elements give.
    public init(environment env: [String: String], elements: [Element]) {
        imageSizeGiB = env["DIB_IMAGE_SIZE"].flatMap(Double.init)
        extraSizeMiB = env["DIB_IMAGE_EXTRA_SIZE"].flatMap(Double.init)
        journalSizeMiB = env["DIB_JOURNAL_SIZE"].flatMap { Int($0) } ?? 64
        addEFIMargin = elements.contains { $0.name.contains("block-device-efi") }
        maxOnlineResize = env["MAX_ONLINE_RESIZE"]
        mkfsOptions = env["DIB_MKFS_OPTS"]
    }
}

/// DIB's variables of the size arithmetic, checked before anything runs.
public enum DIBVariables {
    /// The numeric variables of the size arithmetic, checked: a value that is not a number
    /// would otherwise be ignored without a word (or, out of range, trap in a conversion).
    /// Empty means unset, as in DIB's `${VAR:-default}`.
    public static func problems(_ env: [String: String]) -> [ElementError] {
        var problems: [ElementError] = []
        let decimals: [(name: String, unit: String, max: Double)] = [
            ("DIB_IMAGE_SIZE", "GiB", 1_048_576), ("DIB_IMAGE_EXTRA_SIZE", "MiB", 1_073_741_824),
        ]
        for (name, unit, max) in decimals {
            guard let value = env[name], !value.isEmpty else { continue }
            if let number = Double(value), number.isFinite, number >= 0, number <= max { continue }
            problems.append(
                .invalidVariable(name: name, value: value, reason: "expected a number of \(unit) from 0 to \(Int(max))"))
        }
        if let value = env["DIB_JOURNAL_SIZE"], !value.isEmpty, !(Int(value).map { (4...10240).contains($0) } ?? false) {
            problems.append(
                .invalidVariable(name: "DIB_JOURNAL_SIZE", value: value, reason: "expected a whole number of MiB from 4 to 10240")
            )
        }
        return problems
    }
}

extension ValidatedElementBuild {
    /// The inputs of DIB's image size arithmetic for this build.
    public var sizeInputs: ImageSizeInputs { ImageSizeInputs(environment: plan.environment, elements: resolution.elements) }

    /// The disk layout DIB would build for these elements.
    public var standardLayout: StandardLayout {
        let names = Set(resolution.elements.map(\.name))
        if names.contains("block-device-efi") { return .efi }
        if names.contains("block-device-gpt") { return .gpt }
        if names.contains("block-device-mbr") || names.contains("vm") { return .mbr }
        return .none
    }
}

extension ElementResolution {
    /// DIB's implicit additions (`arg_to_elements`): `base` first unless `skipBase`; when `vm`
    /// is listed and no argument names a `block-device-*` element, `block-device-mbr` (or
    /// `block-device-efi` on arm64) is appended.
    public static func implicitElements(_ names: [String], skipBase: Bool, arch: String) -> [String] {
        withBase(withBlockDevice(names, arch: arch), skipBase: skipBase)
    }

    /// `names` with the `block-device-*` element `vm` implies, if none is named.
    static func withBlockDevice(_ names: [String], arch: String) -> [String] {
        guard names.contains("vm"), !names.contains(where: { $0.hasPrefix("block-device-") }) else { return names }
        return names + [arch == "arm64" || arch == "aarch64" ? "block-device-efi" : "block-device-mbr"]
    }
}

extension ElementBuild {
    /// Validates a plan as DIB builds it: the `block-device-*` element `vm` implies added, the
    /// block-device configuration chosen by ``BlockDeviceSelection``, the size variables
    /// checked by ``DIBVariables``.
    /// - Throws: ``ElementProblems`` with every problem found.
    public static func validate(_ plan: ElementBuildPlan, logger: Logger? = nil) throws(ElementProblems) -> ValidatedElementBuild
    {
        var plan = plan
        plan.elements = ElementResolution.withBlockDevice(plan.elements, arch: plan.arch)
        return try validate(
            plan, blockDevice: BlockDeviceSelection.choice, variableProblems: DIBVariables.problems(plan.environment),
            logger: logger)
    }
}
