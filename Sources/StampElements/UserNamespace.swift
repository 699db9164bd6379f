import Foundation
import StampIO

/// How an element build runs without root (issue 11): the design, and the part that exists
/// today, the lookup of the caller's subordinate id ranges.
///
/// ## The namespace
///
/// As root, a build's phases run under `setpriv --pdeathsig KILL -- unshare --mount --pid
/// --fork --kill-child` (see ``StageScript``). As an ordinary user the same stage runs one
/// level deeper, in a new **user** namespace that the build owns, with this map:
///
/// ```
///  inside the namespace        on the host
///  uid 0          ──────────►  the caller (getuid()), 1 id
///  uid 1 … 65536  ──────────►  the caller's /etc/subuid range, start … start + 65535
///  gid 0          ──────────►  the caller's primary gid (getgid()), 1 id
///  gid 1 … 65536  ──────────►  the caller's /etc/subgid range
///  anything else  ──────────►  unmapped: seen as nobody (65534) / nogroup, cannot be set
/// ```
///
/// Only a privileged helper may write a map with more than the caller's own id, so the maps
/// are written by `newuidmap`/`newgidmap` (package `uidmap`, setuid root), which check each
/// range against /etc/subuid and /etc/subgid. Hence a range of at least ``requiredCount``
/// ids is needed: Debian's system users and groups (`_apt` 42, `systemd-journal`, `nobody`
/// 65534) and anything `adduser` picks must all be mappable, or dpkg's `chown` fails.
///
/// Inside, uid 0 has every capability over the namespace's own mounts and over inodes whose
/// owners are mapped, so the stage driver runs unchanged, with these differences, all
/// imposed by the kernel:
/// - `/proc` is mounted fresh, as today: allowed, because the PID namespace is owned by the
///   new user namespace.
/// - `/sys` is a recursive bind mount of the host's (read-only), not a new sysfs: mounting
///   sysfs needs a network namespace owned by the user namespace, which the build does not
///   want (apt needs the network).
/// - `/dev` is a bind mount of the host's (as today; `mknod` is refused in a user
///   namespace, so device nodes cannot be created in the tree), `/dev/pts` a new `devpts`
///   instance (allowed).
/// - A read-only remount of a bind (the hooks at `tmp/in_target.d`) must keep the flags the
///   host mount is locked with (`nosuid`, `nodev`, …), or `mount` fails with EPERM.
///
/// ## One namespace for the whole build, the scan included
///
/// The tree lives on the host's filesystem with host ids: a file dpkg chowned to `_apt`
/// (42) inside is owned by `start + 41` on the host. Two ways to make the image hold 42:
/// scan on the host and map every id back through the table above, or scan inside the
/// namespace, where the kernel already shows 42. stamp does the second: a non-root
/// `disk-image-create`/`stamp build`, once validation has passed, re-executes itself in a
/// new user namespace (stamp is multithreaded by then, and `unshare(CLONE_NEWUSER)` refuses
/// a multithreaded caller: unshare(2)), where it is uid 0 and does everything
/// the root path does, unchanged: stages, scan, disk, outputs, cleanup.
/// Why not map back on the host:
/// - Permissions. On the host the caller is an ordinary user without `CAP_DAC_READ_SEARCH`:
///   it cannot enter `var/cache/apt/archives/partial` (0700 `_apt`) or read a 0600 file of a
///   subordinate owner, so the scan and the data copy would fail. Inside, uid 0 may.
/// - Everything else the kernel translates: owners in `stat`, the ids inside POSIX ACL
///   xattrs, and file capabilities (`security.capability` set inside is stored as a v3
///   capability with the namespace's root id; read inside, it is the v2 form an image must
///   hold, as on `/usr/bin/ping`). Mapping by hand would have to redo each of these, and a
///   mistake would be silent in the image.
/// - The writer code stays one path for root and non-root builds.
///
/// The re-execution replaces the process in place (`execv`, same PID), so the process that
/// nodepool or Kubernetes started *is* the namespaced build: its signals (SIGINT/SIGTERM
/// remove temporary outputs), its stderr (failures stay one line) and its exit status are
/// the build's own, with no forwarding parent. util-linux does the mapping (2.38.1 here,
/// tried as a throwaway user with a range):
///
/// ```
/// unshare --map-user=0 --map-group=0 --map-users=START,1,65536 --map-groups=GSTART,1,65536 \
///     -- /path/to/disk-image-create ARGS…
/// ```
///
/// runs `newuidmap PID 0 UID 1 1 START 65536` (and `newgidmap`) from a forked helper, then
/// execs: inside, `id` is root and /proc/self/uid_map is exactly the table above. (The
/// comma form is 2.38's `outer,inner,count`; later util-linux documents `inner:outer:count`
/// and keeps commas as a deprecated spelling: pin the form with a test.) There the stage goes on as for root: its `unshare --mount --pid` makes
/// namespaces owned by the new user namespace, and the same trial mounted /proc, a tmpfs,
/// `--rbind /sys`, `--rbind /dev` and a new devpts, while `mount -t sysfs` failed with
/// EPERM; `chown 1234:1234` inside gave host owner START + 1233. Each stage keeps its own
/// PID namespace whose PID 1 dies with stamp (`--pdeathsig KILL`): a SIGKILL of the build
/// leaves no process and, with the last process of the namespaces gone, no mount.
///
/// ## Who owns what on the host
///
/// Outputs (`OUT.qcow2`, `OUT.d/`, checksums) and the image cache are created by uid 0 of
/// the namespace, which *is* the caller: the caller owns them, with the caller's group.
/// The work directory holds subordinate-owned files the caller cannot remove from the
/// host, so it is removed inside the namespace, at the end of the build and, for a killed
/// build, by the next build's stale-directory sweep (which therefore also runs inside).
/// The debootstrap/mmdebstrap base cache is a tarball written inside, so its members keep
/// the inside ids and a root build and a non-root build can share it.
///
/// ## Containers
///
/// The root of a rootless or unprivileged container (podman, Kubernetes) is uid 0 of a user
/// namespace without `CAP_SYS_ADMIN` in it: it cannot make mount namespaces. It re-executes
/// like an ordinary user (``UserNamespace/needsNamespace``), with the range /etc/subuid gives
/// `root` (`root:1:65536` in stamp's image: the identity map of the container's ids). Such a
/// container's /proc usually has masked paths, and the kernel then refuses a new proc to a
/// user namespace: the stage driver and the chroots bind the container's /proc instead.
/// Device nodes cannot be made there either: the scan adds the base system's
/// (``SupplementaryEntry/baseSystemDevices``), so the image equals a root build's.
///
/// ## What exists
///
/// ``check(uid:name:gid:subuid:subgid:)`` (and ``checkCaller()`` over the real files): the
/// caller must have a range of ``requiredCount`` ids in both files, else the build stops
/// before creating anything with one line saying what to add. ``UserNamespace`` re-executes
/// `disk-image-create`, `stamp build` and `stamp pack` as above; the stage driver binds `/dev`
/// and `/sys` recursively there (`STAMP_USERNS=1`). Tests: UnprivilegedBuildTests (busybox
/// fixture), UnprivilegedDebianTests (nodepool's command, compared entry by entry with a root
/// build, killed, booted), ContainerBuildTests (rootless podman), BootTests (`stamp pack` as
/// an ordinary user, booted).
public enum SubordinateIDs {
    /// How many subordinate ids a build needs: 1 … 65535 inside (uid 0 is the caller), every
    /// id Debian gives out up to `nobody`/`nogroup` (65534). A Kubernetes pod with its own
    /// user namespace (`hostUsers: false`) has exactly 65536 ids, 0 … 65535: its root can map
    /// 1 … 65535 and no more.
    public static let requiredCount: UInt32 = 65535
    /// How many are mapped when the range has them: 1 … 65536, as `useradd` allocates.
    public static let mappedCount: UInt32 = 65536
    /// The size of range a suggestion names (`useradd`'s default).
    static let suggestedCount: UInt32 = 65536
    /// Where `useradd` starts allocating (`SUB_UID_MIN` in login.defs): a suggestion never
    /// starts lower.
    static let suggestionFloor: UInt64 = 100_000

    /// One `owner:start:count` line of /etc/subuid or /etc/subgid.
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        public var start: UInt32
        public var count: UInt32
        public init(start: UInt32, count: UInt32) {
            self.start = start
            self.count = count
        }
        public var description: String { "\(start):\(count)" }
    }

    /// Which file a range comes from.
    public enum Kind: String, Sendable, Equatable {
        case uid, gid
        /// `/etc/subuid` or `/etc/subgid`.
        public var file: String { "/etc/sub\(rawValue)" }
    }

    /// The caller's ids and usable ranges: the maps the namespace runner will write.
    public struct Mapping: Sendable, Equatable {
        /// The caller's real uid and primary gid: 0 inside.
        public var hostUID: UInt32
        public var hostGID: UInt32
        /// The subordinate ranges: 1 … ``mappedCount`` inside (or fewer, down to ``requiredCount``).
        public var uid: Range
        public var gid: Range

        /// How many ids of `kind`'s range are mapped: at most ``mappedCount``.
        public func count(_ kind: Kind) -> UInt32 { min((kind == .uid ? uid : gid).count, mappedCount) }

        /// The `inside host count` triples after `newuidmap PID` (`newgidmap PID` for `.gid`).
        public func mapArguments(_ kind: Kind) -> [String] {
            let (host, range) = kind == .uid ? (hostUID, uid) : (hostGID, gid)
            return ["0", String(host), "1", "1", String(range.start), String(count(kind))]
        }
    }

    /// Parses one file's text: every well-formed `owner:start:count` line whose owner is
    /// `name` or the decimal `uid` (as shadow's `newuidmap` matches), in file order.
    ///
    /// Blank lines, `#` comments and malformed lines (a missing field, a number that is not
    /// one, a count of 0, a range that runs past 2³² − 1) are skipped, as shadow skips them.
    public static func ranges(in text: String, name: String?, uid: UInt32) -> [Range] {
        entries(in: text).filter { $0.owner == name || $0.owner == String(uid) }.map(\.range)
    }

    /// The first range of at least ``requiredCount`` ids (only the first 65536 of it are used).
    public static func usable(_ ranges: [Range]) -> Range? {
        ranges.first { $0.count >= requiredCount }
    }

    /// A start for a new range that overlaps no line of the file (anyone's): past the end of
    /// the highest range, and not below 100000.
    public static func suggestedStart(in text: String) -> UInt64 {
        entries(in: text).map { UInt64($0.range.start) + UInt64($0.range.count) }.reduce(suggestionFloor, max)
    }

    /// Checks the caller's entries in both files' texts (nil: the file does not exist).
    /// - Returns: the mapping, or the problem naming what to add.
    public static func check(uid: UInt32, name: String?, gid: UInt32, subuid: String?, subgid: String?)
        -> Result<Mapping, ElementError>
    {
        let owner = name ?? String(uid)
        let who = describe(uid: uid, name: name)
        let uidRanges = ranges(in: subuid ?? "", name: name, uid: uid)
        let gidRanges = ranges(in: subgid ?? "", name: name, uid: uid)
        let uidRange = usable(uidRanges)
        let gidRange = usable(gidRanges)
        if let uidRange, let gidRange {
            return .success(Mapping(hostUID: uid, hostGID: gid, uid: uidRange, gid: gidRange))
        }
        // Name the subuid file first; mention subgid too when it needs the same line.
        let (kind, found, text) = uidRange == nil ? (Kind.uid, uidRanges, subuid) : (Kind.gid, gidRanges, subgid)
        var start = suggestedStart(in: text ?? "")
        if kind == .uid && gidRange == nil { start = max(start, suggestedStart(in: subgid ?? "")) }
        if uid == 0 {
            // Root needs a namespace only without CAP_SYS_ADMIN, i.e. in a container, whose
            // ids may be just 0-65535: the identity map of those (stamp's image has it).
            return .failure(
                .noSubordinateRange(
                    who: who + " without CAP_SYS_ADMIN (a container's root)", kind: kind, found: found,
                    suggestion: "root:1:\(requiredCount)", alsoGroups: kind == .uid && gidRange == nil))
        }
        return .failure(
            .noSubordinateRange(
                who: who, kind: kind, found: found, suggestion: "\(owner):\(start):\(suggestedCount)",
                alsoGroups: kind == .uid && gidRange == nil))
    }

    /// ``check(uid:name:gid:subuid:subgid:)`` for this process's real uid and gid, its
    /// passwd name, and the real /etc/subuid and /etc/subgid.
    public static func checkCaller() -> Result<Mapping, ElementError> {
        check(
            uid: getuid(), name: callerName(), gid: getgid(),
            subuid: try? String(contentsOfFile: Kind.uid.file, encoding: .utf8),
            subgid: try? String(contentsOfFile: Kind.gid.file, encoding: .utf8))
    }

    /// `user alice (uid 1000)`, or `uid 54321 (no user name)` for a uid without a passwd entry.
    public static func describe(uid: UInt32, name: String?) -> String {
        name.map { "user \($0) (uid \(uid))" } ?? "uid \(uid) (no user name)"
    }

    /// ``describe(uid:name:)`` of this process's real uid.
    public static func callerDescription() -> String { describe(uid: getuid(), name: callerName()) }

    /// The passwd name of this process's real uid, if it has one.
    static func callerName() -> String? {
        getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
    }

    /// Every well-formed line of a file, anyone's.
    private static func entries(in text: String) -> [(owner: String, range: Range)] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].isEmpty, let start = UInt32(fields[1]), let count = UInt32(fields[2]),
                count > 0, UInt64(start) + UInt64(count) - 1 <= UInt64(UInt32.max)
            else { return nil }
            return (String(fields[0]), Range(start: start, count: count))
        }
    }
}

/// Runs this process again inside the build's user namespace (see ``SubordinateIDs`` for the
/// design): the entry point of a non-root `disk-image-create` or `stamp build`.
public enum UserNamespace {
    /// Set (to `1`) in the re-executed process; the stage driver binds `/sys` and `/dev`
    /// recursively when it sees it.
    public static let marker = "STAMP_USERNS"

    /// Returns at once as root; otherwise replaces this process (same PID, `execv`) with
    /// `unshare --map-user=0 --map-group=0 --map-users=… --map-groups=… -- EXECUTABLE ARGS…`,
    /// in which the build is uid 0 and goes on as a root build does.
    /// - Parameter arguments: `CommandLine.arguments` (the first is replaced by the
    ///   executable's absolute path).
    /// - Throws: ``ElementProblems``: no subordinate range (the one line saying what to add),
    ///   `unshare`/`newuidmap`/`newgidmap` missing, or the exec failing.
    public static func reexecUnlessRoot(arguments: [String]) throws(ElementProblems) {
        guard needsNamespace else {
            // Root with every capability: as root. Root of a user namespace made by someone
            // else (a container with CAP_SYS_ADMIN) takes the namespace's mount path too.
            if isNested { setenv(marker, "1", 1) }
            return
        }
        let mapping: SubordinateIDs.Mapping
        switch SubordinateIDs.checkCaller() {
        case .success(let found): mapping = found
        case .failure(let problem): throw ElementProblems([problem])
        }
        var problems: [ElementError] = []
        for tool in ["newuidmap", "newgidmap"] where Spawn.which(tool) == nil {
            problems.append(.missingTool(tool))  // package uidmap
        }
        let unshare = Spawn.which("unshare")
        if unshare == nil { problems.append(.missingTool("unshare")) }
        guard problems.isEmpty, let unshare else { throw ElementProblems(problems) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
        try exec(
            unshare,
            [
                "--map-user=0", "--map-group=0",
                "--map-users=\(mapping.uid.start),1,\(mapping.count(.uid))",
                "--map-groups=\(mapping.gid.start),1,\(mapping.count(.gid))",
                "--", executable,
            ] + arguments.dropFirst())
    }

    /// `stamp pack` as a non-root user: the boot loader step mounts and chroots, so the pack
    /// runs as uid 0 of a user namespace, as a build does (replacing this process). With a
    /// subordinate range, the build's map (a tree made by an unprivileged build is read with
    /// its owners); without one, only the caller is mapped (`unshare --map-root-user`), so
    /// the caller's files are root's in the image and other owners read as nobody (65534).
    /// Either way the caller's own files become root's, as in mkosi or `fakeroot`.
    public static func reexecForPack(arguments: [String]) throws(ElementProblems) {
        guard needsNamespace else {
            if isNested { setenv(marker, "1", 1) }
            return
        }
        if case .success = SubordinateIDs.checkCaller() {
            try reexecUnlessRoot(arguments: arguments)
            return
        }
        guard let unshare = Spawn.which("unshare") else { throw ElementProblems([.missingTool("unshare")]) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
        try exec(unshare, ["--user", "--map-root-user", "--", executable] + arguments.dropFirst())
    }

    /// Replaces this process with `path ARGUMENTS…`, with ``marker`` set.
    private static func exec(_ path: String, _ arguments: [String]) throws(ElementProblems) {
        setenv(marker, "1", 1)
        var cStrings = ([path] + arguments).map { strdup($0) }
        cStrings.append(nil)
        execv(path, cStrings)
        let reason = String(cString: strerror(errno))
        throw ElementProblems([.hostSetup(path: path, reason: "cannot execute it: \(reason)")])
    }

    /// Whether this process must enter a user namespace of its own before a build: it is not
    /// root, or it is a root without `CAP_SYS_ADMIN` (the root of a rootless or unprivileged
    /// container: podman's and Kubernetes' default capability sets leave it out, so it
    /// cannot make the mount namespaces a build needs). In a new user namespace that it
    /// owns, the process has every capability over it; such a root maps itself and the
    /// range `/etc/subuid` gives `root` (`root:1:65536` in stamp's container image: the
    /// identity map, so the image's owners are the container's).
    public static var needsNamespace: Bool {
        geteuid() != 0 || !effectiveCapabilities(hasBit: 21)  // CAP_SYS_ADMIN
    }

    /// Whether this process runs in a user namespace other than the initial one: its
    /// `/proc/self/uid_map` is not the identity over all 2³² − 1 ids (`0 0 4294967295`).
    /// There `mknod` is refused and sysfs cannot be mounted, whoever the caller is.
    public static var isNested: Bool {
        guard let text = try? String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8) else { return false }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        return fields != ["0", "0", "4294967295"]
    }

    /// Whether capability `bit` is in this process's effective set (`CapEff` in
    /// /proc/self/status, a hexadecimal mask).
    static func effectiveCapabilities(hasBit bit: Int) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(bit)) != 0
    }
}
