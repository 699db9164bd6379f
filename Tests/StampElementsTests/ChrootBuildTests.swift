import Foundation
import StampDIB
import Testing
@testable import StampElements
import StampTestSupport

/// Builds with a busybox-static chroot (fake-os): needs root, util-linux and busybox-static,
/// no network. Serialized: each build uses both CPUs briefly.
@Suite(.serialized, .enabled(if: Fixtures.canChroot, "needs root, unshare, setpriv and /bin/busybox"))
struct ChrootBuildTests {
    static func mountInfo() -> [String] {
        WorkDirectory.currentMountPoints()
    }

    /// Mount points added since `before` that a build under `work` could have left: anything
    /// under `work`, or anywhere outside the temporary directories (the host's /proc, /dev, a
    /// leaked bind). Other suites mount tmpfs under their own temporary directories meanwhile.
    static func mountsLeft(since before: [String], work: URL) -> [String] {
        mountInfo().filter { point in
            !before.contains(point)
                && (point.hasPrefix(work.path) || !(point.hasPrefix("/tmp/") || point.hasPrefix("/var/tmp/")))
        }
    }

    static func processes(matching needle: String) -> [String] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid in
            guard Int(pid) != nil, let data = fm.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let cmd = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmd.contains(needle) ? "\(pid): \(cmd)" : nil
        }
    }

    /// Phase order, where each phase runs, what it sees, the chroot mounts, and that the build's
    /// tweaks are gone from the tree afterwards.
    @Test func phasesEnvironmentAndMounts() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let before = Self.mountInfo()
        let collector = LineCollector()
        let plan = Fixtures.plan(["fake-os", "probe", "runparts"], work: work)
        let build = try ElementBuild.validate(plan, logger: collector.logger)
        let built = try await ElementBuild.run(build, logger: collector.logger)
        defer { ElementBuild.cleanup(built) }
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: built.root.appendingPathComponent("usr/sbin/policy-rc.d").path))
        #expect(
            (try? fm.attributesOfItem(atPath: built.root.appendingPathComponent("etc/resolv.conf").path)) == nil,
            "the host's resolv.conf leaked into the tree")
        #expect(!fm.fileExists(atPath: built.root.appendingPathComponent("tmp/in_target.d").path))
        try await ElementBuild.finalise(built, options: FinaliseOptions(imageSizeKiB: 123456), logger: collector.logger)
        #expect(Self.mountsLeft(since: before, work: work) == [])

        let hostNull = try run(["stat", "-c", "%d:%i", "/dev/null"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let log = try String(contentsOf: built.root.appendingPathComponent("probe.log"), encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        func field(_ line: String, _ key: String) -> String? {
            line.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        #expect(lines.compactMap { field($0, "PHASE") } == Phase.allCases.map(\.directory))
        for line in lines {
            let phase = try #require(Phase(directory: field(line, "PHASE") ?? ""))
            #expect((field(line, "TARGET_ROOT") != "unset") == phase.hasTargetRoot, "\(line)")
            #expect((field(line, "INSTALLTYPE") != "unset") == phase.hasInstallType, "\(line)")
            #expect((field(line, "IMAGE_SIZE") == "123456") == phase.hasImageSize, "\(line)")
            #expect(field(line, "PROBE_ENV") == "sourced", "environment.d not sourced: \(line)")
            #expect(field(line, "DISTRO") == "fake" && field(line, "LC_ALL") == "C")
            #expect(field(line, "ROOT_LABEL") == "cloudimg-rootfs" && field(line, "NODEPOOL") == "nodepool-name")
            #expect(field(line, "ARCH") == ElementBuildPlan.hostArch())
            if phase.runsInChroot {
                #expect(field(line, "HOOKS") == "ro" && field(line, "PROC") == "yes" && field(line, "SYS") == "ro", "\(line)")
                #expect(field(line, "DEV") == "yes" && field(line, "PTS") == "yes" && field(line, "TMPDIR") == "unset", "\(line)")
                // A /dev of its own: no host device beyond the basic ones, and those made
                // afresh, so no maintainer script can chmod or chown the host's nodes.
                #expect(field(line, "HOSTDEV") == "no" && field(line, "DEVSET") == "yes", "\(line)")
                #expect(field(line, "NULLID") != hostNull && field(line, "NULLID")?.isEmpty == false, "\(line) host \(hostNull)")
                #expect(field(line, "POLICY") == "yes" && field(line, "RESOLV") == "yes", "\(line)")
                // The package phases defer the kernel's initramfs to one run after post-install.d.
                let deferred = ["pre-install.d", "install.d", "post-install.d"].contains(phase.directory)
                #expect(field(line, "INITRD") == (deferred ? "No" : "unset"), "\(line)")
            } else {
                #expect(field(line, "HOOKS") == nil, "\(line)")
                // Outside the chroot `sudo` is stamp's (the build is root already), even where the
                // host has a real sudo, which would drop PYTHONPATH and other variables.
                #expect(field(line, "SUDO")?.hasSuffix("/helpers/sudo") == true, "\(line)")
            }
        }
        let order = try String(contentsOf: built.root.appendingPathComponent("runparts.log"), encoding: .utf8)
        #expect(order.split(separator: "\n").map(String.init) == RunPartsTests.expected)
        // per-script timing and the profiling table are logged
        #expect(collector.lines.contains { $0.hasPrefix("dib-run-parts 10-a completed in ") })
        #expect(collector.lines.contains("Target: install.d"))
        #expect(built.timings.contains { $0.phase == "install.d" && $0.script == "100-z" })
        // finalise_base: var/log files truncated, tmp emptied
        let buildLog = try fm.attributesOfItem(atPath: built.root.appendingPathComponent("var/log/build.log").path)
        #expect((buildLog[.size] as? Int) == 0)
    }

    /// The initramfs deferred from the package phases is made once, after them, with the host's
    /// pigz standing in at /usr/bin/pigz (mkinitramfs prefers pigz). A busybox tree has no C
    /// library for the host binary, so the wrapper falls back to the tree's gzip: the initramfs
    /// is still a valid gzip, and neither the wrapper nor the binary stays in the tree.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/pigz"), "needs the host's pigz"))
    func deferredInitramfsWithThePigzStandIn() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let collector = LineCollector()
        let build = try ElementBuild.validate(Fixtures.plan(["fake-os", "fake-kernel"], work: work), logger: collector.logger)
        let built = try await ElementBuild.run(build, logger: collector.logger)
        defer { ElementBuild.cleanup(built) }
        let root = built.root.path
        let log = try String(contentsOfFile: root + "/probe-initramfs.log", encoding: .utf8)
        #expect(log == "VERSION=9.9.9-fake COMPRESSOR=/usr/bin/pigz INITRD=unset\n", "\(log)")
        #expect(collector.lines.contains { $0.contains("stamp: update-initramfs -c -k 9.9.9-fake") })
        let unpacked = Process()
        unpacked.executableURL = URL(fileURLWithPath: "/bin/sh")
        unpacked.arguments = ["-c", "gzip -dc \(root)/boot/initrd.img-9.9.9-fake"]
        let pipe = Pipe()
        unpacked.standardOutput = pipe
        try unpacked.run()
        let content = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        unpacked.waitUntilExit()
        #expect(unpacked.terminationStatus == 0 && content == "fake initramfs of 9.9.9-fake\n", "\(content)")
        for buildOnly in ["usr/bin/pigz", "usr/bin/.stamp-build-pigz"] {
            #expect(
                (try? FileManager.default.attributesOfItem(atPath: root + "/" + buildOnly)) == nil,
                "\(buildOnly) left in the tree")
        }
    }

    /// A failing script names element, phase, script and exit code; `break=after-error` with
    /// `break_outside_target=1` runs `break_cmd` (DIB's functional-test sentinel copy).
    @Test func failingScriptAndAfterErrorBreak() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let before = Self.mountInfo()
        let sentinel = work.appendingPathComponent("copied-sentinel")
        let plan = Fixtures.plan(
            ["fake-os", "failing"], work: work,
            extra: [
                "break": "after-error,before-install,after-pre-install",
                "break_outside_target": "1",
                "break_cmd":
                    "cp $TMP_MOUNT_PATH/tmp/dib-test-should-fail \(sentinel.path) || true; echo hit >> \(work.path)/breaks",
            ])
        let build = try ElementBuild.validate(plan)
        let error = await #expect(throws: ElementProblems.self) { try await ElementBuild.run(build) }
        #expect(
            error?.problems == [
                .scriptFailed(
                    element: "failing", phase: "install.d", script: "50-fail", exitCode: 3, output: "failing on purpose")
            ])
        #expect(
            error?.description == "script 50-fail of element 'failing' failed in install.d with exit code 3: failing on purpose")
        #expect(FileManager.default.fileExists(atPath: sentinel.path))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/dib-test-should-fail"), "the chroot phase ran on the host")
        let breaks = try String(contentsOf: work.appendingPathComponent("breaks"), encoding: .utf8)
        #expect(breaks.split(separator: "\n").count == 3)  // after-pre-install, before-install, after-error
        #expect(Self.mountsLeft(since: before, work: work) == [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("stamp_build.") }
        #expect(leftovers.isEmpty)
    }

    /// A daemon started in the chroot is ended when the chroot phases finish.
    @Test func processesLeftInTheChrootAreEnded() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let collector = LineCollector()
        let build = try ElementBuild.validate(Fixtures.plan(["fake-os", "daemon"], work: work), logger: collector.logger)
        let built = try await ElementBuild.run(build, logger: collector.logger)
        ElementBuild.cleanup(built)
        // The line names the daemon's command line, or, when a loaded machine has not yet let
        // the forked shell exec sleep, the script's (60-daemon): either way it was ended.
        let ended = collector.lines.filter { $0.hasPrefix("ending process") }
        #expect(ended.contains { $0.contains("31338") || $0.contains("60-daemon") }, "\(collector.lines.suffix(30))")
        #expect(Self.processes(matching: "sleep 31338").isEmpty)
    }

    @Test func staleWorkDirectoriesAreRemoved() throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let stale = work.appendingPathComponent("stamp_build.deadbeef")
        try FileManager.default.createDirectory(at: stale.appendingPathComponent("mnt/etc"), withIntermediateDirectories: true)
        try "999999999 1".write(to: stale.appendingPathComponent("owner"), atomically: true, encoding: .utf8)
        let fresh = try WorkDirectory.create(under: work, logger: nil)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: fresh.root.path))
        WorkDirectory.removeStale(under: work, logger: nil)
        #expect(FileManager.default.fileExists(atPath: fresh.root.path), "a live build's directory was removed")
    }

    /// The `disk-image-create` under test (beside ``stampBinary``: STAMP_BIN's build).
    static var binary: URL { URL(fileURLWithPath: dibBinary) }

    /// SIGKILL of the top process while a chroot script sleeps: the build's mount namespace is
    /// gone (no process is left in it), no process of the build survives, the host's mount
    /// table is unchanged, and the next build removes the dead build's work directory.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: ChrootBuildTests.binary.path)))
    func sigkillLeavesNothingBehind() async throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let before = Self.mountInfo()
        let process = Process()
        setCommand(
            of: process,
            to: [
                Self.binary.path, "-x", "-n", "-t", "raw", "-o", work.appendingPathComponent("image").path, "fake-os", "sleeper",
            ])
        var env = ProcessInfo.processInfo.environment
        env["ELEMENTS_PATH"] = Fixtures.elements.path
        env["TMPDIR"] = work.path
        env["DIB_IMAGE_CACHE"] = work.appendingPathComponent("cache").path
        env["STAMP_DEMO_RUN_ELEMENTS"] = "1"
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
            sleeping = !Self.processes(matching: "sleep 31337").isEmpty
        }
        watch.sample()
        #expect(sleeping, "the chroot script never started")
        #expect(!watch.namespaces.isEmpty, "no private mount namespace seen among \(watch.descendants)")
        #expect(Self.mountInfo().contains { $0.hasPrefix(work.path) } == false)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let left = watch.survivorsAfterWaiting(touching: work.path)
        #expect(left.isEmpty, "left after SIGKILL (namespaces \(watch.namespaces)): \(left)")
        #expect(Self.mountsLeft(since: before, work: work) == [])
        let stale = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("stamp_build.") }
        #expect(stale.count == 1)
        _ = try WorkDirectory.create(under: work, logger: nil)
        let after = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("stamp_build.") }
        #expect(after.count == 1 && !after.contains(stale[0]))
    }

    /// The leak check above can fail: a mount namespace whose first process is killed but
    /// whose child lives on (no PID namespace, no --kill-child) still holds its tmpfs mount,
    /// invisible in the host's mount table, and BuildWatch names the survivor.
    @Test func leakCheckSeesAProcessHoldingAPrivateMount() async throws {
        // Started by a short-lived python3 with every inherited descriptor closed: Foundation's
        // Process counts a child as running while any descendant holds the descriptors it
        // inherited, so the probe (which outlives its parent on purpose) must hold none.
        let started = try run([
            "python3", "-c",
            """
            import subprocess
            p = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', '--fork', '--', 'sh', '-c',
                                  'mount -t tmpfs stamp-leak-probe /mnt && exec sleep 31339'],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 close_fds=True, start_new_session=True)
            print(p.pid)
            """,
        ])
        let pid = try #require(Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(started.output)")
        let watch = BuildWatch(pid: pid)
        defer { watch.killSurvivors() }
        for _ in 0..<100 where Self.processes(matching: "sleep 31339").isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        watch.sample()
        try #require(!watch.namespaces.isEmpty, "the probe's namespace was not seen: \(watch.descendants)")
        kill(pid, SIGKILL)  // the unshare parent only
        let left = watch.survivorsAfterWaiting(seconds: 1)
        #expect(left.contains { $0.contains("mount namespace") && $0.contains("sleep 31339") }, "\(left)")
        // Only the probe's own mount: other suites mount and unmount tmpfs meanwhile.
        #expect(
            !Self.mountInfo().contains { $0.contains("stamp-leak-probe") }, "the probe's mount must not be in the host's table")
        watch.killSurvivors()
        #expect(watch.survivorsAfterWaiting().isEmpty)
    }
}
