import Crypto
import StampIO
import StampPackaging
import SystemPackage

extension Digests {
    /// MD5 and SHA-256 of a finished file, read once in 4 MiB chunks (used for outputs that
    /// their writers patch after streaming: qcow2, monolithicSparse VMDK, dynamic VHD).
    public static func of(path: String, hashing: HashingObserver = HashingObserver()) throws -> Digests {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        let buffer = IOBuffer(size: 4 << 20)
        var offset: Int64 = 0
        while true {
            let n = try withPath(path, "read") { try fd.read(fromAbsoluteOffset: offset, into: buffer.bytes) }
            if n == 0 { break }
            hashing.update(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<n]))
            offset += Int64(n)
        }
        return hashing.finalize()
    }
}
