import Foundation
import StampTestSupport
import Testing

@testable import StampElements

/// The one `/dev` of every chroot (ChrootPolicy, CStampSupport/chroot_dev.c): its table against
/// the host's nodes, and what `mount_proc_dev_sys` of `$_LIB/common-functions` mounts (the same
/// function the stage driver uses) read back with findmnt, stat and ls.
@Suite struct ChrootPolicyTests {
    static let expectedNames = ["null", "zero", "full", "random", "urandom", "tty"]
    static let expectedLinks = ["ptmx", "fd", "stdin", "stdout", "stderr"]

    @Test func tableMatchesTheHostsDeviceNumbers() throws {
        #expect(ChrootPolicy.deviceNodes.map(\.name) == Self.expectedNames)
        #expect(ChrootPolicy.deviceLinks.map(\.name) == Self.expectedLinks)
        #expect(ChrootPolicy.tmpfsSize == "1m")
        for node in ChrootPolicy.deviceNodes {
            // stat's %t/%T: the major and minor device numbers, in hexadecimal.
            let numbers = try run(["stat", "-c", "%t %T", "/dev/\(node.name)"]).stdout.split(separator: " ").map {
                UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)
            }
            #expect(numbers == [node.major, node.minor], "/dev/\(node.name)")
        }
        let environment = ChrootPolicy.environment
        #expect(environment["STAMP_DEV_NODES"]?.hasPrefix("null:1:3 zero:1:5 ") == true)
        #expect(environment["STAMP_DEV_LINKS"]?.hasPrefix("pts/ptmx:ptmx /proc/self/fd:fd ") == true)
        #expect(environment["STAMP_DEV_SIZE"] == "1m")
        // The stage driver keeps no list of its own.
        #expect(!StageScript.text.contains("urandom") && StageScript.text.contains(". \"$_LIB/chroot-dev\""))
    }

    /// As root, in a private mount namespace: the `/dev` upstream element scripts get from
    /// `mount_proc_dev_sys` is the policy's, not a bind of the host's.
    @Test(
        .enabled(
            if: isRoot && toolAvailable("unshare") && toolAvailable("findmnt")
                && FileManager.default.isExecutableFile(atPath: stampBinary), "needs root, unshare, findmnt, stamp"))
    func mountProcDevSysMountsThePolicysDev() throws {
        let dir = try TemporaryDirectory("stamp-chroot-policy")
        defer { dir.cleanup() }
        let lib = dir.file("lib")
        try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        try EmbeddedShell.libChrootDev.write(toFile: lib + "/chroot-dev", atomically: true, encoding: .utf8)
        try EmbeddedShell.libDie.write(toFile: lib + "/die", atomically: true, encoding: .utf8)
        try EmbeddedShell.libCommonFunctions.write(toFile: lib + "/common-functions", atomically: true, encoding: .utf8)
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let script = """
            set -eu
            . "$_LIB/common-functions"
            mount_proc_dev_sys
            ls -A "$TMP_MOUNT_PATH/dev" | LC_ALL=C sort | tr '\\n' ' '; echo
            findmnt -no FSTYPE,OPTIONS --mountpoint "$TMP_MOUNT_PATH/dev"
            stat -c '%d:%i' "$TMP_MOUNT_PATH/dev/null"
            findmnt -no FSTYPE --mountpoint "$TMP_MOUNT_PATH/dev/pts"
            """
        var environment = ProcessInfo.processInfo.environment.merging(ChrootPolicy.environment) { _, new in new }
        environment["_LIB"] = lib
        environment["TMP_MOUNT_PATH"] = root
        environment["STAMP_EXEC"] = stampBinary  // this process is the test runner, not stamp
        environment["STAMP_USERNS"] = nil
        let result = try run(
            ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "bash", "-c", script], environment: environment)
        #expect(result.status == 0, "\(result.output)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(result.output)")
        let names = (Self.expectedNames + Self.expectedLinks + ["pts", "shm"]).sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
        #expect(lines[0].split(separator: " ").map(String.init) == names)
        #expect(lines[1].hasPrefix("tmpfs ") && lines[1].contains("nosuid") && lines[1].contains("noexec"), "\(lines[1])")
        #expect(lines[1].contains("size=1024k"), "\(lines[1])")
        let hostNull = try run(["stat", "-c", "%d:%i", "/dev/null"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(lines[2] != hostNull, "the host's /dev/null was bound")
        #expect(lines[3] == "devpts")
    }

    /// `/proc` and `/sys` of a chroot, mounted by the C the sandbox uses
    /// (`stamp --stamp-chroot-mounts`, chroot_proc_sys.c) in both modes, read back from
    /// `/proc/self/mountinfo` inside the namespace: a proc of the namespace's own PID
    /// namespace (its PID 1 is the script), sysfs read-only (with every submount of the bound
    /// one), all nosuid, nodev and noexec. `host` needs root; `userns` runs in a user namespace
    /// of its own, as an ordinary user's build does.
    @Test(
        .enabled(
            if: toolAvailable("unshare") && FileManager.default.isExecutableFile(atPath: stampBinary), "needs unshare, stamp"),
        arguments: ["host", "userns"])
    func procAndSysFollowThePolicy(mode: String) throws {
        if mode == "host" && !isRoot { return }
        let dir = try TemporaryDirectory("stamp-chroot-proc-sys")
        defer { dir.cleanup() }
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root + "/etc/sys-target", withIntermediateDirectories: true)
        // A link in the tree's place of /sys stays inside it: mounts resolve beneath the root.
        try FileManager.default.createSymbolicLink(atPath: root + "/sys", withDestinationPath: "/etc/sys-target")
        let marker = "stamp-proc-marker-\(mode)"
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER
        let script = """
            set -eu
            "$STAMP_EXEC" --stamp-chroot-mounts "$ROOT" \(mode)
            awk -v root="$ROOT" '{ for (i = 7; $i != "-"; i++) ;
                if ($5 == root "/proc" || index($5, root "/etc/sys-target") == 1) print $5, $(i + 1), $6 }' /proc/self/mountinfo
            tr '\\0' '\\n' < "$ROOT/proc/1/cmdline" | tail -n 1  # PID 1's last argument
            """
        var arguments = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork"]
        if mode == "userns" { arguments.insert(contentsOf: ["--user", "--map-root-user"], at: 1) }
        let result = try run(
            arguments + ["bash", "-c", script, marker],
            environment: ["STAMP_EXEC": stampBinary, "ROOT": root, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        if mode == "userns" && result.status != 0 && result.stderr.contains("unshare failed") {
            return  // no unprivileged user namespaces on this host
        }
        try #require(result.status == 0, "\(result.output)")
        var lines = result.stdout.split(separator: "\n").map(String.init)
        let pidOne = lines.removeLast()
        #expect(pidOne.contains(marker), "the chroot's /proc is not its PID namespace's: PID 1 is \(pidOne)")
        let mounts = lines.map { $0.split(separator: " ").map(String.init) }
        try #require(mounts.allSatisfy { $0.count == 3 }, "\(lines)")
        let proc = mounts.filter { $0[0] == root + "/proc" }
        try #require(proc.count == 1, "\(lines)")
        #expect(proc[0][1] == "proc")
        let sys = mounts.filter { $0[0].hasPrefix(root + "/etc/sys-target") }
        try #require(sys.first?[0] == root + "/etc/sys-target" && sys.first?[1] == "sysfs", "\(lines)")
        for mount in proc + sys {
            let options = Set(mount[2].split(separator: ",").map(String.init))
            let wanted: Set<String> = mount[1] == "proc" ? ["nosuid", "nodev", "noexec"] : ["ro", "nosuid", "nodev", "noexec"]
            #expect(wanted.isSubset(of: options), "\(mount[0]) \(mount[1]): \(mount[2])")
        }
        if mode == "host" { #expect(sys.count == 1, "a new sysfs has no submounts: \(lines)") }
    }

    /// Bad input to the hidden command: one line naming the root, status 125, nothing mounted.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary), "needs stamp"))
    func chrootMountsNameTheProblem() throws {
        let missing = try run([stampBinary, "--stamp-chroot-mounts", "/nonexistent/stamp-root", "host"])
        #expect(missing.status == 125)
        #expect(
            missing.stderr.contains("/nonexistent/stamp-root") && missing.stderr.split(separator: "\n").count == 1,
            "\(missing.stderr)")
        let usage = try run([stampBinary, "--stamp-chroot-mounts", "/", "sideways"])
        #expect(usage.status == 125 && usage.stderr.contains("host|userns"), "\(usage.stderr)")
    }
}
