import StampIO

/// Turns a producer's ascending `write`/`copy` calls into whole fixed-size chunks (VMDK
/// grains, qcow2 clusters, VHD blocks), skipping the chunks that are entirely zero.
///
/// ```
///  write(0..<700)  write(4096..<70000)  copy(file, 131072..<…)
///  ├──────── chunk 0 ────────┤├──────── chunk 1 ────────┤├── chunk 2 …
///  emit(0, 64 KiB: data, zero gaps filled)  emit(1, …)   (all-zero chunks: no call)
/// ```
///
/// A chunk is emitted once the stream has moved past it (or at ``finish()``), always
/// `chunkSize` bytes long: bytes never written, including those past the virtual size in
/// the last chunk, are zero.
final class ChunkAssembler {
    let chunkSize: Int
    let virtualSize: UInt64
    let path: String
    private let chunk: IOBuffer
    private let readBuffer = IOBuffer(size: 1 << 20)
    private var current: UInt64?  // index of the chunk being filled
    private var end: UInt64 = 0  // the end of the last write
    private let emit: (UInt64, UnsafeRawBufferPointer) throws -> Void

    /// - Parameters:
    ///   - emit: called with each non-zero chunk's index and bytes, in ascending order.
    init(
        chunkSize: Int, virtualSize: UInt64, path: String,
        emit: @escaping (UInt64, UnsafeRawBufferPointer) throws -> Void
    ) {
        self.chunkSize = chunkSize
        self.virtualSize = virtualSize
        self.path = path
        self.chunk = IOBuffer(size: chunkSize)
        self.emit = emit
    }

    func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        guard offset + UInt64(data.count) <= virtualSize else {
            throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: offset + UInt64(data.count))
        }
        let size = UInt64(chunkSize)
        var done = 0
        while done < data.count {
            let at = offset + UInt64(done)
            let index = at / size
            let within = Int(at % size)
            let n = min(chunkSize - within, data.count - done)
            let piece = UnsafeRawBufferPointer(rebasing: data[done..<(done + n)])
            if index != current { try flushCurrent() }
            if within == 0 && n == chunkSize {
                // A whole chunk: hand the producer's bytes over without copying.
                if !isAllZero(piece) { try emit(index, piece) }
            } else {
                if current == nil {
                    current = index
                    chunk.bytes.initializeMemory(as: UInt8.self, repeating: 0)
                }
                UnsafeMutableRawBufferPointer(rebasing: chunk.bytes[within..<(within + n)]).copyMemory(from: piece)
            }
            done += n
        }
        end = offset + UInt64(data.count)
    }

    func copy(_ range: SourceRange, at offset: UInt64) throws {
        try range.forEachChunk(buffer: readBuffer.bytes) { piece, at in try write(piece, at: offset + at) }
    }

    /// Emits the chunk being filled, if any.
    func finish() throws { try flushCurrent() }

    private func flushCurrent() throws {
        guard let index = current else { return }
        current = nil
        let bytes = UnsafeRawBufferPointer(chunk.bytes)
        if !isAllZero(bytes) { try emit(index, bytes) }
    }
}
