import CDeflate

/// libdeflate behind ``Compressor``: one `libdeflate_compressor`, used for many chunks.
///
/// libdeflate compresses a whole buffer in one call (no streaming state to reset), which is
/// exactly the grain/cluster case, and is several times faster than zlib at comparable
/// ratios. It always uses a 32 KiB window, so only `.zlib(windowBits: 15)` and
/// `.deflate(windowBits: 15)` are available.
public final class LibdeflateCompressor: Compressor {
    public let format: CompressionFormat
    public let level: Int
    private var handle: OpaquePointer?

    /// - Parameter level: 1 (fastest) … 12 (smallest); 6 is libdeflate's default.
    public init(level: Int, format: CompressionFormat) throws(CompressionError) {
        guard (1...12).contains(level) else { throw .unsupported("libdeflate level \(level) (1...12)") }
        guard format.windowBits == 15 else {
            throw .unsupported("libdeflate cannot limit the deflate window to 2^\(format.windowBits) bytes")
        }
        guard let h = libdeflate_alloc_compressor(Int32(level)) else {
            throw .initializationFailed(backend: .libdeflate, code: -1)
        }
        self.format = format
        self.level = level
        self.handle = h
    }

    public func maximumCompressedSize(for count: Int) -> Int {
        guard let handle else { return count + count / 1000 + 64 }
        switch format {
        case .zlib: return libdeflate_zlib_compress_bound(handle, count)
        case .deflate: return libdeflate_deflate_compress_bound(handle, count)
        }
    }

    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(CompressionError) -> Int?
    {
        guard let handle else { throw .unsupported("compressor used after close") }
        guard let outBase = output.baseAddress, output.count > 0 else { return nil }
        let n: Int
        switch format {
        case .zlib: n = libdeflate_zlib_compress(handle, input.baseAddress, input.count, outBase, output.count)
        case .deflate: n = libdeflate_deflate_compress(handle, input.baseAddress, input.count, outBase, output.count)
        }
        return n == 0 ? nil : n  // 0 means "did not fit"
    }

    /// Frees the compressor now; later calls to ``compress(_:into:)`` throw.
    public func close() {
        guard let h = handle else { return }
        handle = nil
        libdeflate_free_compressor(h)
    }

    deinit { close() }
}
