import CIsal

/// Intel ISA-L's igzip behind ``Compressor``: the fastest deflate on x86 (levels 0–3), used by
/// `--fast`. One stream and one level buffer per compressor, reused for every chunk through
/// the stateless (whole-buffer) API. Unlike libdeflate, igzip can limit its window
/// (`hist_bits`), so it also writes qcow2's raw deflate with a 4 KiB window.
public final class IsalCompressor: Compressor {
    public let format: CompressionFormat
    public let level: Int
    private var stream: UnsafeMutablePointer<isal_zstream>?
    private let levelBuffer: UnsafeMutableRawBufferPointer

    /// - Parameter level: 0 (fastest) … 3.
    public init(level: Int, format: CompressionFormat) throws(CompressionError) {
        guard (0...3).contains(level) else { throw .unsupported("isa-l level \(level) (0...3)") }
        if case .deflate(let bits) = format, !(8...15).contains(bits) {
            throw .unsupported("isa-l deflate window 2^\(bits) (2^8 ... 2^15)")
        }
        self.format = format
        self.level = level
        let size = Int(CIsal_levelBufferSize(Int32(level)))
        levelBuffer = .allocate(byteCount: max(size, 1), alignment: 16)
        stream = .allocate(capacity: 1)
    }

    public func maximumCompressedSize(for count: Int) -> Int { count + count / 16 + 1024 }

    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(CompressionError) -> Int?
    {
        guard let s = stream else { throw .unsupported("compressor used after close") }
        guard let outBase = output.baseAddress, output.count > 0 else { return nil }
        isal_deflate_stateless_init(s)
        s.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        s.pointee.avail_in = UInt32(input.count)
        s.pointee.next_out = outBase.assumingMemoryBound(to: UInt8.self)
        s.pointee.avail_out = UInt32(min(output.count, Int(UInt32.max)))
        s.pointee.level = UInt32(level)
        s.pointee.level_buf = level > 0 ? levelBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self) : nil
        s.pointee.level_buf_size = level > 0 ? UInt32(levelBuffer.count) : 0
        s.pointee.end_of_stream = 1
        s.pointee.gzip_flag = format == .zlib ? CIsal_zlibFlag() : 0
        if case .deflate(let bits) = format { s.pointee.hist_bits = UInt16(bits) }
        let rc = isal_deflate_stateless(s)
        if rc == CIsal_overflow() { return nil }
        guard rc == 0 else { throw .compressionFailed(backend: .isal, code: rc) }
        return Int(s.pointee.total_out)
    }

    /// Frees the stream now; later calls to ``compress(_:into:)`` throw.
    public func close() {
        guard let s = stream else { return }
        stream = nil
        s.deallocate()
    }

    deinit {
        close()
        levelBuffer.deallocate()
    }
}
