import ArgumentParser
import Foundation
import StampElements
import StampIO

/// `stamp`: a hypervisor-free disk image assembler.
@main
struct Stamp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp",
        abstract: "Assemble disk images from root trees, natively: no loop device, no mount, no mkfs, no VM.",
        discussion: """
            stamp writes ext4 filesystems, partition tables, boot code and disk containers
            (raw, qcow2, VMDK, VHD, OVA) itself, streaming each image in one pass.
            """,
        version: "0.1.0",
        subcommands: [Pack.self, Mkfs.self, Convert.self, Inspect.self, Verify.self, Build.self, Elements.self, Images.self])

    /// Runs the command; every failure ends in one line on stderr and a non-zero status.
    static func main() {
        Sandbox.runIfRequested()  // a hidden re-execution from an element stage (Sandbox.swift)
        TemporaryFiles.shared.installSignalHandlers()
        do {
            var command = try parseAsRoot()
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
        return parserMessage.split(separator: "\n").first.map(String.init) ?? parserMessage
    }
}
