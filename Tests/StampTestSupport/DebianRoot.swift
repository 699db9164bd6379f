import Foundation

/// The cached debootstrap'd bookworm root with a kernel (built once per machine).
public func debianRoot() throws -> String {
    let cache = ProcessInfo.processInfo.environment["STAMP_CACHE"] ?? (NSHomeDirectory() + "/.cache/stamp")
    let root = cache + "/roots/bookworm-kernel"
    let marker = cache + "/roots/.bookworm-kernel-complete"
    if FileManager.default.fileExists(atPath: marker) { return root }
    try? FileManager.default.removeItem(atPath: root)
    let r = try run(["bash", repositoryRoot + "/scripts/debootstrap-root", root, "--with-kernel"])
    guard r.status == 0 else { throw DebianRootError(output: r.output) }
    FileManager.default.createFile(atPath: marker, contents: nil)
    return root
}

public struct DebianRootError: Error, CustomStringConvertible {
    public var output: String
    public var description: String { "debootstrap-root failed: \(output.suffix(2000))" }
}
