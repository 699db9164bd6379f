import ArgumentParser
import Foundation
import StampElements
import StampPipeline
import StampIO
import StampConfig

/// `stamp`: a hypervisor-free disk image assembler.
@main
struct Stamp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp",
        abstract: "Assemble disk images from root trees, natively: no loop device, no mount, no mkfs, no VM.",
        discussion: """
            stamp writes ext4 filesystems, partition tables, boot code and disk containers \
            (raw, qcow2, VMDK, VHD, OVA) itself, streaming each image in one pass.

            Every command takes -q (errors only) and -v (more detail), and --version. Manual \
            pages: man stamp-COMMAND; shell completions: stamp --generate-completion-script \
            bash|zsh|fish (docs/cli.md).
            """,
        version: StampVersion.number(describe: gitDescribe, commits: gitCommitCount),
        subcommands: [
            Pack.self, Mkfs.self, Convert.self, Inspect.self, Verify.self, Build.self, Elements.self, Images.self, Options.self,
            OVAComposeCommand.self,
        ])

    /// The command line after deprecated spellings were rewritten (``Settings/rewriteDeprecated``),
    /// program name first: what a re-executed stamp is given, so that it warns no second time.
    nonisolated(unsafe) static var arguments = CommandLine.arguments

    /// The front end of the subcommand named first on the command line, if it takes settings.
    static var frontEnd: FrontEnd? {
        CommandLine.arguments.dropFirst().first.flatMap { FrontEnd(rawValue: $0) }.flatMap { $0 == .dib ? nil : $0 }
    }

    /// Runs the command; every failure ends in one line on stderr and a non-zero status.
    static func main() {
        Sandbox.runIfRequested()  // a hidden re-execution from an element stage (Sandbox.swift)
        TemporaryFiles.shared.installSignalHandlers()
        var words = Array(CommandLine.arguments.dropFirst())
        if words.first == "ova-compose" {
            // ova-compose's own (getopt) command line, not ArgumentParser's: see OVAComposeCommand.
            Foundation_exit(OVACompose.main(Array(words.dropFirst()), program: "stamp ova-compose"))
        }
        if let frontEnd, !words.isEmpty {
            let (rewritten, warnings) = Settings.rewriteDeprecated(Array(words.dropFirst()), on: frontEnd)
            for warning in warnings { FileStream.standardError.write("stamp: warning: \(warning)\n") }
            words = [words[0]] + rewritten
            arguments = [CommandLine.arguments[0]] + words
        }
        do {
            var command = try parseAsRoot(words)
            try command.run()
        } catch let error as CleanExit {
            exit(withError: error)  // --help, --version
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            // An output whose rename failed is still registered: nothing may stay behind.
            TemporaryFiles.shared.removeAll()
            let message = "\(error)" == "" ? Stamp.message(for: error) : messageLine(error)
            FileStream.standardError.write("stamp: \(message)\n")
            Foundation_exit(code == .validationFailure ? 2 : 1)
        }
    }

    /// One line for any error: ArgumentParser's message without the usage text, Foundation's
    /// errors as `path: reason`, or the error's own description folded onto one line.
    private static func messageLine(_ error: Error) -> String {
        if error is CocoaError || error is POSIXError { return ErrorLine.describe(error) }
        let parserMessage = Stamp.message(for: error)
        if parserMessage.isEmpty || parserMessage == "\(error)" { return ErrorLine.describe(error) }
        let line = parserMessage.split(separator: "\n").first.map(String.init) ?? parserMessage
        return unknownOptionLine(line) ?? line
    }

    /// ArgumentParser's "Unknown option '--x'. Did you mean '--y'?" with stamp's own, stricter
    /// suggestion (a typo of an accepted name, from the settings table), or none: a wrong
    /// guess sends the user further astray than no guess.
    static func unknownOptionLine(_ line: String) -> String? {
        guard line.hasPrefix("Unknown option '"), let end = line.dropFirst(16).firstIndex(of: "'") else { return nil }
        let option = String(line[line.index(line.startIndex, offsetBy: 16)..<end])
        let named = CommandLine.arguments.dropFirst().first.flatMap { word in
            configuration.subcommands.first { $0._commandName == word }.map { _ in "stamp \(word)" }
        }
        let command = frontEnd.map(\.command) ?? named ?? "stamp"
        if let frontEnd, let guess = Settings.suggestion(for: option, on: frontEnd) {
            return "unknown option '\(option)' for \(command); did you mean '\(guess)'?"
        }
        // A command outside the table: ArgumentParser's guess, kept only when it is a typo.
        if frontEnd == nil, let start = line.range(of: "Did you mean '")?.upperBound,
            let end = line[start...].firstIndex(of: "'"), Settings.isTypo(option, of: String(line[start..<end]))
        {
            return "unknown option '\(option)' for \(command); did you mean '\(line[start..<end])'?"
        }
        return "unknown option '\(option)' for \(command) (see \(command) --help)"
    }
}

/// `stamp ova-compose`: open-vmdk's ova-compose (its options, config and output files). Its
/// command line is ova-compose's, parsed by ``OVAComposeCommandLine`` before ArgumentParser
/// sees it (``Stamp/main()``); this type only lists it in `stamp --help`.
struct OVAComposeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ova-compose",
        abstract: "Write an OVA, OVF or directory from an ova-compose YAML config (open-vmdk's command line; -h for it).")

    @Argument(parsing: .captureForPassthrough) var words: [String] = []

    func run() throws {
        Foundation_exit(OVACompose.main(words, program: "stamp ova-compose"))
    }
}

/// `stamp options`: the settings table as the option reference (docs/options.md).
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the option reference of every command, generated from the settings table (docs/options.md).")

    @Flag(help: "Markdown, as docs/options.md holds it.") var markdown = false

    func run() throws {
        print(Settings.optionReference(), terminator: "")
    }
}
