import Foundation
import StampTestSupport
import StampFAT
import StampIO

/// Runs an outside validator (they exit 0 even on problems: callers parse the output).
func run(_ tool: String, _ arguments: [String]) throws -> CommandResult {
    try StampTestSupport.run([tool] + arguments)
}

func readFile(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Deterministic pseudo-random bytes.
func pattern(_ count: Int, seed: UInt32) -> [UInt8] {
    var x = seed | 1
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        return UInt8(truncatingIfNeeded: x)
    }
}
