import Foundation
import Testing

import StampConfig
import StampTestSupport

/// The settings table as the commands expose it (issue 20): each `--help` lists exactly the
/// table's options, and the nine reproductions of the issue behave as a user expects: the
/// right output, or one line naming the conflict with a hint that works.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct SettingsCLITests {
    /// The option names in a help text: the first column of every line indented by two spaces
    /// that starts with a dash (`-o, --output <out>` gives `-o` and `--output`).
    static func helpNames(_ help: String) -> Set<String> {
        var names: Set<String> = []
        for line in help.split(separator: "\n") where line.hasPrefix("  -") {
            let column = line.dropFirst(2).components(separatedBy: "  ").first ?? ""
            for item in column.components(separatedBy: ", ") {
                if let word = item.split(separator: " ").first, word.hasPrefix("-") { names.insert(String(word)) }
            }
        }
        return names
    }

    @Test(arguments: FrontEnd.allCases)
    func helpListsExactlyTheTable(frontEnd: FrontEnd) throws {
        let command = frontEnd == .dib ? [dibBinary, "--help"] : [stampBinary, frontEnd.rawValue, "--help"]
        let r = try run(command)
        #expect(r.status == 0, "\(r.output)")
        let listed = Self.helpNames(r.stdout)
        // ArgumentParser's, and disk-image-create's own: help and version.
        let expected = Set(Settings.names(on: frontEnd)).union(["-h", "--help", "--version"])
        #expect(
            listed == expected,
            "only in --help: \(listed.subtracting(expected)); only in the table: \(expected.subtracting(listed))")
    }

    /// The command line giving `setting` its example value on `frontEnd`, with what it needs
    /// (a format, another setting) and the command's required arguments.
    static func commandLine(_ setting: Setting, on frontEnd: FrontEnd, tree: String) -> [String] {
        func words(_ setting: Setting) -> [String] {
            let spelling = setting.spellings[frontEnd]!
            var text = setting.example(on: frontEnd).text
            if setting.key == .qemuImgOptions { text = "compat=1.1" }  // DIB's own syntax, checked on parsing
            return [spelling.names.last!] + (setting.kind == .flag ? [] : [text])
        }
        var arguments = words(setting)
        var pending = setting.requires
        while let requirement = pending.popLast() {
            switch requirement {
            case .format(let names) where setting.key != .types: arguments += ["-t", names[0]]
            case .setting(let key):
                arguments += words(Settings[key])
                pending += Settings[key].requires
            default: break
            }
        }
        let output = setting.key == .output ? [] : ["-o", tree + "/../out"]
        switch frontEnd {
        case .pack: return [stampBinary, "pack", tree] + output + arguments
        case .mkfs: return [stampBinary, "mkfs", tree, tree + "/../fs.ext4"] + arguments
        case .build: return [stampBinary, "build", "e"] + output + arguments
        case .images: return [stampBinary, "images"] + arguments
        case .convert:
            let format = setting.key == .outputFormat ? [] : ["-O", "raw"]
            return [stampBinary, "convert", tree + "/etc/motd"] + format + [tree + "/../c.raw"] + arguments
        case .inspect: return [stampBinary, "inspect", tree + "/etc/motd"] + arguments
        case .verify: return [stampBinary, "verify", tree + "/../x.ova"] + arguments
        case .dib: return [dibBinary, "e"] + output + arguments
        }
    }

    /// Every setting, on every command that offers it, parses to the typed value the table
    /// says: the commands' own parsers (ArgumentParser's bindings, DIB's getopt) feed it.
    @Test(arguments: FrontEnd.allCases)
    func everyCommandParsesEverySettingToItsTypedValue(frontEnd: FrontEnd) throws {
        let dir = try tree()
        for setting in Settings.offered(by: frontEnd) {
            let command = Self.commandLine(setting, on: frontEnd, tree: dir.file("t"))
            let r = try run(command, environment: ["STAMP_PRINT_SETTINGS": "1"])
            let expected = setting.key == .qemuImgOptions ? "compat=1.1" : setting.example(on: frontEnd).value.canonical
            #expect(r.status == 0, "\(command.dropFirst()): \(r.output)")
            #expect(
                r.stdout.split(separator: "\n").contains("\(setting.key.rawValue)=\(expected)"),
                "\(command.dropFirst()): \(r.stdout)")
        }
    }

    @Test func optionsPrintsTheReferenceInTheRepository() throws {
        let r = try run([stampBinary, "options", "--markdown"])
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: repositoryRoot + "/docs/options.md", encoding: .utf8)))
    }

    /// A command that must fail before writing anything: exit 2, one line on stderr naming
    /// every `needles`, and no file in `dir` but the tree.
    func refused(_ arguments: [String], _ needles: [String], in dir: TemporaryDirectory) throws {
        let r = try run([stampBinary] + arguments)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("stamp: warning:") }
        #expect(r.status == 2, "\(arguments): \(r.output)")
        #expect(lines.count == 1, "\(arguments): \(r.stderr)")
        for needle in needles { #expect(r.stderr.contains(needle), "\(arguments): \(r.stderr)") }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "t" }
        #expect(left.isEmpty, "\(arguments) left \(left)")
    }

    func tree() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("stamp-settings")
        try FileManager.default.createDirectory(atPath: dir.file("t/etc"), withIntermediateDirectories: true)
        try "hi\n".write(toFile: dir.file("t/etc/motd"), atomically: false, encoding: .utf8)
        return dir
    }

    /// 2: every format `--help` offers is written; `vmdk-sparse` by `stamp build`'s checks too.
    @Test func everyOfferedFormatIsAccepted() throws {
        let dir = try tree()
        for format in OutputFormats.names where format != "ova" {
            let r = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("o-\(format)"), "-t", format, "--size", "64M"])
            #expect(r.status == 0, "\(format): \(r.output)")
        }
        let info = try run(["qemu-img", "info", "--output=json", dir.file("o-vmdk-sparse.vmdk")])
        #expect(info.stdout.contains("\"monolithicSparse\"") || info.stdout.contains("monolithicSparse"), "\(info.output)")
        // stamp build checks its settings before it needs root or elements: the format passes.
        let build = try run([stampBinary, "build", "-o", dir.file("b"), "-t", "vmdk-sparse,floppy", "e"])
        #expect(
            build.status == 2 && build.stderr.contains("'floppy'") && !build.stderr.contains("'vmdk-sparse'"), "\(build.output)")
        let plan = try run(
            [dibBinary, "-t", "vmdk-sparse", "-o", dir.file("p.vmdk"), "debian-minimal", "vm"],
            environment: ["STAMP_PLAN_ONLY": "1"])
        #expect(plan.status == 0 && plan.stdout.contains("outputs: \(dir.file("p.vmdk"))\n"), "\(plan.output)")
    }

    /// 3, 4: a value stamp does not know, and options that would be dropped, are refused.
    @Test func droppedOrUnknownOptionsAreRefused() throws {
        let dir = try tree()
        let t = dir.file("t")
        let o = dir.file("o")
        try "".write(toFile: dir.file("t/vm.yaml"), atomically: false, encoding: .utf8)
        try refused(
            ["pack", t, "-o", o, "-t", "ova", "--nic", "foo", "--controller", "bar"], ["--nic 'foo'", "--controller 'bar'"],
            in: dir)
        try refused(
            ["pack", t, "-o", o, "-t", "ova", "--cpus", "4", "--ovf-config", dir.file("t/vm.yaml")],
            ["--cpus conflicts with --ovf-config"], in: dir)
        try refused(
            ["pack", t, "-o", o, "-t", "ova", "--memory", "4096", "--ovf-config", dir.file("t/vm.yaml")],
            ["--memory conflicts with --ovf-config"], in: dir)
        try refused(
            ["pack", t, "-o", o, "--layout", "efi", "--block-device-config", dir.file("t/vm.yaml")],
            ["--layout conflicts with --block-device-config"], in: dir)
        try refused(
            ["pack", t, "-o", o, "-t", "raw", "--compress-qcow2"], ["--compress-qcow2 applies to qcow2 output only"], in: dir)
        try refused(["pack", t, "-o", o, "-t", "ova", "--sign-algorithm", "sha512"], ["--sign-algorithm needs --sign"], in: dir)
        try refused(["pack", t, "-o", o, "-t", "raw,raw"], ["format raw is given twice"], in: dir)
        try refused(["pack", t, "-o", o, "-t", "raw", "--cpus", "4"], ["--cpus applies to ova output only"], in: dir)
        // --fast chooses the compression level: raw and VHD are not compressed.
        try refused(
            ["pack", t, "-o", o, "-t", "raw,vhd", "--fast"], ["--fast applies to vmdk or ova or qcow2 output only"], in: dir)
        try refused(["build", "e", "-o", o, "-t", "raw", "--qcow2-compat", "0.10"], ["--qcow2-compat applies to qcow2"], in: dir)
    }

    /// convert, inspect and verify bind to the table too: every spelling they took still
    /// works (`-O` with qemu-img's names for the formats, `--qcow2-compat v2`), and what the
    /// table refuses is one line naming the option.
    @Test func imageToolsTakeTheTablesOptions() throws {
        let dir = try tree()
        let raw = dir.file("in.raw")
        try #require(try sh("truncate -s 4M '\(raw)' && printf stamp | dd of='\(raw)' bs=1 seek=65536 conv=notrunc").status == 0)
        let qcow2 = try run([stampBinary, "convert", raw, "-O", "QCOW2", dir.file("o.qcow2"), "--qcow2-compat", "v2", "-q"])
        #expect(qcow2.status == 0 && qcow2.stdout.isEmpty, "\(qcow2.output)")
        let info = try run(["qemu-img", "info", "--output=json", dir.file("o.qcow2")])
        #expect(info.stdout.contains("\"compat\": \"0.10\""), "\(info.output)")
        let vpc = try run([stampBinary, "convert", raw, "-O", "vpc", dir.file("o.vhd")])
        #expect(vpc.status == 0, "\(vpc.output)")
        let vhd = try run(["qemu-img", "info", "--output=json", dir.file("o.vhd")])
        #expect(vhd.stdout.contains("\"format\": \"vpc\""), "\(vhd.output)")
        let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", "vpc", raw, dir.file("o.vhd")])
        #expect(compare.status == 0, "\(compare.output)")
        let bad = try tree()  // the refusals write nothing here
        try refused(["convert", raw, "-O", "floppy", bad.file("x")], ["invalid -O 'floppy': use raw, qcow2"], in: bad)
        try refused(["convert", raw, "-O", "raw", bad.file("x"), "--disk", "0"], ["invalid --disk '0'"], in: bad)
        try refused(["convert", raw, "-O", "raw", bad.file("x"), "-q", "-v"], ["--quiet conflicts with --verbose"], in: bad)
        try refused(["inspect", raw, "--json", "-q"], ["--json conflicts with --quiet"], in: bad)
        try refused(["verify", bad.file("x.ova"), "--cert", ""], ["invalid --cert ''"], in: bad)
        let json = try run([stampBinary, "inspect", dir.file("o.qcow2"), "--json"])
        #expect(json.status == 0 && json.stdout.contains("\"virtual-size\": 4194304"), "\(json.output)")
    }

    /// 5: `-o disk.qcow2 -t qcow2` writes disk.qcow2, as disk-image-create does.
    @Test func anOutputNamedWithItsExtensionIsNotDoubled() throws {
        let dir = try tree()
        let r = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("disk.qcow2"), "-t", "qcow2", "--checksum"])
        #expect(r.status == 0, "\(r.output)")
        #expect(FileManager.default.fileExists(atPath: dir.file("disk.qcow2")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("disk.qcow2.qcow2")))
        #expect(FileManager.default.fileExists(atPath: dir.file("disk.qcow2.sha256")))
        let check = try run(["qemu-img", "check", "-f", "qcow2", dir.file("disk.qcow2")])
        #expect(check.status == 0, "\(check.output)")
    }

    /// 6: the guest OS default is the table's, in the descriptor a plain `-t ova` writes.
    @Test func theGuestOSDefaultIsTheTables() throws {
        let dir = try tree()
        let r = try run([
            stampBinary, "pack", dir.file("t"), "-o", dir.file("vm"), "-t", "ova", "--layout", "none", "--size", "64M",
        ])
        #expect(r.status == 0, "\(r.output)")
        let ovf = try run(["tar", "-xOf", dir.file("vm.ova"), "vm.ovf"])
        #expect(ovf.stdout.contains("vmw:osType=\"\(Settings.defaultGuestOS)\""), "\(ovf.output.prefix(3000))")
        #expect(ovf.stdout.contains("VmxNet3") && ovf.stdout.contains("VirtualSystem"), "\(ovf.output.prefix(3000))")
    }

    /// 8: the old spellings still work and warn, naming the new one.
    @Test func deprecatedSpellingsWarn() throws {
        let dir = try tree()
        let r = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("c"), "-t", "qcow2", "-c"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stderr == "stamp: warning: -c is deprecated in stamp pack; use --compress-qcow2\n", "\(r.stderr)")
        let map = try run(["qemu-img", "check", "--output=json", dir.file("c.qcow2")])
        #expect(
            map.stdout.contains("\"compressed-clusters\"") && !map.stdout.contains("\"compressed-clusters\": 0"), "\(map.output)")
        let old = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("x"), "--image-cache", dir.file("cache")])
        #expect(
            old.status == 2 && old.stderr.contains("--image-cache is deprecated in stamp pack; use --stamped-cache"),
            "\(old.output)")
        #expect(old.stderr.contains("stamp: --stamped-cache applies to container images"), "\(old.output)")
    }

    /// 9: hints that can be followed, and no guess that sends the user astray.
    @Test func hintsWork() throws {
        let dir = try tree()
        let quiet = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("q"), "--silent"])
        #expect(
            quiet.status == 2 && quiet.stderr == "stamp: unknown option '--silent' for stamp pack (see stamp pack --help)\n",
            "\(quiet.stderr)")
        let typo = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("q"), "--labl", "x"])
        #expect(typo.stderr.contains("did you mean '--label'?"), "\(typo.stderr)")
        let inspect = try run([stampBinary, "inspect", "--josn", dir.file("x")])
        #expect(
            inspect.stderr == "stamp: unknown option '--josn' for stamp inspect; did you mean '--json'?\n", "\(inspect.stderr)")
        let other = try run([stampBinary, "convert", "a", "-O", "raw", "b", "--silent"])
        #expect(
            other.stderr == "stamp: unknown option '--silent' for stamp convert (see stamp convert --help)\n", "\(other.stderr)")
        // Too few inodes at an explicit size: the hint names --inode-ratio, which pack takes.
        let many = try sh("mkdir -p \(dir.file("t"))/many && cd \(dir.file("t"))/many && touch $(seq 1 6000)")
        try #require(many.status == 0)
        let small = try run([stampBinary, "pack", dir.file("t"), "-o", dir.file("s"), "--size", "64M", "--layout", "none"])
        #expect(small.status != 0 && small.stderr.contains("--inode-ratio"), "\(small.output)")
        let followed = try run(
            [
                stampBinary, "pack", dir.file("t"), "-o", dir.file("s"), "--size", "64M", "--layout", "none", "--inode-ratio",
                "4096",
            ])
        #expect(followed.status == 0, "\(followed.output)")
        #expect(try strictFsck(dir.file("s.raw")) == [])
        // stamp convert has no -f: the hint for a container it cannot read says what to do instead.
        try Data("vhdxfile".utf8).write(to: URL(fileURLWithPath: dir.file("x.vhdx")))
        let convert = try run([stampBinary, "convert", dir.file("x.vhdx"), "-O", "raw", dir.file("x.raw")])
        #expect(
            convert.status != 0 && !convert.stderr.contains("-f raw") && convert.stderr.contains("qemu-img convert"),
            "\(convert.stderr)")
    }
}
