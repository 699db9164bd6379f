/// Every fuzz target, by the name its corpus directory (`Fuzz/corpus/<name>/`), its crash
/// reproducers (`Fuzz/crashes/<name>/`) and its libFuzzer executable (`fuzz-<name>`) use.
///
/// The functions never depend on libFuzzer: the normal build compiles them, the regression
/// tests (StampFuzzingTests) replay the corpus through them, and the `Fuzz/` package wraps
/// each in an `LLVMFuzzerTestOneInput`. Each must return for every input: thrown errors are
/// caught inside, a trap is a bug.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case qcow2
    case vmdk
    case vhd
    case partitionTable = "partition-table"
    case blockDevice = "block-device"
    case packageInstalls = "package-installs"
    case elementDeps = "element-deps"
    case dibCommandLine = "dib-command-line"
    case ovfConfig = "ovf-config"
    case grubFiles = "grub-files"

    /// Runs the target on one input.
    public func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .qcow2: fuzzQcow2(data)
        case .vmdk: fuzzVMDK(data)
        case .vhd: fuzzVHD(data)
        case .partitionTable: fuzzPartitionTable(data)
        case .blockDevice: fuzzBlockDevice(data)
        case .packageInstalls: fuzzPackageInstalls(data)
        case .elementDeps: fuzzElementDeps(data)
        case .dibCommandLine: fuzzDIBCommandLine(data)
        case .ovfConfig: fuzzOVFConfig(data)
        case .grubFiles: fuzzGrubFiles(data)
        }
    }
}
