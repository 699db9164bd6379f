import Foundation
import Testing

import StampTestSupport

/// SIGTERM while a chroot script sleeps (nodepool's timeout): the build's work directory
/// under TMPDIR is removed before `disk-image-create` exits (issue 18: every scratch
/// directory is removed on SIGINT/SIGTERM), and nothing of the build keeps running.
@Suite(
    .serialized, .enabled(if: Fixtures.canChroot && FileManager.default.isExecutableFile(atPath: ChrootBuildTests.binary.path)))
struct WorkDirectorySignalTests {
    @Test func sigtermRemovesTheWorkDirectory() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let process = Process()
        process.executableURL = ChrootBuildTests.binary
        process.arguments = ["-x", "-n", "-t", "raw", "-o", work.appendingPathComponent("image").path, "fake-os", "sleeper"]
        var env = ProcessInfo.processInfo.environment
        env["ELEMENTS_PATH"] = Fixtures.elements.path
        env["TMPDIR"] = work.path
        env["DIB_IMAGE_CACHE"] = work.appendingPathComponent("cache").path
        env["STAMP_DEMO_RUN_ELEMENTS"] = "1"
        env["STAMP_KEEP_WORKDIR"] = nil
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watch = BuildWatch(pid: process.processIdentifier)
        defer { watch.killSurvivors() }
        var sleeping = false
        for _ in 0..<200 where !sleeping {
            try await Task.sleep(for: .milliseconds(100))
            watch.sample()
            sleeping = !ChrootBuildTests.processes(matching: "sleep 31337").isEmpty
        }
        #expect(sleeping, "the chroot script never started")
        let during = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("stamp_build.") }
        #expect(during.count == 1)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143)
        let left = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("stamp_build.") }
        #expect(left.isEmpty, "left after SIGTERM: \(left)")
        #expect(watch.survivorsAfterWaiting(touching: work.path).isEmpty)
    }
}
