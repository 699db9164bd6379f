import Foundation
import Logging
import StampIO

/// A plan that passed validation: the element set is resolved, the hooks tree merges without
/// duplicates, package lists parse, the block-device configuration is chosen.
public struct ValidatedElementBuild: Sendable {
    public let plan: ElementBuildPlan
    public let index: ElementIndex
    public let resolution: ElementResolution
    public let hooks: HooksTree
    public let packages: PackageInstalls
    public let blockDevice: BlockDeviceSettings
    public let breakPoints: [BreakPoint]
    /// The sandbox's `IDS` argument (``Sandbox/ids(environment:insideUserNamespace:passwd:)``)
    /// when the tree comes from a container image (the `oci-image` element, `stamp build
    /// --from`): its programs then run in ``Sandbox``, never in a chroot with host privileges.
    public let sandbox: String?

    /// Whether the `bootloader` element is in the set. stamp writes the boot code itself
    /// (StampBoot); the element only installs GRUB's files and writes its configuration.
    public var wantsBootloader: Bool { resolution.elements.contains { $0.name == "bootloader" } }
    /// DIB's `no-final-image`: build the tree, write no disk image.
    public var noFinalImage: Bool { resolution.elements.contains { $0.name == "no-final-image" } }
}

/// The root tree produced by ``ElementBuild/run(_:logger:)``.
///
/// The tree at ``root`` is a plain directory (nothing is mounted on it any more). Before the
/// disk is written the integrator:
/// 1. computes the image size from the tree (DIB's rule: StampDIB's `ImageSizeInputs`);
/// 2. lays out the disk from ``ValidatedElementBuild/blockDevice`` and writes `root/etc/fstab`
///    (`LABEL=` lines, replacing any fstab from the elements, as DIB does);
/// 3. calls ``ElementBuild/finalise(_:options:logger:)`` (`block-device.d`, `pre-finalise.d`,
///    `finalise.d` in a chroot of this tree, `cleanup.d`);
/// 4. scans the tree and writes the image; then ``ElementBuild/cleanup(_:)``.
public struct BuiltRoot: Sendable {
    public let build: ValidatedElementBuild
    public let work: WorkDirectory
    /// `TMP_MOUNT_PATH`: the finished root tree.
    public var root: URL { work.root }
    /// The variables every phase saw (DIB_ROOT_LABEL, IMAGE_ELEMENT, TMP_* ...).
    public let environment: [String: String]
    /// Per-script timings of the stage.
    public let timings: [ScriptTiming]
}

/// Options of the finalise stage.
public struct FinaliseOptions: Sendable {
    /// `DIB_IMAGE_SIZE` in KiB, as the disk layer computed it.
    public var imageSizeKiB: Int?
    /// Extra variables for these phases (e.g. `IMAGE_BLOCK_DEVICE` if the caller has one).
    public var environment: [String: String] = [:]

    public init(imageSizeKiB: Int? = nil, environment: [String: String] = [:]) {
        self.imageSizeKiB = imageSizeKiB
        self.environment = environment
    }
}

/// The element engine's entry points.
///
/// ```swift
/// let plan = request.plan                                             // StampDIB's DIBBuildRequest
/// let build = try ElementBuild.validate(plan, blockDevice: choose)   // all problems at once
/// let built = try await ElementBuild.run(build, logger: logger)       // root.d … post-root.d
/// // … size, layout, write built.root/etc/fstab …
/// try await ElementBuild.finalise(built, options: .init(imageSizeKiB: kib), logger: logger)
/// // … scan built.root, write the image …
/// ElementBuild.cleanup(built)
/// ```
///
/// Requires root (a non-root caller gets the subordinate-range check of ``SubordinateIDs``),
/// `setpriv`, `unshare`, `chroot`, `mount` (util-linux / coreutils).
public enum ElementBuild {
    /// Checks everything that can be checked before anything runs.
    /// - Parameters:
    ///   - blockDevice: chooses the block-device configuration once the elements are resolved.
    ///   - variableProblems: the caller's own checks of the plan's variables, reported with
    ///     the engine's.
    /// - Throws: ``ElementProblems`` with every problem found.
    public static func validate(
        _ plan: ElementBuildPlan, blockDevice choose: BlockDeviceChoice, variableProblems: [ElementError] = [],
        logger: Logger? = nil
    ) throws(ElementProblems) -> ValidatedElementBuild {
        var problems: [ElementError] = []
        let (points, breakProblems) = BreakPoint.parseList(plan.breakPoints)
        problems += breakProblems
        if Spawn.which("setpriv") == nil { problems.append(.missingTool("setpriv")) }
        // The stage runs these through the build's own PATH (setpriv execs unshare, the driver
        // runs the others), so they are looked up there, not in stamp's fallback directories.
        let stagePath = plan.environment["PATH"] ?? "/usr/bin:/bin"
        for tool in ["unshare", "chroot", "mount", "umount"] where Spawn.which(tool, searchPath: stagePath) == nil {
            problems.append(.missingTool(tool))
        }
        problems += variableProblems
        // A cache derived from HOME is made below HOME, never HOME itself: a HOME that does not
        // exist (`/nonexistent`, a service account's) is a misconfiguration, not a place to create.
        let home = plan.environment["HOME"] ?? NSHomeDirectory()
        if plan.imageCache.path == "\(home)/.cache/image-create", let reason = missingDirectory(home) {
            problems.append(
                .unusableDirectory(
                    role: "HOME (the image cache's default parent; or set DIB_IMAGE_CACHE)", path: home, reason: reason))
        } else if let reason = unusableDirectory(plan.imageCache.path) {
            problems.append(
                .unusableDirectory(
                    role: "image cache (DIB_IMAGE_CACHE, else $HOME/.cache/image-create)", path: plan.imageCache.path,
                    reason: reason))
        }
        // TMPDIR must exist, as for DIB's `mktemp -d`.
        if let reason = unusableDirectory(plan.workParent.path, mayCreate: false) {
            problems.append(.unusableDirectory(role: "build directory (TMPDIR)", path: plan.workParent.path, reason: reason))
        }
        func collect<T>(_ result: Result<T, ElementProblems>) -> T? {
            switch result {
            case .success(let value): return value
            case .failure(let failure):
                problems += failure.problems
                return nil
            }
        }
        guard
            let index = collect(
                Result { () throws(ElementProblems) in
                    try ElementIndex(
                        elementsPath: plan.elementsPath, builtinDirectory: plan.builtinElementsDirectory, logger: logger)
                })
        else { throw ElementProblems(problems) }
        let requested = ElementResolution.withBase(plan.elements, skipBase: plan.skipBase)
        guard
            let resolution = collect(
                Result { () throws(ElementProblems) in
                    try ElementResolution(requested: requested, index: index, requireOperatingSystem: plan.requireOperatingSystem)
                })
        else { throw ElementProblems(problems) }
        let hooks = collect(Result { () throws(ElementProblems) in try HooksTree(elements: resolution.elements) })
        let packages = collect(
            Result { () throws(ElementProblems) in
                try PackageInstalls(elements: resolution.elements, arch: plan.arch, installType: plan.installType)
            })
        let blockDevice = collect(
            Result { () throws(ElementProblems) in try choose(resolution.elements, plan) })
        var sandbox: String?
        if resolution.elements.contains(where: { $0.name == "oci-image" }) {
            sandbox = collect(
                Sandbox.ids(environment: plan.environment, insideUserNamespace: UserNamespace.isNested)
                    .mapError { ElementProblems([$0]) })
        }
        guard problems.isEmpty, let hooks, let packages, let blockDevice else { throw ElementProblems(problems) }
        logger?.info("Building elements: \(requested.joined(separator: " "))")
        logger?.info("Expanded element dependencies to: \(resolution.imageElement)")
        return ValidatedElementBuild(
            plan: plan, index: index, resolution: resolution, hooks: hooks, packages: packages,
            blockDevice: blockDevice, breakPoints: points, sandbox: sandbox)
    }

    /// Runs `root.d` through `post-root.d` in a fresh work directory and returns the tree.
    ///
    /// Stale work directories of killed builds are removed first. All phases run under one
    /// private mount and PID namespace (see ``StageScript``): `/proc`, `/sys` (read-only),
    /// `/dev`, `/dev/pts` and the read-only hooks tree at `tmp/in_target.d` exist only there.
    /// The host's `resolv.conf`, the `policy-rc.d` and the apt proxy set for the chroot phases
    /// are removed before this returns.
    /// - Throws: ``ElementProblems`` (a failing script names its element, phase and exit code).
    /// - Parameter populateRoot: fills the empty root tree (its path given) before `root.d`
    ///   runs: the image of the `oci-image` element.
    public static func run(
        _ build: ValidatedElementBuild, populateRoot: ((String) throws -> Void)? = nil, logger: Logger? = nil
    ) async throws -> BuiltRoot {
        if geteuid() != 0 {
            // Before anything is created: without a subordinate range there is no way to run.
            switch SubordinateIDs.checkCaller() {
            case .failure(let problem): throw ElementProblems([problem])
            case .success: throw ElementProblems([.unprivilegedNotSupported(who: SubordinateIDs.callerDescription())])
            }
        }
        let work = try WorkDirectory.create(under: build.plan.workParent, logger: logger)
        logger?.info("Building in \(work.url.path)")
        do {
            try prepare(build, work: work)
            try populateRoot?(work.root.path)
            let environment = commonEnvironment(build, work: work)
            var steps = [
                "phase:root.d:out", "check-root", "installtype", "phase:extra-data.d:out",
                "mount", "tweaks-on", "defer-initramfs", "phase:pre-install.d:in", "phase:install.d:in", "packages",
                "phase:post-install.d:in", "initramfs", "kill-chroot", "tweaks-off", "umount", "phase:post-root.d:out",
            ]
            if build.plan.extraPackages.isEmpty { steps.removeAll { $0 == "packages" } }
            let outcome = try await runStage(build, work: work, environment: environment, steps: steps, logger: logger)
            return BuiltRoot(build: build, work: work, environment: environment, timings: outcome.timings)
        } catch {
            if build.plan.environment["STAMP_KEEP_WORKDIR"] == nil { work.remove() }
            throw error
        }
    }

    /// Runs `block-device.d`, `pre-finalise.d`, `finalise.d` (in a chroot of the final tree)
    /// and `cleanup.d`, then DIB's `finalise_base` (empties `tmp/`, truncates `var/log` files).
    public static func finalise(_ built: BuiltRoot, options: FinaliseOptions = .init(), logger: Logger? = nil) async throws {
        var environment = built.environment.merging(options.environment) { _, new in new }
        if let kib = options.imageSizeKiB { environment["DIB_IMAGE_SIZE"] = String(kib) }
        environment["DIB_DEFAULT_INSTALLTYPE"] = built.build.plan.installType
        let steps = [
            "phase:block-device.d:out", "phase:pre-finalise.d:out", "mount", "tweaks-on",
            "phase:finalise.d:in", "kill-chroot", "tweaks-off", "umount", "phase:cleanup.d:out",
            "finalise-base",
        ]
        _ = try await runStage(built.build, work: built.work, environment: environment, steps: steps, logger: logger)
    }

    /// Removes the work directory, the root tree included.
    public static func cleanup(_ built: BuiltRoot) {
        built.work.remove()
    }

    /// Writes the hooks tree, the runner, the package lists and the driver.
    static func prepare(_ build: ValidatedElementBuild, work: WorkDirectory) throws {
        try build.hooks.materialize(at: work.hooks)
        let runner = work.hooks.appendingPathComponent("dib-run-parts")
        try RunParts.runnerScript.write(to: runner, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: runner.path)
        try build.packages.write(into: work.hooks)
        try HostHelpers.write(into: work)
        let functions = work.hooks.appendingPathComponent(HostHelpers.bashFunctionsName)
        try HostHelpers.bashFunctions(elements: build.resolution.elements.map { ($0.name, $0.path.path) })
            .write(to: functions, atomically: true, encoding: .utf8)
        try StageScript.text.write(to: work.url.appendingPathComponent("stage.sh"), atomically: true, encoding: .utf8)
        do {
            try FileManager.default.createDirectory(at: build.plan.imageCache, withIntermediateDirectories: true)
        } catch {
            throw ElementProblems([
                .unusableDirectory(
                    role: "image cache (DIB_IMAGE_CACHE, else $HOME/.cache/image-create)", path: build.plan.imageCache.path,
                    reason: ErrorLine.describe(error))
            ])
        }
    }

    /// Why a directory the build must create or write cannot be used, or nil: the path (or,
    /// when `mayCreate`, its nearest existing ancestor, where it will be created) must be a
    /// writable directory. The reason names the ancestor at fault when it is not `path` itself.
    static func unusableDirectory(_ path: String, mayCreate: Bool = true) -> String? {
        let target = URL(fileURLWithPath: path).standardizedFileURL.path
        var candidate = target
        func named(_ reason: String) -> String { candidate == target ? reason : "\(candidate) \(reason)" }
        while true {
            var st = stat()
            if stat(candidate, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFDIR { return named("is not a directory") }
                if access(candidate, W_OK | X_OK) != 0 { return named("is not writable: \(ErrorLine.systemReason(errno))") }
                return nil
            }
            if errno != ENOENT { return named(ErrorLine.systemReason(errno)) }
            if !mayCreate { return "does not exist" }
            let parent = (candidate as NSString).deletingLastPathComponent
            if parent == candidate || parent.isEmpty { return named(ErrorLine.systemReason(ENOENT)) }
            candidate = parent
        }
    }

    /// Why `path` is not an existing directory (it may be read-only), or nil.
    static func missingDirectory(_ path: String) -> String? {
        var st = stat()
        if stat(path, &st) != 0 { return errno == ENOENT ? "does not exist" : ErrorLine.systemReason(errno) }
        return (st.st_mode & S_IFMT) == S_IFDIR ? nil : "is not a directory"
    }

    static func runStage(
        _ build: ValidatedElementBuild, work: WorkDirectory, environment: [String: String], steps: [String], logger: Logger?
    ) async throws -> StageProcess.Outcome {
        var env = environment
        env["STAMP_ROOT"] = work.root.path
        env["STAMP_HOOKS"] = work.hooks.path
        env["STAMP_WORK"] = work.url.path
        env["STAMP_STEPS"] = steps.joined(separator: " ")
        env["STAMP_BREAK"] = build.breakPoints.map(\.description).joined(separator: ",")
        env["STAMP_INSTALLTYPE"] = build.plan.installType
        env["STAMP_EXTRA_PACKAGES"] = build.plan.extraPackages.joined(separator: ",")
        env["STAMP_CHROOT_PATH"] = "/tmp/in_target.d/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let stage = StageProcess(
            driver: work.url.appendingPathComponent("stage.sh"), environment: env, origins: build.hooks.origins,
            logger: logger)
        return try await stage.run()
    }

    /// The variables diskimage-builder exports to every phase.
    static func commonEnvironment(_ build: ValidatedElementBuild, work: WorkDirectory) -> [String: String] {
        let plan = build.plan
        var env = plan.environment
        env["DIB_DEFAULT_INSTALLTYPE"] = nil  // visible from extra-data.d on (set by the driver)
        env["TARGET_ROOT"] = nil
        env["ARCH"] = plan.arch
        env["ELEMENTS_PATH"] = build.index.searchPath.map(\.path).joined(separator: ":")
        env["IMAGE_ELEMENT"] = build.resolution.imageElement
        env["IMAGE_ELEMENT_YAML"] = build.resolution.imageElementYAML
        let pairs = build.resolution.elements.map { "[\($0.name)]=\($0.path.path)" }.joined(separator: " ")
        env["BASH_FUNC_get_image_element_array%%"] = "() {  echo \"\(pairs)\"\n}"
        env["BASH_FUNC_die%%"] = "() {  echo \"ERROR: $*\" >&2;\n exit 1\n}"
        // dash (/bin/sh, which runs the stage driver and dib-run-parts) drops the BASH_FUNC_
        // variables above; bash reads BASH_ENV at start, so every bash script gets them anyway.
        env["BASH_ENV"] = work.hooks.appendingPathComponent(HostHelpers.bashFunctionsName).path
        env["IMAGE_NAME"] = plan.imageName
        if let first = plan.imageTypes.first { env["IMAGE_TYPE"] = first }
        env["FS_TYPE"] = env["FS_TYPE"].flatMap { $0.isEmpty ? nil : $0 } ?? "ext4"
        env["TMP_BUILD_DIR"] = work.url.path
        env["TMP_IMAGE_DIR"] = work.imageDirectory.path
        env["TMP_HOOKS_PATH"] = work.hooks.path
        env["TMP_MOUNT_PATH"] = work.root.path
        env["OUT_IMAGE_PATH"] = ""
        env["_LIB"] = HostHelpers.lib(work).path
        env.merge(ChrootPolicy.environment) { _, policy in policy }  // the chroot mounts ($_LIB/chroot-dev)
        // A STAMP_EXEC given by the caller names the binary of stamp's hidden commands when this
        // process is not stamp (the tests' runner, which gives the stamp it built).
        if let exec = plan.environment["STAMP_EXEC"], !exec.isEmpty { env["STAMP_EXEC"] = exec }
        env["DIB_PYTHON_EXEC"] = env["DIB_PYTHON_EXEC"] ?? Spawn.which("python3") ?? "python3"
        env["DIB_DEBUG_TRACE"] = String(plan.debugTrace)
        env["DIB_CHECKSUM"] = env["DIB_CHECKSUM"] ?? "0"
        env["DIB_NO_TMPFS"] = env["DIB_NO_TMPFS"] ?? "0"
        env["DIB_MIN_TMPFS"] = env["DIB_MIN_TMPFS"] ?? "2"
        env["DIB_OFFLINE"] = plan.offline ? "1" : ""
        env["DIB_IMAGE_CACHE"] = plan.imageCache.path
        let home = env["HOME"] ?? "/root"
        env["DIB_LOCKFILES"] = env["DIB_LOCKFILES"] ?? "\(home)/.cache/dib/lockfiles"
        env["DIB_ROOT_LABEL"] = build.blockDevice.rootLabel
        env["DIB_ROOT_FSTYPE"] = build.blockDevice.rootFSType
        env["DIB_BOOT_LABEL"] = build.blockDevice.bootLabel
        env["DIB_MOUNTPOINTS"] = build.blockDevice.mountPoints.joined(separator: "|")
        env["DIB_BLOCK_DEVICE_PARAMS_YAML"] = work.url.appendingPathComponent("params.yaml").path
        env["LC_ALL"] = "C"
        if build.wantsBootloader { env["STAMP_NATIVE_BOOTLOADER"] = "1" }
        env["STAMP_SANDBOX"] = build.sandbox  // STAMP_EXEC, stamp's own binary, is ChrootPolicy's
        return env
    }
}
