import Foundation
import Testing

import StampTestSupport

/// `disk-image-create` killed with SIGKILL mid-build, as nodepool's builder can be: a suite of
/// its own so that its two builds (minutes each) run beside ``DIBEndToEndTests``' builds in
/// the network phase instead of before them. Root, network and minutes (STAMP_NETWORK_TESTS=1
/// and STAMP_BOOT_TESTS=1, as its sibling suite).
@Suite(.serialized, .enabled(if: isRoot && networkTestsEnabled && bootTestsEnabled))
struct DIBKillTests {
    /// SIGKILL of `disk-image-create` inside dpkg/apt in the chroot, and again while the disk is
    /// being written: the build's private mount namespaces are gone (no process is left in
    /// them: the host's mount table cannot show their mounts), no process of the build
    /// survives, the host's mount table is unchanged, no file is under a final name, and the
    /// next build of the same command (``DIBEndToEndTests``, which shares the image cache)
    /// succeeds.
    @Test(arguments: ["Unpacking ", "| writing "])
    func sigkillAtAnyPointLeavesNothing(marker: String) throws {
        let dir = DIBEndToEndTests.work + "/kill"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let before = DIBEndToEndTests.mountInfo()
        var env = ProcessInfo.processInfo.environment
        env["DIB_RELEASE"] = "bookworm"
        env["DIB_IMAGE_CACHE"] = DIBEndToEndTests.cache
        env["TMPDIR"] = dir
        // Read the log until the marker shows, then kill without warning; meanwhile the
        // build's processes and mount namespaces are recorded.
        let (watch, killed, seen) = try BuildWatch.killAtMarker(
            [
                DIBEndToEndTests.binary, "-x", "-t", "qcow2,raw", "--checksum", "--no-tmpfs", "-o", dir + "/out",
                "debian-minimal", "vm",
            ],
            environment: env, marker: marker)
        defer { watch.killSurvivors() }
        #expect(killed, "the build ended before '\(marker)' appeared: \(seen.suffix(2000))")
        #expect(!watch.namespaces.isEmpty, "no private mount namespace seen among \(watch.descendants.count) processes")
        let left = watch.survivorsAfterWaiting(touching: dir)
        #expect(left.isEmpty, "left after SIGKILL at '\(marker)' (namespaces \(watch.namespaces)): \(left)")
        #expect(DIBEndToEndTests.mountInfo() == before, "host mounts changed after SIGKILL at '\(marker)'")
        let finals = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("out.") && $0 != "out.d" }
        #expect(finals.isEmpty, "final outputs after SIGKILL at '\(marker)': \(finals)")
    }
}
