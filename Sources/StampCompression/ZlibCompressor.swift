import CZlib

/// zlib's deflate behind ``Compressor``: one `z_stream`, reset for every chunk.
///
/// The `z_stream` lives at a fixed heap address (zlib keeps a back pointer to it), is
/// created in `init` and freed by ``close()`` or `deinit`, whichever comes first.
public final class ZlibCompressor: Compressor {
    public let format: CompressionFormat
    public let level: Int
    private var stream: UnsafeMutablePointer<z_stream>?

    /// - Parameters:
    ///   - level: 1 (fastest) … 9 (smallest); 6 is zlib's default.
    ///   - format: zlib framing or raw deflate with a given window.
    public init(level: Int, format: CompressionFormat) throws(CompressionError) {
        guard (1...9).contains(level) else { throw .unsupported("zlib level \(level) (1...9)") }
        let windowBits: Int32
        switch format {
        case .zlib(let bits):
            guard (9...15).contains(bits) else { throw .unsupported("zlib window of 2^\(bits) bytes") }
            windowBits = Int32(bits)
        case .deflate(let bits):
            guard (9...15).contains(bits) else { throw .unsupported("deflate window of 2^\(bits) bytes") }
            // zlib turns a raw 256-byte window request into 512 bytes; 9 is the floor.
            windowBits = -Int32(bits)
        }
        self.format = format
        self.level = level
        let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        s.initialize(to: z_stream())
        let code = CZlib_deflateInit2(s, Int32(level), Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY)
        guard code == Z_OK else {
            s.deallocate()
            throw .initializationFailed(backend: .zlib, code: code)
        }
        stream = s
    }

    public func maximumCompressedSize(for count: Int) -> Int {
        // deflateBound for a fresh stream, plus room for the zlib header and trailer.
        guard let stream else { return count + count / 1000 + 64 }
        return Int(deflateBound(stream, UInt(count))) + 16
    }

    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(CompressionError) -> Int?
    {
        guard let stream else { throw .unsupported("compressor used after close") }
        guard output.count > 0, let outBase = output.baseAddress else { return nil }
        let reset = deflateReset(stream)
        guard reset == Z_OK else { throw .compressionFailed(backend: .zlib, code: reset) }
        // zlib's API is not const-correct; it never writes through next_in.
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        let code = deflate(stream, Z_FINISH)
        switch code {
        case Z_STREAM_END: return output.count - Int(stream.pointee.avail_out)
        case Z_OK, Z_BUF_ERROR: return nil  // ran out of output space
        default: throw .compressionFailed(backend: .zlib, code: code)
        }
    }

    /// Frees the zlib state now; later calls to ``compress(_:into:)`` throw.
    /// - Throws: if zlib reports the state inconsistent (it is freed all the same).
    public func close() throws(CompressionError) {
        guard let s = stream else { return }
        stream = nil
        let code = deflateEnd(s)
        s.deallocate()
        // Z_DATA_ERROR only says the last chunk did not fit (it was abandoned): not a failure.
        guard code == Z_OK || code == Z_DATA_ERROR else { throw .compressionFailed(backend: .zlib, code: code) }
    }

    deinit { try? close() }
}

/// zlib's inflate, for reading compressed grains and clusters of untrusted images.
///
/// The caller states exactly how many bytes the chunk must decompress to; anything that
/// would produce more, less, or is not valid deflate data throws. A chunk never decompresses
/// beyond `output.count`, so a malicious stream cannot exhaust memory.
public final class Decompressor {
    private var stream: UnsafeMutablePointer<z_stream>?

    public init() throws(CompressionError) {
        let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        s.initialize(to: z_stream())
        let code = CZlib_inflateInit2(s, 15)
        guard code == Z_OK else {
            s.deallocate()
            throw .initializationFailed(backend: .zlib, code: code)
        }
        stream = s
    }

    /// Decompresses one chunk.
    /// - Parameters:
    ///   - input: the compressed bytes; bytes after the end of the stream are ignored.
    ///   - output: receives the data; its size is the limit.
    ///   - format: zlib framing (Adler-32 checked) or raw deflate (any window up to 32 KiB).
    /// - Returns: the number of bytes produced (the stream ended within `output`).
    /// - Throws: ``CompressionError/corruptData(_:)``, ``CompressionError/truncatedData``,
    ///   ``CompressionError/outputTooLarge(limit:)``.
    public func decompress(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, format: CompressionFormat
    ) throws(CompressionError) -> Int {
        guard let stream else { throw .unsupported("decompressor used after close") }
        let bits: Int32
        switch format {
        case .zlib: bits = 15  // reads streams made with any window
        case .deflate: bits = -15  // a 32 KiB window reads streams made with any smaller one
        }
        let reset = inflateReset2(stream, bits)
        guard reset == Z_OK else { throw .corruptData("inflate reset failed (code \(reset))") }
        guard let inBase = input.baseAddress, input.count > 0 else { throw .truncatedData }
        guard let outBase = output.baseAddress, output.count > 0 else { throw .outputTooLarge(limit: 0) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: inBase.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        let code = inflate(stream, Z_FINISH)
        let produced = output.count - Int(stream.pointee.avail_out)
        switch code {
        case Z_STREAM_END:
            return produced
        case Z_DATA_ERROR, Z_NEED_DICT:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
            throw .corruptData(message)
        case Z_BUF_ERROR, Z_OK:
            if stream.pointee.avail_out == 0 { throw .outputTooLarge(limit: output.count) }
            throw .truncatedData
        default:
            throw .corruptData("inflate failed (code \(code))")
        }
    }

    /// Frees the zlib state now; later calls to ``decompress(_:into:format:)`` throw.
    /// - Throws: if zlib reports the state inconsistent (it is freed all the same).
    public func close() throws(CompressionError) {
        guard let s = stream else { return }
        stream = nil
        let code = inflateEnd(s)
        s.deallocate()
        guard code == Z_OK else { throw .corruptData("inflate state inconsistent (code \(code))") }
    }

    deinit { try? close() }
}
