import Foundation
import Testing

import StampTestSupport

/// The network phase's one root build of nodepool's image, shared by the suites that only
/// inspect it (DIBEndToEndTests checks the contract and boots it; UnprivilegedDebianTests
/// compares an ordinary user's build with it), so the run pays for it once.
///
/// nodepool's exact command line, `-p iputils-ping` added (so /usr/bin/ping carries a file
/// capability for the unprivileged comparison), with the run's shared base-system cache. Built
/// by the first suite that asks in this run (``testRunID``: scripts/test's phases share it),
/// and kept with its log for the others.
enum SharedBuilds {
    static let work = "/var/tmp/stamp-shared-builds"
    static let nodepoolArguments = [
        "-x", "-t", "qcow2,vmdk,raw", "--checksum", "--no-tmpfs", "--qemu-img-options", "compat=0.10", "-p", "iputils-ping",
    ]
    static let elements = ["debian-minimal", "vm", "stamp-boot-marker"]
    private static let lock = NSLock()

    /// The shared build: `OUT` (its outputs are `OUT.qcow2`, `OUT.vmdk`, `OUT.raw`, their
    /// checksums and `OUT.d`) and the build's own output (exit status, stdout, stderr).
    static func nodepoolDebian() throws -> (out: String, build: CommandResult) {
        lock.lock()
        defer { lock.unlock() }
        let out = work + "/np/debian"
        let marker = work + "/built-in-run"
        let stdoutLog = work + "/build.stdout"
        let stderrLog = work + "/build.stderr"
        if (try? String(contentsOfFile: marker, encoding: .utf8)) == testRunID,
            let stdout = try? String(contentsOfFile: stdoutLog, encoding: .utf8),
            let stderr = try? String(contentsOfFile: stderrLog, encoding: .utf8)
        {
            return (out, CommandResult(status: 0, stdout: stdout, stderr: stderr))
        }
        _ = try? run(["rm", "-rf", "--one-file-system", work])
        try FileManager.default.createDirectory(atPath: work + "/np", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work + "/tmp", withIntermediateDirectories: true)
        let build = try run(
            [dibBinary] + nodepoolArguments + ["-o", out] + elements,
            environment: [
                "DIB_RELEASE": "bookworm", "DIB_IMAGE_CACHE": sharedImageCache(fallback: work + "/cache"),
                "TMPDIR": work + "/tmp",
                "ELEMENTS_PATH": repositoryRoot + "/Tests/StampCLITests/Fixtures/elements", "STAMP_REPO": repositoryRoot,
            ])
        if build.status == 0 {
            try build.stdout.write(toFile: stdoutLog, atomically: true, encoding: .utf8)
            try build.stderr.write(toFile: stderrLog, atomically: true, encoding: .utf8)
            try testRunID.write(toFile: marker, atomically: true, encoding: .utf8)
        }
        return (out, build)
    }
}
