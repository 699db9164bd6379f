import Foundation
import Testing

import StampTestSupport

/// The command line as a user of its neighbours (mke2fs, qemu-img, git) expects it (issue 22):
/// help that reads at 80 columns, one version number everywhere, `-q` and `-v` on every
/// command, shell completions that complete file names and value lists.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct CommandLineTests {
    /// Every subcommand of `stamp`.
    static let commands = ["pack", "mkfs", "convert", "inspect", "verify", "build", "elements", "images", "options"]

    /// `COLUMNS=80 stamp COMMAND --help`: no line is wider than 80 columns.
    @Test(arguments: [""] + commands)
    func helpFitsEightyColumns(command: String) throws {
        let r = try run([stampBinary] + (command.isEmpty ? [] : [command]) + ["--help"], environment: ["COLUMNS": "80"])
        #expect(r.status == 0, "\(r.output)")
        let wide = r.stdout.split(separator: "\n").filter { $0.count > 80 }
        #expect(wide.isEmpty, "stamp \(command) --help, lines over 80 columns:\n\(wide.joined(separator: "\n"))")
    }

    /// disk-image-create's usage text too (DIB's, written from the settings table).
    @Test func dibUsageFitsEightyColumns() throws {
        let r = try run([dibBinary, "--help"], environment: ["COLUMNS": "80"])
        #expect(r.status == 0, "\(r.output)")
        let wide = r.stdout.split(separator: "\n").filter { $0.count > 80 }
        #expect(wide.isEmpty, "disk-image-create --help, lines over 80 columns:\n\(wide.joined(separator: "\n"))")
    }

    /// The texts as the parser holds them (`--experimental-dump-help`, what the manual pages
    /// are made of): an abstract is one line, and a discussion or an argument's help breaks a
    /// line only between paragraphs or before an indented one (an example, a list). A newline
    /// inside a sentence would be wrapped again by the help and the manual page, leaving a
    /// short line in the middle of a paragraph at any width.
    @Test func helpTextsAreNotHardWrapped() throws {
        let r = try run([stampBinary, "--experimental-dump-help"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var problems: [String] = []
        func check(_ text: String, _ place: String) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (a, b) in zip(lines, lines.dropFirst()) where !a.isEmpty && !b.isEmpty && !b.hasPrefix(" ") {
                problems.append("\(place): a line break inside a paragraph: '\(a.suffix(40))⏎\(b.prefix(40))'")
            }
        }
        func visit(_ command: [String: Any], _ name: String) {
            let abstract = command["abstract"] as? String ?? ""
            if abstract.contains("\n") { problems.append("\(name): the abstract has a line break") }
            check(command["discussion"] as? String ?? "", "\(name) discussion")
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                check(argument["abstract"] as? String ?? "", "\(name) \(names.joined(separator: "/"))")
                check(argument["discussion"] as? String ?? "", "\(name) \(names.joined(separator: "/"))")
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                visit(sub, name + " " + (sub["commandName"] as? String ?? "?"))
            }
        }
        visit(try #require(doc["command"] as? [String: Any]), "stamp")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// `stamp build` runs without root (an ordinary user builds in a user namespace of their
    /// own): its help must not say otherwise.
    @Test func buildHelpDoesNotAskForRoot() throws {
        let r = try run([stampBinary, "build", "--help"], environment: ["COLUMNS": "200"])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.stdout.lowercased().contains("needs root"), "\(r.stdout)")
        #expect(r.stdout.contains("user namespace"), "\(r.stdout)")
    }

    /// `--version` on every command, disk-image-create's included, prints the same number
    /// alone (`X.Y.Z`, or `X.Y.Z.devN` between releases, as pbr numbers DIB's own builds).
    @Test func everyCommandPrintsTheSameVersionNumber() throws {
        let dib = try run([dibBinary, "--version"])
        #expect(dib.status == 0 && dib.stderr.isEmpty, "\(dib.output)")
        #expect(
            dib.stdout.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+(\.dev[0-9]+)?\n$"#, options: .regularExpression) != nil,
            "\(dib.stdout)")
        for command in [""] + Self.commands {
            let r = try run([stampBinary] + (command.isEmpty ? [] : [command]) + ["--version"])
            #expect(r.status == 0 && r.stdout == dib.stdout, "stamp \(command) --version: \(r.output)")
        }
    }

    /// `-q`/`--quiet` and `-v`/`--verbose` in every command's help, and given together they
    /// are refused in one line naming them.
    @Test(arguments: [
        ["pack", "t", "-o", "out"], ["mkfs", "t", "fs.ext4"], ["convert", "in", "-O", "raw", "out"], ["inspect", "in"],
        ["verify", "in.ova"], ["build", "e", "-o", "out"], ["elements", "vm"], ["images"],
    ])
    func everyCommandTakesQuietAndVerbose(command: [String]) throws {
        let help = try run([stampBinary, command[0], "--help"], environment: ["COLUMNS": "200"])
        let names = SettingsCLITests.helpNames(help.stdout)
        #expect(["-q", "--quiet", "-v", "--verbose"].allSatisfy(names.contains), "stamp \(command[0]): \(names.sorted())")
        let both = try run([stampBinary] + command + ["-q", "-v"])
        let lines = both.stderr.split(separator: "\n")
        #expect(both.status != 0 && lines.count == 1 && both.stderr.contains("choose one of -q and -v"), "\(both.output)")
    }

    /// A small tree for the commands that write.
    static func tree(_ dir: TemporaryDirectory) throws -> String {
        let tree = dir.file("t")
        try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
        try String(repeating: "stamp\n", count: 100_000).write(toFile: tree + "/etc/data", atomically: false, encoding: .utf8)
        return tree
    }

    /// What -q and -v change: pack's log lines go with -q and gain sizes and a time with -v;
    /// mkfs and convert say what they wrote with -v and nothing with -q; inspect and verify
    /// print nothing with -q, their exit status still telling.
    @Test func quietAndVerboseChangeWhatIsPrinted() throws {
        let dir = try TemporaryDirectory("stamp-cli-levels")
        defer { dir.cleanup() }
        let tree = try Self.tree(dir)
        let pack = [stampBinary, "pack", tree, "--layout", "none", "-t", "raw"]
        let plain = try run(pack + ["-o", dir.file("a")])
        #expect(plain.status == 0 && plain.stdout.contains("wrote \(dir.file("a.raw"))"), "\(plain.output)")
        let quiet = try run(pack + ["-o", dir.file("b"), "-q"])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty, "\(quiet.output)")
        let verbose = try run(pack + ["-o", dir.file("c"), "-v"])
        #expect(
            verbose.status == 0 && verbose.stdout.contains("allocated") && verbose.stdout.contains("done in"), "\(verbose.output)"
        )

        let mkfs = try run([stampBinary, "mkfs", tree, dir.file("fs.ext4"), "-q"])
        #expect(mkfs.status == 0 && mkfs.output.isEmpty, "\(mkfs.output)")
        let convert = try run([stampBinary, "convert", dir.file("a.raw"), "-O", "qcow2", dir.file("a.qcow2"), "-v"])
        #expect(convert.status == 0 && convert.stdout.contains("wrote \(dir.file("a.qcow2"))"), "\(convert.output)")
        let quietConvert = try run([stampBinary, "convert", dir.file("a.raw"), "-O", "vhd", dir.file("a.vhd"), "-q"])
        #expect(quietConvert.status == 0 && quietConvert.output.isEmpty, "\(quietConvert.output)")

        let inspect = try run([stampBinary, "inspect", dir.file("a.qcow2"), "-q"])
        #expect(inspect.status == 0 && inspect.output.isEmpty, "\(inspect.output)")
        let inspectVerbose = try run([stampBinary, "inspect", dir.file("a.qcow2"), "-v"])
        #expect(inspectVerbose.status == 0 && inspectVerbose.stdout.contains("cluster size: 65536"), "\(inspectVerbose.output)")
        let elements = try run([stampBinary, "elements", "debian-minimal", "vm", "-q"])
        #expect(elements.status == 0 && elements.stdout.split(separator: "\n").contains("vm"), "\(elements.output)")
        #expect(!elements.stdout.contains("/"), "-q lists names only: \(elements.stdout)")
    }
}

/// Shell completions (`stamp --generate-completion-script bash`), run in bash as bash runs
/// them on TAB: option values from the settings table (choices, output formats one comma at a
/// time, files, directories), subcommands, files for image arguments.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("bash")))
struct CompletionTests {
    /// The candidates bash offers for the last word of `words` (the word being typed, maybe
    /// empty), in `directory`: the generated function called as bash calls it on TAB.
    func complete(_ words: [String], script: String, in directory: String) throws -> [String] {
        let program = """
            cd "$WORKDIR" && source "$1" && shift
            COMP_WORDS=("$@")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"
            COMP_POINT=${#COMP_LINE}
            _stamp stamp "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let r = try run(["bash", "-c", program, "bash", script, stampBinary] + words, environment: ["WORKDIR": directory])
        #expect(r.status == 0, "\(words): \(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test func bashCompletesValuesAndFiles() throws {
        let dir = try TemporaryDirectory("stamp-completion")
        defer { dir.cleanup() }
        let generated = try run([stampBinary, "--generate-completion-script", "bash"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let script = dir.file("stamp.bash")
        try generated.stdout.write(toFile: script, atomically: true, encoding: .utf8)
        let syntax = try run(["bash", "-n", script])
        #expect(syntax.status == 0, "\(syntax.output)")
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work + "/rootfs", withIntermediateDirectories: true)
        for name in ["disk.qcow2", "layout.yaml"] { FileManager.default.createFile(atPath: work + "/" + name, contents: Data()) }

        #expect(try complete([""], script: script, in: work).contains("pack"))
        #expect(try complete(["pack", "--layout", ""], script: script, in: work) == ["efi", "gpt", "mbr", "none"])
        #expect(try complete(["pack", "--qcow2-compat", ""], script: script, in: work) == ["0.10", "1.1"])
        #expect(
            try complete(["pack", "-t", "qcow2,v"], script: script, in: work) == [
                "qcow2,vhd", "qcow2,vhd-fixed", "qcow2,vmdk", "qcow2,vmdk-sparse",
            ])
        #expect(try complete(["pack", "-t", "vmdk,vm"], script: script, in: work) == [], "one file per extension")
        #expect(try complete(["convert", "disk.qcow2", "-O", "vh"], script: script, in: work) == ["vhd", "vhd-fixed"])
        #expect(try complete(["pack", "--block-device-config", "lay"], script: script, in: work) == ["layout.yaml"])
        #expect(try complete(["inspect", "d"], script: script, in: work) == ["disk.qcow2"])
        #expect(try complete(["mkfs", "r"], script: script, in: work) == ["rootfs"])
        #expect(try complete(["build", "--download-cache", ""], script: script, in: work) == ["rootfs"])
        #expect(try complete(["build", "debian-m"], script: script, in: work) == ["debian-minimal"])
        #expect(try complete(["images", ""], script: script, in: work).starts(with: ["list", "prune"]))
    }

    /// zsh and fish scripts are generated too (scripts/install puts them where those shells
    /// look); each names the formats list.
    @Test func zshAndFishScriptsAreGenerated() throws {
        for shell in ["zsh", "fish"] {
            let r = try run([stampBinary, "--generate-completion-script", shell])
            #expect(r.status == 0 && r.stdout.contains("gpt"), "\(shell): \(r.stderr)")
        }
    }
}
