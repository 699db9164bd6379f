import Foundation
import Testing

import StampTestSupport

/// Issue 11 end to end: nodepool's exact `disk-image-create` command as an ordinary user with
/// a subordinate range, on the real Debian base (mmdebstrap inside the user namespace, dpkg
/// and apt in the chroot, GRUB, the initramfs), against a root build of the same elements.
/// Root, network, a boot and minutes (STAMP_NETWORK_TESTS=1 and STAMP_BOOT_TESTS=1;
/// scripts/test's network phase sets both; without them the suite is a recorded skip).
///
/// One test, in order, so that each step leans on the one before:
/// 1. the run's shared root build, SharedBuilds (`-p iputils-ping`: /usr/bin/ping carries `security.capability`);
/// 2. the user's build killed with SIGKILL while mmdebstrap unpacks the base (cold cache),
///    then again while the disk is being written: each time no process of the user or its
///    range survives, nothing is mounted under the build's directory, no final file exists;
/// 3. the user's build again: it succeeds, writes nodepool's whole contract (qcow2 compat
///    0.10, vmdk, raw, checksums, OUT.d), and every entry's owner, mode, xattrs (capabilities,
///    ACLs) and symlink target equals the root build's, as dissect.extfs reads both images;
/// 4. its qcow2 boots under QEMU to the marker.
@Suite(.serialized, .enabled(if: canRunUnprivilegedBuilds && networkTestsEnabled && bootTestsEnabled))
struct UnprivilegedDebianTests {
    static let work = "/var/tmp/stamp-unprivileged-e2e"
    static let elements = ["debian-minimal", "vm", "stamp-boot-marker"]
    static let nodepool = [
        "-x", "-t", "qcow2,vmdk,raw", "--checksum", "--no-tmpfs", "--qemu-img-options", "compat=0.10",
        "-p", "iputils-ping",
    ]

    /// `disk-image-create ARGS` with a clean environment, as root or (setpriv execs, so the
    /// PID is the build's) as `user`.
    static func command(_ args: [String], user: UnprivilegedBuildTests.ThrowawayUser?, base: String) -> [String] {
        var command = [
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(base)/home", "TMPDIR=\(base)/tmp",
            "DIB_RELEASE=bookworm", "DIB_IMAGE_CACHE=\(base)/cache", "STAMP_REPO=\(repositoryRoot)",
            "ELEMENTS_PATH=\(repositoryRoot)/Tests/StampCLITests/Fixtures/elements",
        ]
        if let user { command += ["setpriv", "--reuid=\(user.uid)", "--regid=\(user.uid)", "--clear-groups"] }
        return command + [BadInputTests.dibBinary] + args
    }

    /// A fresh `base` with home, tmp, cache and out, owned by `uid`.
    static func prepare(_ base: String, uid: Int) throws {
        try? FileManager.default.removeItem(atPath: base)
        let made = try sh("mkdir -p \(base)/home \(base)/tmp \(base)/cache \(base)/out && chown -R \(uid) \(base)")
        try #require(made.status == 0, "\(made.output)")
    }

    /// Every entry of the root filesystem of `raw` (the last partition), as list_entries.py
    /// prints it.
    static func entries(_ raw: String) throws -> [String] {
        let table = try DIBEndToEndTests.partitionTable(raw)
        let root = DIBEndToEndTests.filesystem(raw, try #require(table.partitions.last))
        let listing = try run(["python3", repositoryRoot + "/Tests/tools/list_entries.py", root])
        try #require(listing.status == 0, "\(listing.stderr)")
        return listing.stdout.split(separator: "\n").map(String.init)
    }

    /// Starts the user's build, waits for `marker` in its output and kills it with SIGKILL;
    /// then checks that nothing of it is left.
    static func killUserBuild(at marker: String, user: UnprivilegedBuildTests.ThrowawayUser, base: String) async throws {
        let arguments = command(nodepool + ["-o", "\(base)/out/debian"] + elements, user: user, base: base)
        let (watch, killed, seen) = try BuildWatch.killAtMarker(["/usr/bin/env"] + arguments.dropFirst(), marker: marker)
        defer { watch.killSurvivors() }
        #expect(killed, "the build ended before '\(marker)' appeared: \(seen.suffix(2000))")
        let left = watch.survivorsAfterWaiting(touching: base)
        #expect(left.isEmpty, "left after SIGKILL at '\(marker)': \(left)")
        let survivors = try await user.processesAfterWaiting()
        #expect(survivors.isEmpty, "processes of the user or its range after SIGKILL at '\(marker)': \(survivors)")
        #expect(
            WorkDirectoryMounts.under(base).isEmpty, "mounts after SIGKILL at '\(marker)': \(WorkDirectoryMounts.under(base))")
        // Temporary outputs (`.debian.raw.stamp-PID-N-partial`) may stay until the next run.
        let finals = try FileManager.default.contentsOfDirectory(atPath: base + "/out").filter {
            $0.hasPrefix("debian.") && $0 != "debian.d"
        }
        #expect(finals.isEmpty, "final outputs after SIGKILL at '\(marker)': \(finals)")
    }

    @Test func nodepoolsCommandAsAnOrdinaryUserMatchesARootBuild() async throws {
        // 1. The root build: the run's shared one (the same command line, as root).
        #expect(Self.nodepool == SharedBuilds.nodepoolArguments && Self.elements == SharedBuilds.elements)
        let (rootOut, rootBuild) = try SharedBuilds.nodepoolDebian()
        try #require(rootBuild.status == 0, "root build: \(rootBuild.output.suffix(3000))")
        let rootEntries = try Self.entries(rootOut + ".raw")

        // 2. The user's build, killed twice.
        let user = try UnprivilegedBuildTests.ThrowawayUser()
        defer { user.remove() }
        let base = Self.work + "/user"
        try Self.prepare(base, uid: user.uid)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await Self.killUserBuild(at: "Unpacking ", user: user, base: base)
        try await Self.killUserBuild(at: "| writing ", user: user, base: base)

        // 3. And again, to the end.
        let build = try run(Self.command(Self.nodepool + ["-o", "\(base)/out/debian"] + Self.elements, user: user, base: base))
        try #require(build.status == 0, "unprivileged build: \(build.output.suffix(3000))")
        let out = base + "/out/debian"
        #expect(build.stdout.split(separator: "\n").last?.hasSuffix("| Build completed successfully") == true)
        for ext in ["qcow2", "vmdk", "raw"] {
            for suffix in ["", ".md5", ".sha256"] {
                let path = "\(out).\(ext)\(suffix)"
                let owner = (try? FileManager.default.attributesOfItem(atPath: path))?[.ownerAccountID] as? Int
                #expect(owner == user.uid, "\(path): owner \(String(describing: owner))")
            }
        }
        // The image cache (the base system's tarball, apt's archive directory) is the user's
        // too; only apt's `partial` download directory below it belongs to the namespace's
        // `_apt`, as apt makes it in a root build.
        let cacheOwners = try run(["find", base + "/cache", "-maxdepth", "2", "-printf", "%U %p\n"]).stdout
            .split(separator: "\n").filter { !$0.hasPrefix("\(user.uid) ") }
        #expect(cacheOwners.isEmpty, "cache entries not owned by the user: \(cacheOwners.prefix(5))")
        #expect(try run(["find", base + "/cache", "-name", "*.tar.*"]).stdout.contains("debootstrap"), "no cached base system")
        let sums = try sh(
            "cd \(base)/out && md5sum -c debian.qcow2.md5 debian.vmdk.md5 debian.raw.md5 && sha256sum -c debian.qcow2.sha256 debian.vmdk.sha256 debian.raw.sha256"
        )
        #expect(sums.status == 0, "\(sums.output)")
        let info = try run(["qemu-img", "info", "-f", "qcow2", out + ".qcow2"]).stdout
        #expect(info.contains("compat: 0.10"), "\(info)")
        for fmt in ["qcow2", "vmdk"] {
            let check = try run(["qemu-img", "check", "-f", fmt, "\(out).\(fmt)"])
            #expect(check.status == 0, "\(fmt): \(check.output)")
        }
        let table = try DIBEndToEndTests.partitionTable(out + ".raw")
        #expect(try strictFsck(DIBEndToEndTests.filesystem(out + ".raw", try #require(table.partitions.last))) == [])
        // The killed builds' work directories and temporary outputs are gone too.
        let leftInTmp = try FileManager.default.contentsOfDirectory(atPath: base + "/tmp")
        #expect(leftInTmp.isEmpty, "left in TMPDIR: \(leftInTmp)")
        let temporaries = try FileManager.default.contentsOfDirectory(atPath: base + "/out").filter { $0.hasSuffix("-partial") }
        #expect(temporaries.isEmpty, "temporary outputs of the killed builds: \(temporaries)")

        // Owners, modes, capabilities, ACLs, link targets: the same entries as the root build.
        let userEntries = try Self.entries(out + ".raw")
        #expect(userEntries.count == rootEntries.count)
        let rootSet = Set(rootEntries)
        let userSet = Set(userEntries)
        #expect(rootSet.subtracting(userSet).sorted().prefix(20) == [], "only in the root build")
        #expect(userSet.subtracting(rootSet).sorted().prefix(20) == [], "only in the unprivileged build")
        // What the comparison must include to mean something.
        #expect(
            userEntries.contains { $0.hasPrefix("/usr/bin/ping\t- 0755\t0:0\tsecurity.capability=01000002") }, "ping's capability"
        )
        #expect(
            userEntries.contains {
                $0.hasPrefix("/var/log/journal\td 2755\t0:") && !$0.hasPrefix("/var/log/journal\td 2755\t0:0")
            },
            "/var/log/journal's group (systemd-journal)")
        #expect(userEntries.contains { $0.hasPrefix("/dev/console\tc 0666\t0:0") })
        #expect(userEntries.contains { $0.contains("\t42:") || $0.contains("\t0:42\t") }, "_apt's or shadow's ids")

        // 4. It boots.
        let boot = try bootImage(out + ".qcow2", ["--format", "qcow2", "--snapshot", "--timeout", "300"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
    }
}
