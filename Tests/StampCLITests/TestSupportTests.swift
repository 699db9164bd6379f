import Foundation
import Testing

import StampTestSupport

/// The test support's promise that stamp runs with what a user has: a login shell's
/// open-files limit (1024), not the raised one `swift test` gives everything it starts.
///
/// The child reports its own limits (`/proc/self/limits`, `ulimit -n`), so what is checked is
/// what reached the process, not what the helper meant to set. A stand-in named `stamp` (a
/// script printing its limits) shows that ``run(_:environment:input:openFiles:)`` and
/// ``BuildWatch`` limit anything they recognise as stamp by name, without being asked.
@Suite struct TestSupportTests {
    /// `Max open files` soft and hard from a `/proc/PID/limits` text.
    static func openFiles(_ limits: String) -> (soft: String, hard: String)? {
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        return (String(fields[3]), String(fields[4]))
    }

    /// A directory with `stamp` and `disk-image-create` stand-ins that print their limits.
    static func standIns() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("stamp-support")
        for name in ["stamp", "disk-image-create"] {
            let path = dir.file(name)
            try "#!/bin/sh\ncat /proc/self/limits\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        return dir
    }

    @Test func stampRunsUnderTheLoginShellsOpenFilesLimit() throws {
        let dir = try Self.standIns()
        for name in ["stamp", "disk-image-create"] {
            let r = try run([dir.file(name), "--version"])
            #expect(r.status == 0, "\(r.output)")
            let limit = try #require(Self.openFiles(r.stdout), "\(r.output)")
            #expect(limit.soft == "1024" && limit.hard == "1024", "\(name): \(limit)")
        }
        // Through a wrapper (as the unprivileged tests start it) and in a shell line.
        let wrapped = try run(["timeout", "60", dir.file("stamp")])
        #expect(Self.openFiles(wrapped.stdout).map { $0.soft == "1024" && $0.hard == "1024" } == true, "\(wrapped.output)")
        // After env's options, as BadInputTests passes them (`-u NAME` unsets NAME).
        let unset = try run(["-u", "HOME", "STAMP_PROBE=1", dir.file("stamp")])
        #expect(Self.openFiles(unset.stdout).map { $0.soft == "1024" && $0.hard == "1024" } == true, "\(unset.output)")
        let shell = try sh("\(dir.file("stamp")) | grep 'Max open files'")
        #expect(Self.openFiles(shell.stdout).map { $0.soft == "1024" && $0.hard == "1024" } == true, "\(shell.output)")
    }

    @Test func anExplicitLimitReachesTheChildAndOthersInheritTheRunners() throws {
        #expect(try sh("ulimit -n", openFiles: .limit(1024)).stdout == "1024\n")
        #expect(try sh("ulimit -Hn", openFiles: .limit(1024)).stdout == "1024\n")
        #expect(try sh("ulimit -n", openFiles: .limit(768)).stdout == "768\n")
        // A command that is not stamp keeps the test process's own limit: the helper changes
        // only what it says it changes.
        let own = try #require(Self.openFiles(try String(contentsOfFile: "/proc/self/limits", encoding: .utf8)))
        #expect(try sh("ulimit -n").stdout == own.soft + "\n")
    }

    @Test func buildWatchStartsStampUnderTheLimitWithTheSamePID() throws {
        let dir = try Self.standIns()
        try "#!/bin/sh\ngrep 'Max open files' /proc/self/limits\necho ready\nexec sleep 30\n"
            .write(toFile: dir.file("stamp"), atomically: true, encoding: .utf8)
        chmod(dir.file("stamp"), 0o755)
        let (watch, killed, output) = try BuildWatch.killAtMarker([dir.file("stamp")], marker: "ready")
        defer { watch.killSurvivors() }
        #expect(killed, "\(output)")
        #expect(Self.openFiles(output).map { $0.soft == "1024" && $0.hard == "1024" } == true, "\(output)")
    }

    @Test func startsStampRecognisesStampByName() {
        #expect(startsStamp(["/x/.build/release/stamp", "mkfs"]))
        #expect(startsStamp(["setpriv", "--reuid=1", "/x/disk-image-create", "-o", "y"]))
        #expect(startsStamp(["bash", "-c", "cd /tmp && /x/stamp pack a -o b"]))
        #expect(!startsStamp(["qemu-img", "check", "/var/tmp/stamp-dib-e2e/x.qcow2"]))
        #expect(!startsStamp(["e2fsck", "-fn", "/tmp/stamp.img"]))
    }
}
