import Foundation
import StampBoot
import StampTestSupport

/// Helpers for the gated tests that run GRUB in a chroot and boot images under QEMU.
///
/// Enabled with `STAMP_BOOT_TESTS=1` (as root). The Debian root comes from
/// `Tests/tools/boot/make_root.sh $STAMP_BOOT_CACHE` (default `/var/tmp/stamp-boot-cache`),
/// which debootstraps it once and keeps a tarball.
enum BootHarness {
    static var enabled: Bool {
        ProcessInfo.processInfo.environment["STAMP_BOOT_TESTS"] == "1" && getuid() == 0
    }

    static let tools: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/boot").path
    }()

    static var cache: String {
        ProcessInfo.processInfo.environment["STAMP_BOOT_CACHE"] ?? "/var/tmp/stamp-boot-cache"
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
        let tarball = try run([tools + "/make_root.sh", cache]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = try run(["mktemp", "-d", "/var/tmp/stamp-boot-tree.XXXXXX"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try run(["tar", "--numeric-owner", "--xattrs", "--acls", "-xpf", tarball, "-C", directory])
        return directory
    }

    static func remove(_ path: String) { _ = try? run(["rm", "-rf", "--one-file-system", path]) }

    /// Writes `bytes` at byte `offset` of the file at `path` (which must exist).
    static func write(_ bytes: [UInt8], to path: String, at offset: UInt64) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw Failure(description: "\(path): open failed") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw Failure(description: "\(path): short write at \(offset)") }
    }

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

    /// Writes the ESP files under `directory` (created), as the FAT writer will place them.
    static func writeESP(_ files: [ESPFile], into directory: String) throws {
        for file in files {
            let path = directory + "/" + file.path
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(file.bytes).write(to: URL(fileURLWithPath: path))
        }
    }

    /// Seconds elapsed while running `body`.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
