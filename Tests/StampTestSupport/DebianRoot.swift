import Foundation

/// The cached debootstrap'd bookworm root with a kernel (built once per machine).
///
/// Suites of the boot phase run in parallel (QEMU guests take turns through boot_test.sh's
/// lock), so the first use is serialized by an exclusive `flock` on `roots/.lock`: one caller
/// builds the root, the others wait and then find it complete.
public func debianRoot() throws -> String {
    let cache = ProcessInfo.processInfo.environment["STAMP_CACHE"] ?? (NSHomeDirectory() + "/.cache/stamp")
    let root = cache + "/roots/bookworm-kernel"
    let marker = cache + "/roots/.bookworm-kernel-complete"
    try FileManager.default.createDirectory(atPath: cache + "/roots", withIntermediateDirectories: true)
    let lock = open(cache + "/roots/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    guard lock >= 0 else { throw DebianRootError(output: "\(cache)/roots/.lock: \(String(cString: strerror(errno)))") }
    defer { close(lock) }
    while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
    if FileManager.default.fileExists(atPath: marker) { return root }
    try? FileManager.default.removeItem(atPath: root)
    let r = try run(["bash", repositoryRoot + "/scripts/debootstrap-root", root, "--with-kernel"])
    guard r.status == 0 else { throw DebianRootError(output: r.output) }
    guard FileManager.default.createFile(atPath: marker, contents: nil) else {
        throw DebianRootError(output: "cannot create \(marker)")
    }
    return root
}

public struct DebianRootError: Error, CustomStringConvertible {
    public var output: String
    public var description: String { "debootstrap-root failed: \(output.suffix(2000))" }
}
