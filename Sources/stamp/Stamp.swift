import ArgumentParser
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
        subcommands: [Mkfs.self])

    static func main() {
        TemporaryFiles.shared.installSignalHandlers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch {
            if "\(type(of: error))".contains("CommandError") || "\(type(of: error))".contains("ParserError") {
                exit(withError: error)
            }
            FileStream.standardError.write("stamp: \(error)\n")
            Foundation_exit(1)
        }
    }
}
