import Foundation
import Testing

import StampTestSupport

/// A progress line on a terminal, from every command that streams a disk (issue 22): run under
/// `script`, which gives the command a pseudo-terminal, each draws bytes, rate and time left;
/// with its output in a pipe, none does.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("script")))
struct TerminalProgressTests {
    /// `arguments` run on a pseudo-terminal (util-linux `script`); what it printed there.
    static func onTerminal(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try run(["script", "-qefc", quoted, "/dev/null"], environment: environment)
    }

    /// A progress line: the label, a percentage, a rate and an ETA, redrawn with a carriage return.
    static func hasProgress(_ output: String, label: String) -> Bool {
        output.contains("\r  \(label) ") && output.contains("100%") && output.contains("/s   ETA ")
    }

    @Test func mkfsPackAndConvertDrawProgressOnATerminalOnly() throws {
        let dir = try TemporaryDirectory("stamp-progress")
        defer { dir.cleanup() }
        let tree = try CommandLineTests.tree(dir)
        let mkfs = try Self.onTerminal([stampBinary, "mkfs", tree, dir.file("fs.ext4")])
        #expect(mkfs.status == 0 && Self.hasProgress(mkfs.stdout, label: "writing"), "mkfs: \(mkfs.output)")
        let pack = try Self.onTerminal([stampBinary, "pack", tree, "--layout", "none", "-t", "raw,qcow2", "-o", dir.file("d")])
        #expect(pack.status == 0 && Self.hasProgress(pack.stdout, label: "writing"), "pack: \(pack.output)")
        let convert = try Self.onTerminal([stampBinary, "convert", dir.file("d.raw"), "-O", "vmdk", dir.file("d.vmdk")])
        #expect(convert.status == 0 && Self.hasProgress(convert.stdout, label: "converting"), "convert: \(convert.output)")
        // -q: nothing at all, on a terminal too.
        let quiet = try Self.onTerminal([stampBinary, "convert", dir.file("d.raw"), "-O", "vhd", dir.file("d.vhd"), "-q"])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty, "convert -q: \(quiet.output)")
        // Not a terminal: log lines, no carriage return.
        let piped = try run([stampBinary, "pack", tree, "--layout", "none", "-t", "raw", "-o", dir.file("e")])
        #expect(piped.status == 0 && !piped.stdout.contains("\r") && piped.stdout.contains(" | wrote "), "\(piped.output)")
    }

    /// disk-image-create's disk stage (the busybox fake-os fixture, no base element). `stamp
    /// build` writes its disk through the same stage (DIBBuild.run), with the same line.
    @Test(.enabled(if: BadInputTests.canRunElements, "needs root, unshare, setpriv and /bin/busybox"))
    func diskImageCreateDrawsProgressInItsDiskStage() throws {
        let dir = try TemporaryDirectory("stamp-progress-dib")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("tmp"), withIntermediateDirectories: true)
        let environment = ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.file("tmp")]
        let dib = try Self.onTerminal(
            ["env", "-u", "DIB_QUIET", BadInputTests.dibBinary, "-n", "-t", "raw,qcow2", "-o", dir.file("img"), "fake-os"],
            environment: environment)
        #expect(
            dib.status == 0 && Self.hasProgress(dib.stdout, label: "writing"), "disk-image-create: \(dib.output.suffix(3000))")
        // With a log file (DIB_QUIET implied) the terminal gets no progress line.
        let logged = try Self.onTerminal(
            [
                "env", "-u", "DIB_QUIET", BadInputTests.dibBinary, "-n", "-t", "raw", "--logfile", dir.file("log"), "-o",
                dir.file("img2"), "fake-os",
            ],
            environment: environment)
        #expect(logged.status == 0 && !logged.stdout.contains("ETA"), "\(logged.output.suffix(2000))")
        // stamp build, the same engine under stamp's own command line (`-n`: no base element).
        let build = try Self.onTerminal(
            [
                stampBinary, "build", "-n", "--elements-path", BadInputTests.fixtures, "-t", "raw", "-o", dir.file("img3"),
                "fake-os",
            ],
            environment: ["TMPDIR": dir.file("tmp")])
        #expect(
            build.status == 0 && Self.hasProgress(build.stdout, label: "writing"), "stamp build: \(build.output.suffix(3000))")
    }
}

/// `scripts/install PREFIX` (docs/install.md), with the debug build CI made: the programs run
/// from the prefix, from another directory, and find their elements there; `man` renders the
/// pages; the completion scripts are where bash, zsh and fish look.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: repositoryRoot + "/.build/debug/stamp") && toolAvailable("man")
            && toolAvailable("swift")))
struct InstallTests {
    @Test func installedProgramsManualsAndCompletionsWork() throws {
        let dir = try TemporaryDirectory("stamp-install")
        defer { dir.cleanup() }
        let prefix = dir.file("prefix with space")
        let installed = try run([repositoryRoot + "/scripts/install", "--debug", "--ignore-lock", prefix])
        try #require(installed.status == 0, "\(installed.output.suffix(4000))")
        let bin = prefix + "/bin/stamp"
        for program in ["stamp", "disk-image-create"] {
            #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/" + program), "\(program)")
        }
        // From another directory, with no STAMP_ELEMENTS_DIR: the elements beside the prefix.
        let elements = try run(
            [
                "env", "-u", "STAMP_ELEMENTS_DIR", "-u", "ELEMENTS_PATH", "sh", "-c", "cd / && \"$0\" elements debian-minimal vm",
                bin,
            ])
        #expect(elements.status == 0, "\(elements.output)")
        #expect(elements.stdout.contains(prefix + "/share/stamp/Elements/vm"), "\(elements.stdout)")
        let plan = try run(
            [
                "env", "-u", "STAMP_ELEMENTS_DIR", "STAMP_PLAN_ONLY=1", "sh", "-c", "cd / && \"$0\" -o /tmp/x vm debian-minimal",
                prefix + "/bin/disk-image-create",
            ])
        #expect(plan.status == 0 && plan.stdout.contains(prefix + "/share/stamp/Elements/debian-minimal"), "\(plan.output)")

        // One page per command, rendered by man-db from the prefix.
        let pages = try FileManager.default.contentsOfDirectory(atPath: prefix + "/share/man/man1").sorted()
        for command in ["stamp", "stamp-pack", "stamp-mkfs", "stamp-convert", "stamp-inspect", "stamp-build"] {
            #expect(pages.contains(command + ".1"), "\(pages)")
        }
        let man = try run(["man", "-M", prefix + "/share/man", "-P", "cat", "stamp-pack"], environment: ["MANWIDTH": "80"])
        #expect(man.status == 0, "\(man.output)")
        for needle in ["STAMP-PACK(1)", "NAME", "stamp pack", "--layout", "--block-device-config", "--quiet"] {
            #expect(man.stdout.contains(needle), "man stamp-pack lacks \(needle):\n\(man.stdout.prefix(3000))")
        }
        #expect(!man.stderr.contains("warning"), "\(man.stderr)")
        let root = try run(["man", "-M", prefix + "/share/man", "-P", "cat", "stamp"], environment: ["MANWIDTH": "80"])
        #expect(root.status == 0 && root.stdout.contains("stamp-pack(1)"), "\(root.output.prefix(3000))")
        let dib = try run(
            ["man", "-M", prefix + "/share/man", "-P", "cat", "disk-image-create"], environment: ["MANWIDTH": "80"])
        #expect(dib.status == 0 && dib.stdout.contains("--logfile") && dib.stdout.contains("stamp-build(1)"), "\(dib.output)")

        // Completions where the shells look, each generated by the installed program.
        for file in ["bash-completion/completions/stamp", "zsh/site-functions/_stamp", "fish/vendor_completions.d/stamp.fish"] {
            let text = (try? String(contentsOfFile: prefix + "/share/" + file, encoding: .utf8)) ?? ""
            #expect(text.contains("stamp") && text.contains("gpt"), "\(file): \(text.prefix(200))")
        }
        let version = try run([bin, "--version"])
        #expect(installed.stdout.contains("installed stamp \(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"))
    }
}
