import Foundation
import Testing

import StampTestSupport

/// The `stamp` executable as users run it: help, one-line errors, and the commands end to end.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct CLITests {
    @Test func helpExplainsEveryCommand() throws {
        let help = try run([stampBinary, "--help"])
        #expect(help.status == 0)
        for command in ["pack", "mkfs", "convert", "inspect"] { #expect(help.stdout.contains(command)) }
        let mkfs = try run([stampBinary, "mkfs", "--help"])
        for option in ["--size", "--label", "--uuid", "--inode-ratio", "--journal-size", "--source-date-epoch"] {
            #expect(mkfs.stdout.contains(option), "mkfs --help lacks \(option)")
        }
    }

    /// Every bad input ends in exactly one line on stderr, a non-zero exit, and no output file.
    @Test(arguments: [
        (["mkfs", "/nonexistent-dir", "OUT"], "/nonexistent-dir: no such directory"),
        (["mkfs", "/etc/passwd", "OUT"], "not a directory"),
        (["mkfs", "SRC", "OUT", "--uuid", "nope"], "invalid --uuid"),
        (["mkfs", "SRC", "OUT", "--size", "12Q"], "invalid --size"),
        (["mkfs", "SRC", "OUT", "--size", "20M", "--inode-ratio", "65536"], "inodes"),
        (["mkfs", "SRC", "/nonexistent-dir/out.img"], "/nonexistent-dir/out.img"),
        (["pack", "SRC", "-o", "OUT", "-t", "qcow2,floppy"], "unknown format 'floppy'"),
        (["pack", "SRC", "-o", "OUT", "--layout", "zfs"], "invalid --layout 'zfs': use none, mbr, gpt or efi"),
        (["pack", "SRC", "-o", "OUT", "-t", "raw", "--size", "10M"], "too small"),
        (["convert", "SRC/missing.qcow2", "-O", "vmdk", "OUT"], "missing.qcow2"),
        (["pack", "SRC", "-o", "OUT", "--block-device-config", "/nonexistent.yaml"], "/nonexistent.yaml: cannot read"),
        (["pack", "SRC", "-o", "OUT", "--block-device-config", "SRC/f1"], "the configuration must be a list"),
        (["elements", "no-such-element"], "no-such-element"),
        (["build", "debian-minimal", "no-such-element", "-o", "OUT"], "no-such-element"),
        (["build", "debian-minimal", "-o", "OUT", "-t", "qcow2,floppy"], "unknown format 'floppy'"),
        (
            ["pack", "SRC", "-o", "OUT", "--block-device-config", "BADYAML"],
            "4 problems: line 1, column 3 ([0].frobnicate): unknown plugin"
        ),
    ])
    func badInputEndsInOneLine(arguments: [String], expected: String) throws {
        let dir = try TemporaryDirectory("stamp-cli")
        try sh("mkdir -p \(dir.path)/src; for i in $(seq 0 700); do echo $i > \(dir.path)/src/f$i; done")
        // Problems: an unknown plugin, a mount with no base, no local_loop.
        try "- frobnicate: {}\n- mount: {name: m, mount_point: /srv}\n".write(
            toFile: dir.path + "/bad.yaml", atomically: true, encoding: .utf8)
        let args = arguments.map {
            $0.replacingOccurrences(of: "SRC", with: dir.file("src")).replacingOccurrences(of: "OUT", with: dir.file("out"))
                .replacingOccurrences(of: "BADYAML", with: dir.file("bad.yaml"))
        }
        let r = try run([stampBinary] + args)
        #expect(r.status != 0, "\(args) should fail")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(expected.replacingOccurrences(of: "OUT", with: dir.file("out"))), "\(args): \(r.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "src" && $0 != "bad.yaml" }
        #expect(left.isEmpty, "\(args) left \(left)")
    }

    @Test func elementsShowsTheResolvedSetWithPathsAndProviders() throws {
        let r = try run([stampBinary, "elements", "debian-minimal", "vm"])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let names = lines.compactMap { $0.split(separator: " ").first.map(String.init) }
        // base is implied, vm brings block-device-mbr, and debian-minimal's dependencies follow.
        for expected in ["base", "debian-minimal", "vm", "block-device-mbr", "package-installs"] {
            #expect(names.contains(expected), "\(expected) missing: \(r.stdout)")
        }
        let debian = try #require(lines.first { $0.hasPrefix("debian-minimal ") })
        #expect(
            debian.contains(repositoryRoot + "/Elements/debian-minimal") && debian.contains("provides operating-system"),
            "\(debian)")
        let mbr = try #require(lines.first { $0.hasPrefix("block-device-mbr ") })
        #expect(mbr.contains("provides block-device"), "\(mbr)")
    }

    /// As an ordinary user (nothing here needs privilege): pack, then the disk as util-linux,
    /// qemu-img and e2fsprogs read it, then as `stamp inspect` does; convert, and qemu-img
    /// compares the result with the raw disk.
    @Test(.enabled(if: toolAvailable("qemu-img")))
    func packInspectConvertRoundTrip() throws {
        let dir = try TemporaryDirectory("stamp-cli-pack")
        try sh("mkdir -p \(dir.path)/src/etc; echo hi > \(dir.path)/src/etc/motd; chmod 1777 \(dir.path)")
        let pack = try run(
            asOrdinaryUser([
                stampBinary, "pack", dir.file("src"), "-o", dir.file("d"), "-t", "vmdk,raw", "--layout", "mbr", "--checksum",
            ]))
        try #require(pack.status == 0, "\(pack.output)")
        for f in ["d.vmdk", "d.raw", "d.vmdk.md5", "d.vmdk.sha256", "d.raw.md5", "d.raw.sha256"] {
            #expect(FileManager.default.fileExists(atPath: dir.file(f)), "missing \(f)")
        }
        let sha = try run(["bash", "-c", "cd \(dir.path) && sha256sum -c d.vmdk.sha256 && md5sum -c d.raw.md5"])
        #expect(sha.status == 0, "\(sha.output)")
        // Independent readers first.
        let info = try run(["qemu-img", "info", "--output=json", dir.file("d.vmdk")])
        #expect(
            (try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["format"] as? String == "vmdk",
            "\(info.output)")
        let check = try run(["qemu-img", "check", "-f", "vmdk", dir.file("d.vmdk")])
        #expect(check.status == 0 && check.stdout.contains("No errors were found"), "\(check.output)")
        let same = try run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", dir.file("d.raw"), dir.file("d.vmdk")])
        #expect(same.status == 0, "\(same.output)")
        let dump = try run(["sfdisk", "--json", dir.file("d.raw")]).stdout
        let table =
            (try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])?["partitiontable"] as? [String: Any]
        #expect(table?["label"] as? String == "dos", "\(dump)")
        let first = try #require((table?["partitions"] as? [[String: Any]])?.first, "\(dump)")
        let offset = try #require((first["start"] as? NSNumber)?.intValue) * 512
        let type = try run(["blkid", "-p", "-O", "\(offset)", "-s", "TYPE", "-o", "value", dir.file("d.raw")])
        #expect(type.stdout == "ext4\n", "blkid: \(type.output)")
        #expect(try strictFsck("\(dir.file("d.raw"))?offset=\(offset)") == [])
        let motd = try run(["debugfs", "-R", "cat /etc/motd", "\(dir.file("d.raw"))?offset=\(offset)"])
        #expect(motd.stdout == "hi\n", "\(motd.output)")
        let inspect = try run([stampBinary, "inspect", "--json", dir.file("d.vmdk")])
        #expect(inspect.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(json?["format"] as? String == "vmdk")
        let extra = json?["stamp"] as? [String: Any]
        #expect(extra?["partition-table"] as? String == "dos")
        let parts = extra?["partitions"] as? [[String: Any]] ?? []
        #expect((parts.first?["filesystem"] as? [String: Any])?["type"] as? String == "ext4")
        let convert = try run(asOrdinaryUser([stampBinary, "convert", dir.file("d.vmdk"), "-O", "qcow2", dir.file("c.qcow2")]))
        #expect(convert.status == 0, "\(convert.output)")
        let converted = try run(["qemu-img", "check", "-f", "qcow2", dir.file("c.qcow2")])
        #expect(converted.status == 0 && converted.stdout.contains("No errors were found"), "\(converted.output)")
        let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", dir.file("d.raw"), dir.file("c.qcow2")])
        #expect(compare.status == 0, "\(compare.output)")
        // A corrupt input is refused in one line.
        try sh("head -c $(( $(stat -c %s \(dir.path)/d.vmdk) / 2 )) \(dir.path)/d.vmdk > \(dir.path)/cut.vmdk")
        let bad = try run([stampBinary, "convert", dir.file("cut.vmdk"), "-O", "raw", dir.file("x.raw")])
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("x.raw")))
    }
}

/// Partition tables libblkid reads as they are, with entries past the disk's end or past
/// 2^64 bytes: `stamp inspect` reports what it can and does not trap.
@Suite(.enabled(if: toolAvailable("qemu-img") && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct InspectHostileTableTests {
    @Test func anMBRPartitionPastTheEndOfAQcow2() throws {
        let dir = try TemporaryDirectory("stamp-inspect-mbr")
        // One primary entry of type 0x83 at LBA 0x100000 (512 MiB) on a 64 MiB disk, as a
        // shrunk image has.
        try sh(
            #"""
            set -e; cd \#(dir.path); truncate -s 64M d.raw
            python3 -c 'import struct; f=open("d.raw","r+b"); f.seek(446); f.write(struct.pack("<B3sB3sII",0,bytes(3),0x83,bytes(3),0x100000,2048)); f.seek(510); f.write(bytes([0x55,0xaa]))'
            qemu-img convert -f raw -O qcow2 d.raw d.qcow2
            """#)
        for image in ["d.qcow2", "d.raw"] {
            let inspect = try run([stampBinary, "inspect", "--json", dir.file(image)])
            #expect(inspect.status == 0, "\(image): \(inspect.output)")
            let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
            #expect((json?["stamp"] as? [String: Any])?["partition-table"] as? String == "dos", "\(image): \(inspect.output)")
        }
    }
}

/// An unreadable source file, as a user without the right to read it: one line naming the
/// file, non-zero exit, no image.
@Suite(.enabled(if: isRoot && toolAvailable("setpriv") && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct UnreadableSourceTests {
    @Test func unreadableFileEndsInOneLineNamingIt() throws {
        let dir = try TemporaryDirectory("stamp-cli-unreadable")
        try sh(
            """
            set -e; chmod 755 \(dir.path); mkdir -p \(dir.path)/src/etc \(dir.path)/out
            echo secret > \(dir.path)/src/etc/shadow; chmod 000 \(dir.path)/src/etc/shadow
            echo ok > \(dir.path)/src/etc/motd; chmod -R a+rX \(dir.path)/src/etc/motd; chmod 755 \(dir.path)/src \(dir.path)/src/etc
            chown 65534:65534 \(dir.path)/out
            """)
        // The binary must be reachable by the unprivileged user.
        let r = try run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", stampBinary, "mkfs", dir.file("src"),
            dir.file("out/fs.img"),
        ])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(
            r.stderr.contains("\(dir.path)/src/etc/shadow") && r.stderr.lowercased().contains("permission denied"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty)
    }
}

/// On a terminal `stamp pack` draws a progress line (bytes, rate, ETA); in a pipe it does not.
@Suite(.enabled(if: toolAvailable("script") && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct ProgressTests {
    @Test func progressOnATerminalOnly() throws {
        let dir = try TemporaryDirectory("stamp-cli-progress")
        try sh("mkdir -p \(dir.path)/src; head -c 3000000 /dev/urandom > \(dir.path)/src/blob")
        let command = "\(stampBinary) pack \(dir.file("src")) -o \(dir.file("d")) -t raw --layout mbr"
        let tty = try run(["script", "-q", "-c", command, "/dev/null"])
        #expect(tty.status == 0, "\(tty.output)")
        #expect(tty.stdout.contains("100%") && tty.stdout.contains("ETA") && tty.stdout.contains("/s"), "\(tty.stdout)")
        let pipe = try run([stampBinary, "pack", dir.file("src"), "-o", dir.file("e"), "-t", "raw", "--layout", "mbr"])
        #expect(pipe.status == 0 && !pipe.stdout.contains("ETA") && pipe.stdout.contains(" | "), "\(pipe.stdout)")
    }
}

/// SIGKILL of `stamp pack` mid-write leaves nothing under a final name; the next run removes
/// the dead process's temporary files and succeeds.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct KilledPackTests {
    @Test func sigkillLeavesNoFinalFileAndTheNextRunCleansUp() throws {
        let dir = try TemporaryDirectory("stamp-cli-kill")
        try sh("mkdir -p \(dir.path)/src; for i in $(seq 1 40); do head -c 4000000 /dev/urandom > \(dir.path)/src/f$i; done")
        let process = Process()
        setCommand(
            of: process, to: [stampBinary, "pack", dir.file("src"), "-o", dir.file("d"), "-t", "raw,vmdk", "--no-bootloader"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once a temporary output exists.
        for _ in 0..<300 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            if names.contains(where: { $0.hasSuffix("-partial") }) { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        var names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!names.contains("d.raw") && !names.contains("d.vmdk"), "final names after SIGKILL: \(names)")
        let again = try run([stampBinary, "pack", dir.file("src"), "-o", dir.file("d"), "-t", "raw,vmdk", "--no-bootloader"])
        #expect(again.status == 0, "\(again.output)")
        names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.filter { $0.hasSuffix("-partial") || $0.hasSuffix(".tmp") } == [], "stale temporaries: \(names)")
        #expect(names.contains("d.raw") && names.contains("d.vmdk"))
    }
}

/// `disk-image-create --logfile FILE` (zuul-jobs' build-diskimage role passes it): the log is
/// appended to FILE and, with the DIB_QUIET it implies, stdout holds only DIB's
/// `Output logs going to: FILE`; a failure's one line goes to stderr and ends the log too.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: BadInputTests.dibBinary)))
struct DIBLogfileTests {
    @Test func theLogHoldsTheRunAndItsFailure() throws {
        let dir = try TemporaryDirectory("stamp-dib-logfile")
        try sh("echo 'earlier run' > \(dir.path)/build.log")
        let r = try run(
            [
                BadInputTests.dibBinary, "-n", "-t", "raw", "--logfile", dir.file("build.log"), "-o", dir.file("missing/img"),
                "fake-os",
            ],
            environment: ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.path])
        #expect(r.status == 1)
        #expect(r.stdout == "Output logs going to: \(dir.file("build.log"))\n", "\(r.stdout)")
        let line = "disk-image-create: \(dir.path)/missing: output directory: no such file or directory"
        #expect(r.stderr == line + "\n", "\(r.stderr)")
        let log = try String(contentsOfFile: dir.file("build.log"), encoding: .utf8)
        #expect(log.hasPrefix("earlier run\n") && log.hasSuffix(line + "\n"), "\(log)")
        // DIB_QUIET=0: stdout carries the log as well.
        let loud = try run(
            [
                BadInputTests.dibBinary, "-n", "-t", "raw", "--logfile", dir.file("loud.log"), "-o", dir.file("missing/img"),
                "fake-os",
            ],
            environment: ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.path, "DIB_QUIET": "0"])
        #expect(loud.status == 1)
        // DIB_QUIET=0: the log's lines on stdout too, the failure once (on stderr).
        #expect(loud.stdout.hasPrefix("Output logs going to: \(dir.file("loud.log"))\n"), "\(loud.stdout)")
        #expect(!loud.stdout.contains(line) && loud.stderr == line + "\n", "\(loud.output)")
        #expect(try String(contentsOfFile: dir.file("loud.log"), encoding: .utf8).contains(line))
    }
}

/// SIGTERM in the middle of a pack (nodepool's timeout): exit 143, one line, and no
/// temporary output left beside the outputs.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct SignalTests {
    @Test func sigtermRemovesTemporaryOutputs() throws {
        let dir = try TemporaryDirectory("stamp-sigterm")
        try sh("mkdir -p \(dir.path)/src && head -c 400M /dev/urandom > \(dir.path)/src/big")
        let r = try sh(
            """
            cd \(dir.path)
            \(stampBinary) pack src -o out -t qcow2,vmdk --no-bootloader > pack.log 2> pack.err & pid=$!
            for i in $(seq 100); do ls .out.*-partial >/dev/null 2>&1 && break; sleep 0.1; done
            ls -a | grep -c '^\\.out\\..*-partial$'
            kill -TERM $pid; wait $pid; echo "exit $?"
            cat pack.err; ls -a
            """)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first.flatMap { Int($0) } ?? 0 >= 1, "no temporary file was seen: \(r.output)")
        #expect(lines.contains("exit 143"), "\(r.output)")
        #expect(lines.contains("stamp: interrupted by signal 15; temporary files removed"), "\(r.output)")
        #expect(!lines.contains { $0.hasPrefix(".out.") || $0 == "out.qcow2" || $0 == "out.vmdk" }, "\(r.output)")
    }
}
