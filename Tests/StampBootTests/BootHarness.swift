import Foundation
import StampBoot
import StampTestSupport

/// Helpers for the gated test that runs GRUB in a chroot of a real Debian root.
///
/// Enabled with `STAMP_BOOT_TESTS` set (scripts/test sets it in its boot phase), as root. The
/// root is the bootable bookworm tree of `scripts/debootstrap-root --with-kernel`, cached by
/// ``debianRoot()`` (the same tree the QEMU boots of StampPipelineTests.BootTests use).
enum BootHarness {
    static var enabled: Bool {
        ProcessInfo.processInfo.environment["STAMP_BOOT_TESTS"] != nil && getuid() == 0
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a command, returning stdout+stderr; throws with the output on a non-zero exit.
    @discardableResult
    static func run(_ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, output: String) {
        let result = try StampTestSupport.run(arguments)
        let output = result.output
        if result.status != 0 && !allowFailure {
            throw Failure(description: "\(arguments.joined(separator: " ")): status \(result.status)\n\(output)")
        }
        return (result.status, output)
    }

    /// A fresh copy of the cached root tree in a new temporary directory.
    static func extractTree() throws -> String {
        let root = try debianRoot()
        let directory = try run(["mktemp", "-d", "/var/tmp/stamp-boot-tree.XXXXXX"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try run(["cp", "-a", root + "/.", directory])
        return directory
    }

    static func remove(_ path: String) { _ = try? run(["rm", "-rf", "--one-file-system", path]) }

    /// Reads `count` bytes at `offset`.
    static func read(_ path: String, at offset: UInt64, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(description: "\(path): open failed") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard n == count else { throw Failure(description: "\(path): short read at \(offset)") }
        return out
    }

    /// Seconds elapsed while running `body`.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
