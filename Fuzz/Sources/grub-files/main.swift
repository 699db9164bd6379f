import CFuzzDriver
import Glibc
import StampFuzzing

/// One input through `FuzzTarget.grubFiles` (see StampFuzzing); libFuzzer calls it per input.
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.grubFiles.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// SwiftPM links an executable with its entry point renamed, so libFuzzer's own `main` never
// runs: this top-level code starts libFuzzer's driver with the process's arguments instead.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, { fuzzOneInput($0, $1) }))
