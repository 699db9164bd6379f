// ova-compose: open-vmdk's ova-compose command line over stamp (`stamp ova-compose`).
//
// The same program as `stamp ova-compose ARGS`: OVACompose parses ova-compose's options
// (OVAComposeCommandLine), reads its YAML config, converts the disks it names and writes the
// .ova, .ovf or directory with ova-compose's descriptor, manifest and signature.
import Foundation
import StampIO
import StampPipeline

TemporaryFiles.shared.installSignalHandlers()
exit(OVACompose.main(Array(CommandLine.arguments.dropFirst()), program: "ova-compose"))
