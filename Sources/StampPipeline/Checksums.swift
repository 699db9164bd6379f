import Crypto
import StampIO
import SystemPackage

/// md5 and sha256 of a file, in the format md5sum/sha256sum print.
public struct FileDigests: Sendable, Equatable {
    public var md5: String
    public var sha256: String

    /// Reads `path` once in 4 MiB chunks, feeding both digests.
    public static func of(path: String) throws -> FileDigests {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        var md5 = Insecure.MD5()
        var sha = SHA256()
        let buffer = IOBuffer(size: 4 << 20)
        var offset: Int64 = 0
        while true {
            let n = try withPath(path, "read") { try fd.read(fromAbsoluteOffset: offset, into: buffer.bytes) }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<n])
            md5.update(bufferPointer: chunk)
            sha.update(bufferPointer: chunk)
            offset += Int64(n)
        }
        return FileDigests(md5: hex(md5.finalize()), sha256: hex(sha.finalize()))
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }

    /// Writes `PATH.md5` and `PATH.sha256` (`<hex>  <basename>`), each replaced atomically.
    public func writeFiles(for path: String, algorithms: [String] = ["md5", "sha256"]) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        for algorithm in algorithms {
            let value = algorithm == "md5" ? md5 : sha256
            let file = try OutputFile(path: "\(path).\(algorithm)")
            let line = Array("\(value)  \(name)\n".utf8)
            try line.withUnsafeBytes { bytes in
                _ = try withPath(file.path, "write") { try file.descriptor.writeAll(toAbsoluteOffset: 0, bytes) }
            }
            try file.commit()
        }
    }
}
