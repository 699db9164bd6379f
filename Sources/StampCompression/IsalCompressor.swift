import CIsal

/// Intel ISA-L's igzip behind ``Compressor``: the fastest deflate on x86 (levels 0–3), used by
/// `--fast`. One stream and one level buffer per compressor, reused for every chunk through
/// the stateless (whole-buffer) API. Unlike libdeflate, igzip can limit its window
/// (`hist_bits`), so it also writes qcow2's raw deflate with a 4 KiB window.
///
/// Level 0 encodes with one fixed Huffman code (``IsalTrainedCode``, built once per
/// compressor) instead of ISA-L's generic default; levels 1–3 build a code per chunk.
public final class IsalCompressor: Compressor {
    public let format: CompressionFormat
    public let level: Int
    private var stream: UnsafeMutablePointer<isal_zstream>?
    private let levelBuffer: UnsafeMutableRawBufferPointer
    /// Level 0's code table (nil at levels 1–3, which build their own per chunk).
    private let table: UnsafeMutablePointer<isal_hufftables>?

    /// - Parameter level: 0 (fastest) … 3.
    public init(level: Int, format: CompressionFormat) throws(CompressionError) {
        guard (0...3).contains(level) else { throw .unsupported("isa-l level \(level) (0...3)") }
        guard (9...15).contains(format.windowBits) else {
            throw .unsupported("isa-l deflate window 2^\(format.windowBits) (2^9 ... 2^15)")
        }
        self.format = format
        self.level = level
        let size = Int(CIsal_levelBufferSize(Int32(level)))
        table = level == 0 ? try IsalTrainedCode.makeTable() : nil
        levelBuffer = .allocate(byteCount: max(size, 1), alignment: 16)
        stream = .allocate(capacity: 1)
    }

    public func maximumCompressedSize(for count: Int) -> Int { count + count / 16 + 1024 }

    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(CompressionError) -> Int?
    {
        guard case .zlib(let bits) = format, bits < 15 else { return try deflate(input, into: output) }
        // igzip's own zlib header always claims a 32 KiB window: frame the raw data here.
        let h = ZlibFrame.headerSize
        let t = ZlibFrame.trailerSize
        guard output.count > h + t,
            let n = try deflate(input, into: UnsafeMutableRawBufferPointer(rebasing: output[h..<(output.count - t)]))
        else { return nil }
        (output[0], output[1]) = ZlibFrame.header(windowBits: bits, level: level)
        let adler = isal_adler32(1, input.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(input.count))
        for i in 0..<4 { output[h + n + i] = UInt8(truncatingIfNeeded: adler >> (24 - 8 * i)) }
        return h + n + t
    }

    /// One whole-buffer igzip call: zlib framing with a 32 KiB window, or raw deflate with
    /// `hist_bits` limiting the window.
    private func deflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(CompressionError) -> Int?
    {
        guard let s = stream else { throw .unsupported("compressor used after close") }
        guard let outBase = output.baseAddress, output.count > 0 else { return nil }
        isal_deflate_stateless_init(s)  // also selects ISA-L's default code
        if let table {
            let rc = isal_deflate_set_hufftables(s, table, CIsal_customTables())
            guard rc == 0 else { throw .compressionFailed(backend: .isal, code: rc) }
        }
        s.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        s.pointee.avail_in = UInt32(input.count)
        s.pointee.next_out = outBase.assumingMemoryBound(to: UInt8.self)
        s.pointee.avail_out = UInt32(min(output.count, Int(UInt32.max)))
        s.pointee.level = UInt32(level)
        s.pointee.level_buf = level > 0 ? levelBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self) : nil
        s.pointee.level_buf_size = level > 0 ? UInt32(levelBuffer.count) : 0
        s.pointee.end_of_stream = 1
        s.pointee.gzip_flag = format == .zlib(windowBits: 15) ? CIsal_zlibFlag() : 0
        s.pointee.hist_bits = UInt16(format.windowBits)
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
        table?.deallocate()
    }
}
