#if canImport(Glibc)
    import Glibc
#endif

/// The whole contents of a small file an element ships (`element-deps`, `element-provides`,
/// `pkg-map`), read with plain `open`/`read`.
///
/// Not Foundation's `FileManager.contents(atPath:)` or `Data(contentsOf:)`: on Linux those
/// leak a 4 KiB buffer on every empty file (measured: 200,000 reads of an empty file grew
/// the process by 800 MB), which the element-deps fuzzer ran into within minutes.
enum SmallFile {
    /// The bytes of `path`, or nil when it cannot be opened or read.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { return result }
            result += chunk[0..<n]
        }
    }

    /// The file as UTF-8 text, or nil when it cannot be read or is not UTF-8.
    static func text(_ path: String) -> String? {
        read(path).flatMap { String(validating: $0, as: UTF8.self) }
    }
}
