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
        Syscalls.adviseSequential(fd)
        // Two buffers: MD5 and SHA-256 of one (each on its own thread) while the next is read.
        let buffers = [IOBuffer(size: 4 << 20), IOBuffer(size: 4 << 20)]
        var offset: Int64 = 0
        func read(into buffer: IOBuffer) -> Result<Int, Error> {
            Result { try withPath(path, "read") { try fd.read(fromAbsoluteOffset: offset, into: buffer.bytes) } }
        }
        var current = 0
        var n = try read(into: buffers[current]).get()
        while n > 0 {
            offset += Int64(n)
            var next: Result<Int, Error> = .success(0)
            hashing.update(UnsafeRawBufferPointer(rebasing: buffers[current].bytes[0..<n])) {
                next = read(into: buffers[1 - current])
            }
            n = try next.get()
            current = 1 - current
        }
        return hashing.finalize()
    }
}
