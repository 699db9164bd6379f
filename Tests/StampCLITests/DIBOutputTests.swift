import Foundation
import Testing

import StampTestSupport

/// `disk-image-create`'s output as diskimage-builder has it (its disk-image-create script and
/// output filter): `DIB_QUIET`, `DIB_NO_TIMESTAMP`, `--logfile`, `DIB_SHOW_IMAGE_USAGE(_FULL)`,
/// `DIB_CHECKSUM=md5`, and an existing image kept as `NAME-<date>.FMT` unless
/// `OVERWRITE_OLD_IMAGE=1`. Each runs the busybox fake-os fixture (root needed).
@Suite(.enabled(if: BadInputTests.canRunElements, "needs root, unshare, setpriv and /bin/busybox"))
struct DIBOutputTests {
    /// DIB's timestamp, `YYYY-MM-DD HH:MM:SS.mmm | `.
    static let timestamp = #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| "#

    static func isStamped(_ line: Substring) -> Bool { line.range(of: timestamp, options: .regularExpression) != nil }

    /// `disk-image-create -n -t raw -o D/out/img fake-os EXTRA…` with `environment`.
    func dib(
        _ dir: TemporaryDirectory, _ options: [String] = [], elements: [String] = [], environment: [String: String] = [:]
    ) throws -> CommandResult {
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("tmp"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("els"), withIntermediateDirectories: true)
        var env = ["ELEMENTS_PATH": BadInputTests.fixtures + ":" + dir.file("els"), "TMPDIR": dir.file("tmp")]
        env.merge(environment) { $1 }
        // DIB_QUIET and friends unset unless a test sets them.
        let unset = ["DIB_QUIET", "DIB_NO_TIMESTAMP", "DIB_SHOW_IMAGE_USAGE", "DIB_SHOW_IMAGE_USAGE_FULL", "DIB_CHECKSUM"]
            .filter { env[$0] == nil }.flatMap { ["-u", $0] }
        return try run(
            ["env"] + unset + [BadInputTests.dibBinary, "-n", "-t", "raw"] + options + ["-o", dir.file("out/img"), "fake-os"]
                + elements, environment: env)
    }

    /// DIB_QUIET=1 without --logfile: DIB's filter writes nowhere, so nothing is printed.
    @Test func quietWithoutALogfilePrintsNothing() throws {
        let dir = try TemporaryDirectory("stamp-dib-quiet")
        defer { dir.cleanup() }
        let r = try dib(dir, environment: ["DIB_QUIET": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty && r.stderr.isEmpty, "stdout: \(r.stdout.prefix(500)) stderr: \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("out/img.raw")))
    }

    /// --logfile alone: stdout is DIB's one announcement; the log holds the run, every line
    /// timestamped. With DIB_QUIET=0 and DIB_NO_TIMESTAMP=1, stdout carries the same lines
    /// bare (once each) while the log keeps its timestamps.
    @Test func logfileAnnouncesItselfAndTimestampsOnlyTheLog() throws {
        let dir = try TemporaryDirectory("stamp-dib-logfile-out")
        defer { dir.cleanup() }
        let log = dir.file("build.log")
        let quiet = try dib(dir, ["--logfile", log])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stdout == "Output logs going to: \(log)\n", "\(quiet.stdout.prefix(1000))")
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
        let first = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(first.count > 5 && first.allSatisfy(Self.isStamped), "\(first.filter { !Self.isStamped($0) }.prefix(5))")
        #expect(first.last?.hasSuffix("| Build completed successfully") == true, "\(first.suffix(3))")

        let log2 = dir.file("loud.log")
        let loud = try dib(
            dir, ["--logfile", log2], environment: ["DIB_QUIET": "0", "DIB_NO_TIMESTAMP": "1", "OVERWRITE_OLD_IMAGE": "1"])
        #expect(loud.status == 0, "\(loud.stderr)")
        #expect(loud.stderr.isEmpty, "\(loud.stderr)")
        let out = loud.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(out.first == "Output logs going to: \(log2)", "\(out.prefix(3))")
        #expect(!out.contains(where: Self.isStamped), "\(out.filter(Self.isStamped).prefix(3))")
        let logged = try String(contentsOfFile: log2, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast()
        #expect(logged.allSatisfy(Self.isStamped))
        let bare = logged.map { $0.replacingOccurrences(of: Self.timestamp, with: "", options: .regularExpression) }
        #expect(Array(out.dropFirst()).map(String.init) == bare, "stdout and log differ")
    }

    /// A failure with DIB_QUIET=0 and --logfile: its line once on the terminal (stderr, not
    /// also on stdout) and last in the log.
    @Test func aFailureIsShownOnce() throws {
        let dir = try TemporaryDirectory("stamp-dib-fail-once")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("els/failing-late/install.d"), withIntermediateDirectories: true)
        try "#!/bin/sh\necho 'no such package: frobnicate'\nexit 3\n".write(
            toFile: dir.file("els/failing-late/install.d/50-fail"), atomically: true, encoding: .utf8)
        try sh("chmod +x \(dir.path)/els/failing-late/install.d/50-fail")
        let r = try dib(dir, ["--logfile", dir.file("b.log")], elements: ["failing-late"], environment: ["DIB_QUIET": "0"])
        #expect(r.status == 1)
        let errors = r.stderr.split(separator: "\n")
        #expect(errors.count == 1 && errors[0].hasPrefix("disk-image-create: "), "\(r.stderr)")
        let line = String(errors.first ?? "")
        #expect(!r.stdout.contains(line), "the error is on stdout too")
        let log = try String(contentsOfFile: dir.file("b.log"), encoding: .utf8)
        #expect(log.hasSuffix(" | " + line + "\n"), "\(log.suffix(500))")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/img.raw")))
    }

    /// DIB_CHECKSUM=md5 writes the .md5 only (DIB: md5sum when the value names md5, sha256sum
    /// when it names sha256); an image already there is renamed NAME-<local date>.FMT with its
    /// checksum file; OVERWRITE_OLD_IMAGE=1 replaces it instead.
    @Test func md5OnlyAndTheOldImageKept() throws {
        let dir = try TemporaryDirectory("stamp-dib-old-image")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        try "old image\n".write(toFile: dir.file("out/img.raw"), atomically: true, encoding: .utf8)
        try "old sum\n".write(toFile: dir.file("out/img.raw.md5"), atomically: true, encoding: .utf8)
        let before = try run(["date", "+%Y.%m.%d-%H.%M.%S"]).stdout.trimmingCharacters(in: .newlines)
        let r = try dib(dir, environment: ["DIB_CHECKSUM": "md5", "DIB_NO_TIMESTAMP": "1"])
        let after = try run(["date", "+%Y.%m.%d-%H.%M.%S"]).stdout.trimmingCharacters(in: .newlines)
        try #require(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted()
        #expect(!names.contains("img.raw.sha256"), "\(names)")
        let verify = try sh("cd '\(dir.path)/out' && md5sum -c img.raw.md5")
        #expect(verify.status == 0 && verify.stdout == "img.raw: OK\n", "\(verify.output)")
        let dated = names.filter {
            $0.range(of: #"^img-\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d\.raw$"#, options: .regularExpression) != nil
        }
        try #require(dated.count == 1, "\(names)")
        let date = String(dated[0].dropFirst(4).dropLast(4))
        #expect(before <= date && date <= after, "\(before) \(date) \(after)")
        #expect(try String(contentsOfFile: dir.file("out/" + dated[0]), encoding: .utf8) == "old image\n")
        #expect(try String(contentsOfFile: dir.file("out/" + dated[0] + ".md5"), encoding: .utf8) == "old sum\n")
        #expect(r.stdout.contains("Old image found. Renaming it to \(dir.file("out/" + dated[0]))\n"), "\(r.stdout.prefix(3000))")

        let again = try dib(dir, environment: ["OVERWRITE_OLD_IMAGE": "1"])
        try #require(again.status == 0, "\(again.stderr)")
        let later = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted()
        #expect(later.filter { $0.hasPrefix("img-") && !$0.hasSuffix(".md5") } == dated, "\(later)")
        #expect(!again.stdout.contains("Old image found"))
    }

    /// DIB_SHOW_IMAGE_USAGE: DIB's size report, sizes in IEC units largest first (numfmt
    /// pads the size and joins it to du's path with a space); only 10 MiB and more unless
    /// DIB_SHOW_IMAGE_USAGE_FULL.
    @Test func imageUsageReport() throws {
        let dir = try TemporaryDirectory("stamp-dib-usage")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("els/big-file/install.d"), withIntermediateDirectories: true)
        try "#!/bin/sh\nset -e\ndd if=/dev/zero of=/var/big bs=1M count=12 2>/dev/null\n".write(
            toFile: dir.file("els/big-file/install.d/50-big"), atomically: true, encoding: .utf8)
        try sh("chmod +x \(dir.path)/els/big-file/install.d/50-big")
        let short = try dib(dir, elements: ["big-file"], environment: ["DIB_SHOW_IMAGE_USAGE": "1", "DIB_NO_TIMESTAMP": "1"])
        try #require(short.status == 0, "\(short.stderr)")
        let lines = short.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "Image size report (files > 10MiB)"), "\(short.stdout.suffix(3000))")
        let end = try #require(lines.firstIndex(of: "===== end image size report ====="))
        #expect(lines[start - 1] == String(repeating: "=", count: 33) && lines[start + 1] == lines[start - 1])
        let report = Array(lines[(start + 2)..<(end - 1)])
        #expect(lines[end - 1].isEmpty && lines[end + 1].isEmpty)
        #expect(report.contains { $0.range(of: #"^ *12MiB .*/var/big$"#, options: .regularExpression) != nil }, "\(report)")
        #expect(report.contains { $0.hasSuffix(" total") }, "\(report)")
        #expect(!report.contains { $0.hasSuffix("/bin/busybox") }, "\(report)")
        let full = try dib(
            dir, elements: ["big-file"],
            environment: [
                "DIB_SHOW_IMAGE_USAGE": "1", "DIB_SHOW_IMAGE_USAGE_FULL": "1", "DIB_NO_TIMESTAMP": "1",
                "OVERWRITE_OLD_IMAGE": "1",
            ])
        try #require(full.status == 0, "\(full.stderr)")
        let all = full.stdout.split(separator: "\n").map(String.init)
        #expect(all.contains("Image size report") && all.contains(String(repeating: "=", count: 17)))
        #expect(
            all.contains { $0.range(of: #"^ *[0-9.]+[KM]iB .*/bin/busybox$"#, options: .regularExpression) != nil },
            "\(all.suffix(40))")
        // Without the variable there is no report.
        let none = try dib(dir, environment: ["OVERWRITE_OLD_IMAGE": "1"])
        #expect(none.status == 0 && !none.stdout.contains("Image size report"))
    }
}

/// `-t tgz`: DIB's gzip-compressed tarball of the tree, `NAME.tgz`. Decompressed it is the
/// very tarball `-t tar` writes; the gzip header carries no time, so builds of equal trees
/// give equal files.
@Suite(.enabled(if: BadInputTests.canRunElements, "needs root, unshare, setpriv and /bin/busybox"))
struct DIBTgzTests {
    @Test func tgzIsTheTarballGzipped() throws {
        let dir = try TemporaryDirectory("stamp-dib-tgz")
        defer { dir.cleanup() }
        try sh("mkdir -p '\(dir.path)/out' '\(dir.path)/tmp'")
        let r = try run(
            [BadInputTests.dibBinary, "-n", "-t", "tar,tgz", "-o", dir.file("out/img"), "fake-os"],
            environment: ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.file("tmp")])
        try #require(r.status == 0, "\(r.stderr)")
        let same = try sh("cd '\(dir.path)/out' && gzip -t img.tgz && gunzip -c img.tgz | cmp - img.tar && echo same")
        #expect(same.stdout == "same\n", "\(same.output)")
        let motd = try run(["tar", "-xzOf", dir.file("out/img.tgz"), "./etc/fake-os"])
        #expect(motd.stdout == "fake-os\n", "\(motd.output)")
        let mtime = try run([
            "python3", "-c",
            "import sys; h = open(sys.argv[1], 'rb').read(10); print(h[:3].hex(), int.from_bytes(h[4:8], 'little'))",
            dir.file("out/img.tgz"),
        ])
        #expect(mtime.stdout == "1f8b08 0\n", "\(mtime.output)")
    }
}

/// `--qemu-img-options adapter_type=ide`: the VMDK's descriptor names the IDE adapter, as
/// qemu-img reads it back; a value stamp cannot write ends in one line, before the build.
@Suite(.enabled(if: BadInputTests.canRunElements && toolAvailable("qemu-img"), "needs root, busybox and qemu-img"))
struct DIBQemuImgOptionsTests {
    @Test func adapterTypeReachesTheVMDK() throws {
        let dir = try TemporaryDirectory("stamp-dib-adapter")
        defer { dir.cleanup() }
        try sh("mkdir -p '\(dir.path)/out' '\(dir.path)/tmp'")
        let env = ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.file("tmp")]
        let r = try run(
            [
                BadInputTests.dibBinary, "-n", "-t", "vmdk", "--qemu-img-options", "adapter_type=ide,cluster_size=64k", "-o",
                dir.file("out/img"), "fake-os",
            ], environment: env)
        try #require(r.status == 0, "\(r.stderr)")
        let check = try run(["qemu-img", "check", "-f", "vmdk", dir.file("out/img.vmdk")])
        #expect(check.status == 0, "\(check.output)")
        let descriptor = try sh("head -c 65536 '\(dir.path)/out/img.vmdk' | tr -d '\\000' | grep adapterType")
        #expect(descriptor.stdout == "ddb.adapterType = \"ide\"\n", "\(descriptor.output)")
        let bad = try run(
            [
                BadInputTests.dibBinary, "-n", "-t", "qcow2", "--qemu-img-options", "cluster_size=2M", "-o", dir.file("out/bad"),
                "fake-os",
            ], environment: env)
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.output)")
        #expect(bad.stderr.contains("cluster_size=2M"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/bad.qcow2")))
    }
}

/// `disk-image-create --version` prints a version number alone, as DIB does, and the same
/// one as `stamp --version`.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: BadInputTests.dibBinary)))
struct DIBVersionTests {
    @Test func versionIsANumber() throws {
        let dib = try run([BadInputTests.dibBinary, "--version"])
        #expect(dib.status == 0 && dib.stderr.isEmpty, "\(dib.output)")
        #expect(
            dib.stdout.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+(\.dev[0-9]+)?\n$"#, options: .regularExpression) != nil,
            "\(dib.stdout)")
        let stamp = try run([stampBinary, "--version"])
        #expect(stamp.stdout == dib.stdout, "stamp \(stamp.stdout) disk-image-create \(dib.stdout)")
    }
}
