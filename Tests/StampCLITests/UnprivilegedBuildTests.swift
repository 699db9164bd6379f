import Foundation
import Testing

import StampTestSupport

/// Issue 11: `disk-image-create` as an ordinary user with a subordinate range, in the user
/// namespace of UserNamespace.swift, on the busybox-static fake-os fixture (no network).
///
/// Each test makes a throwaway user, gives it a range in /etc/subuid and /etc/subgid that
/// overlaps nobody's, and removes both afterwards. The build must see uid 0, a file chowned to
/// 1234 in the chroot must be owned by 1234 in the image (the scan runs inside the namespace),
/// the outputs must belong to the user, and a SIGKILL must leave no process and no mount.
@Suite(.serialized, .enabled(if: canRunUnprivilegedBuilds, "needs root, busybox-static, unshare and newuidmap"))
struct UnprivilegedBuildTests {
    /// A throwaway user with a 65536-id range in both files; ``remove()`` undoes it all.
    struct ThrowawayUser {
        let name: String
        let uid: Int
        let rangeStart: Int

        /// - Parameter home: a home directory to create, with a login shell (rootless podman
        ///   keeps its storage there); nil: none, and no login shell.
        init(home: String? = nil) throws {
            let name = "stamp-u\(UInt16.random(in: 0x1000...0xFFFF))"
            self.name = name
            let made = try run(
                home.map { ["useradd", "-m", "-d", $0, "-s", "/bin/bash", name] }
                    ?? ["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name])
            try #require(made.status == 0, "useradd: \(made.output)")
            let id = try run(["id", "-u", name])
            uid = try #require(Int(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            // useradd may have allocated a range itself (SUB_UID_MIN…): replace it by one
            // past every range of either file, as SubordinateIDs suggests.
            _ = try sh("sed -i '/^\(name):/d' /etc/subuid /etc/subgid")
            let ends = try sh("cat /etc/subuid /etc/subgid | awk -F: 'NF==3 { print $2 + $3 }' | sort -n | tail -1")
            rangeStart = max(100_000, Int(ends.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
            let added = try sh(
                "echo '\(name):\(rangeStart):65536' >> /etc/subuid && echo '\(name):\(rangeStart):65536' >> /etc/subgid")
            try #require(added.status == 0, "\(added.output)")
        }

        /// Ends whatever still runs as the user (rootless podman's pause process), then
        /// removes the user and its ranges.
        func remove() {
            _ = try? sh("pkill -KILL -u \(uid); sleep 0.2; sed -i '/^\(name):/d' /etc/subuid /etc/subgid; userdel \(name)")
        }

        /// Live processes whose uid is the user's or in its range: the build's, inside or out.
        /// Zombies (exited, not yet reaped by init) hold nothing and are not counted.
        func processes() -> [String] {
            let table = (try? run(["ps", "-e", "-o", "uid=,stat=,pid=,args="]).stdout) ?? ""
            return table.split(separator: "\n").filter { line in
                let fields = line.split(separator: " ")
                guard fields.count >= 2, let owner = Int(fields[0]), !fields[1].hasPrefix("Z") else { return false }
                return owner == uid || (rangeStart..<rangeStart + 65536).contains(owner)
            }.map(String.init)
        }

        /// ``processes()`` once it is empty, or after 10 seconds.
        func processesAfterWaiting() async throws -> [String] {
            for _ in 0..<100 where !processes().isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            return processes()
        }
    }

    /// A directory the user can use: `out/`, `tmp/` (TMPDIR), `home/` and `els/owned`, whose
    /// install.d script records its uid and chowns a file to 1234:1234.
    static func workspace(for user: ThrowawayUser) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("stamp-unprivileged")
        let setup = try sh(
            """
            set -e; cd \(dir.path); chmod 755 .
            mkdir -p out tmp home els/owned/install.d
            printf '#!/bin/sh\\nset -e\\nid -u > /uid-inside\\necho owned > /owned\\nchown 1234:1234 /owned\\n' > els/owned/install.d/50-owned
            chmod +x els/owned/install.d/50-owned
            chown -R \(user.uid) out tmp home
            """)
        try #require(setup.status == 0, "\(setup.output)")
        return dir
    }

    /// `disk-image-create -n -t tar,raw -o out/img fake-os ELEMENTS…` as `user` (setpriv execs,
    /// so the PID is the build's).
    static func arguments(_ user: ThrowawayUser, _ dir: TemporaryDirectory, _ elements: [String]) -> [String] {
        [
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(dir.file("home"))", "TMPDIR=\(dir.file("tmp"))",
            "ELEMENTS_PATH=\(BadInputTests.fixtures):\(dir.file("els"))",
            "setpriv", "--reuid=\(user.uid)", "--regid=\(user.uid)", "--clear-groups",
            BadInputTests.dibBinary, "-n", "-t", "tar,raw", "-o", dir.file("out/img"), "fake-os",
        ] + elements
    }

    @Test func buildsAsUIDZeroInsideWithTheNamespaceOwners() throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let dir = try Self.workspace(for: user)
        defer { dir.cleanup() }
        let r = try run(Self.arguments(user, dir, ["owned"]))
        try #require(r.status == 0, "\(r.stderr) \(r.stdout.suffix(1500))")
        // The scripts ran as uid 0; the image holds the namespace's owners, not the host's.
        let uidInside = try run(["tar", "-xOf", dir.file("out/img.tar"), "./uid-inside"])
        #expect(uidInside.stdout == "0\n")
        let listing = try run(["tar", "--numeric-owner", "-tvf", dir.file("out/img.tar")]).stdout
        let owners = Dictionary(
            listing.split(separator: "\n").compactMap { line -> (String, String)? in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6, let path = fields.last else { return nil }
                return (String(path), String(fields[1]))
            }, uniquingKeysWith: { first, _ in first })
        #expect(owners["./owned"] == "1234/1234", "\(listing.prefix(2000))")
        #expect(owners["./etc/fake-os"] == "0/0" && owners["./bin/busybox"] == "0/0")
        #expect(!owners.values.contains { $0.contains(String(user.rangeStart)) || $0.hasPrefix("\(user.uid)/") })
        // The outputs are the user's; the work directory is gone; nothing is left running or mounted.
        for output in ["img.tar", "img.raw", "img.d"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.file("out/\(output)"))
            #expect((attributes[.ownerAccountID] as? Int) == user.uid, "\(output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
        #expect(user.processes().isEmpty, "\(user.processes())")
        #expect(WorkDirectoryMounts.under(dir.path).isEmpty, "\(WorkDirectoryMounts.under(dir.path))")
    }

    /// --logfile as an ordinary user: the log is opened and announced once by the caller and
    /// written by the build re-executed in the user namespace (its descriptor inherited), every
    /// line timestamped, nothing else on stdout.
    @Test func logfileSurvivesTheReexecution() throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let dir = try Self.workspace(for: user)
        defer { dir.cleanup() }
        let log = dir.file("home/build.log")
        var arguments = Self.arguments(user, dir, ["owned"])
        arguments.insert(contentsOf: ["--logfile", log], at: try #require(arguments.firstIndex(of: "-o")))
        let r = try run(arguments)
        try #require(r.status == 0, "\(r.stderr) \(r.stdout.suffix(1500))")
        #expect(r.stdout == "Output logs going to: \(log)\n" && r.stderr.isEmpty, "\(r.output.prefix(2000))")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.allSatisfy(DIBOutputTests.isStamped), "\(lines.filter { !DIBOutputTests.isStamped($0) }.prefix(5))")
        #expect(lines.last?.hasSuffix("| Build completed successfully") == true, "\(lines.suffix(3))")
        let attributes = try FileManager.default.attributesOfItem(atPath: log)
        #expect((attributes[.ownerAccountID] as? Int) == user.uid)
    }

    /// SIGKILL while an install.d script sleeps in the chroot: no process of the user or its
    /// range survives, no mount appears on the host, no final output exists; the next build
    /// (which sweeps the killed one's work directory, from inside the namespace) succeeds.
    @Test func sigkillLeavesNothingAndTheNextBuildSucceeds() async throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let dir = try Self.workspace(for: user)
        defer { dir.cleanup() }
        let arguments = Self.arguments(user, dir, ["sleeper"])
        let process = Process()
        setCommand(of: process, to: arguments)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watch = BuildWatch(pid: process.processIdentifier)
        defer { watch.killSurvivors() }
        var sleeping = false
        for _ in 0..<200 {
            watch.sample()
            if user.processes().contains(where: { $0.contains("sleep 31337") }) {
                sleeping = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(sleeping, "the sleeper never ran: \(user.processes())")
        // The sleeper runs as uid 0 of the namespace: the caller's uid on the host.
        #expect(user.processes().contains { $0.contains("sleep 31337") && $0.split(separator: " ").first == "\(user.uid)" })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let left = watch.survivorsAfterWaiting(touching: dir.path)
        #expect(left.isEmpty, "\(left)")
        let survivors = try await user.processesAfterWaiting()
        #expect(survivors.isEmpty, "\(survivors)")
        #expect(WorkDirectoryMounts.under(dir.path).isEmpty, "\(WorkDirectoryMounts.under(dir.path))")
        let outputs = try FileManager.default.contentsOfDirectory(atPath: dir.file("out"))
        #expect(!outputs.contains("img.raw") && !outputs.contains("img.tar"), "\(outputs)")

        let again = try run(Self.arguments(user, dir, ["owned"]))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty,
            "the killed build's work directory stayed")
    }
}

/// Root (useradd, /etc/subuid), the fake-os fixture's busybox, util-linux and uidmap.
var canRunUnprivilegedBuilds: Bool {
    isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && toolAvailable("unshare")
        && toolAvailable("newuidmap") && toolAvailable("newgidmap") && toolAvailable("useradd")
        && FileManager.default.isExecutableFile(atPath: BadInputTests.dibBinary)
}

/// The host's mount points under a directory (`/proc/self/mountinfo` field 5). Only the test's
/// own directory is looked at: other suites (BadInputTests' full and read-only filesystems)
/// mount and unmount elsewhere in the host's table while this one runs.
enum WorkDirectoryMounts {
    static func under(_ directory: String) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(4).first.map(String.init) }
            .filter { $0 == directory || $0.hasPrefix(directory + "/") }
    }
}
