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
    @Test(.enabled(if: isRoot && toolAvailable("unshare") && toolAvailable("findmnt"), "needs root, unshare, findmnt"))
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
        let result = try run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], environment: environment)
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
}
