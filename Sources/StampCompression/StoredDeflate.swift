import CDeflate

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Chunks that cannot shrink (a zstd initramfs, gzip'd docs, a compressed kernel) are written
/// as deflate "stored" blocks without running a compressor over them: a compressor spends
/// its full per-byte time on such data only to fall back to stored blocks itself.
///
/// ```
///  zlib framing:  ┌─────┬─────┬──────────────────────────────┬──────────────┐
///                 │ CMF │ FLG │ stored blocks (RFC 1951 3.2.4) │ Adler-32 (BE) │
///                 └─────┴─────┴──────────────────────────────┴──────────────┘
///  stored block:  ┌──────────────────┬──────────┬───────────┬───────────────┐
///                 │ BFINAL, BTYPE=00 │ LEN (LE) │ NLEN (LE) │ LEN raw bytes │   LEN ≤ 65535
///                 │ then pad to byte │  2 bytes │  2 bytes  │               │
///                 └──────────────────┴──────────┴───────────┴───────────────┘
/// ```
///
/// The test is a byte histogram of a 2 KiB sample (8 slices of 256 bytes spread over the
/// chunk, chunks of 16 KiB or more): its collision rate Σc²/N² is 1/256 for uniformly random bytes and far above for
/// anything a deflate compressor shrinks (text, code, tables). Only chunks within 25% of the
/// random rate (a Rényi entropy of at least 7.68 bits per byte) pass, then the whole chunk's
/// Shannon entropy must be at least 7.98 bits per byte (below that, Huffman coding alone
/// would save a sector of the grain record); a pattern with a flat
/// histogram (bytes counting up) would too, so ``isIncompressible(_:compressor:scratch:)``
/// then confirms with the real compressor on the first 8 KiB, which must not shrink by a
/// sector's worth of a grain (1/128).
public enum StoredDeflate {
    /// Whether `chunk` is stored rather than compressed: a flat histogram, and `compressor`
    /// does not shrink its first 8 KiB by 1/128 or more (`scratch` receives that probe).
    public static func isIncompressible(
        _ chunk: UnsafeRawBufferPointer, compressor: any Compressor, scratch: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard looksIncompressible(chunk), entropy(chunk) >= 7.98 else { return false }
        let probe = UnsafeRawBufferPointer(rebasing: chunk[0..<8192])
        guard let n = try? compressor.compress(probe, into: scratch) else { return true }
        // Shrinking by less than 1/128 would not save one 512-byte sector of a grain record.
        return n >= probe.count - probe.count / 128
    }

    /// Whether `chunk` looks like already-compressed data (see the type's description).
    public static func looksIncompressible(_ chunk: UnsafeRawBufferPointer) -> Bool {
        let slices = 8
        let sliceLength = 256
        guard chunk.count >= 16384, let base = chunk.baseAddress else { return false }
        let step = chunk.count / slices
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 256) { counts -> Bool in
            counts.initialize(repeating: 0)
            for s in 0..<slices {
                let p = base.advanced(by: s * step).assumingMemoryBound(to: UInt8.self)
                for i in 0..<sliceLength { counts[Int(p[i])] &+= 1 }
            }
            var squares: UInt64 = 0
            for c in counts { squares &+= UInt64(c) * UInt64(c) }
            let n = UInt64(slices * sliceLength)
            // Σc² - N estimates N(N-1)·Σp²; random bytes give N(N-1)/256.
            return (squares - n) * 256 * 4 <= n * (n - 1) * 5
        }
    }

    /// The Shannon entropy of `chunk`'s bytes, in bits per byte. Huffman coding alone saves
    /// about (8 - H)/8 of a chunk; at H ≥ 7.98 that is under 0.25%, less than the compressor's
    /// own block overhead and the 512-byte rounding of a grain record.
    public static func entropy(_ chunk: UnsafeRawBufferPointer) -> Double {
        guard !chunk.isEmpty else { return 0 }
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 256) { counts -> Double in
            counts.initialize(repeating: 0)
            for byte in chunk { counts[Int(byte)] &+= 1 }
            let n = Double(chunk.count)
            var h = 0.0
            for c in counts where c > 0 {
                let p = Double(c) / n
                h -= p * log2(p)
            }
            return h
        }
    }

    /// Bytes of a stored encoding of `count` bytes in `format`.
    public static func size(for count: Int, format: CompressionFormat) -> Int {
        let blocks = max(1, (count + 65534) / 65535)
        let framing = format.isZlib ? ZlibFrame.headerSize + ZlibFrame.trailerSize : 0
        return count + 5 * blocks + framing
    }

    /// Writes `input` as stored blocks in `format` into `output`.
    /// - Returns: the length written, or nil if `output` is too small.
    public static func encode(
        _ input: UnsafeRawBufferPointer, format: CompressionFormat, into output: UnsafeMutableRawBufferPointer
    )
        -> Int?
    {
        guard output.count >= size(for: input.count, format: format) else { return nil }
        var at = 0
        if format.isZlib {
            (output[0], output[1]) = ZlibFrame.header(windowBits: format.windowBits, level: 0)
            at = 2
        }
        var done = 0
        repeat {
            let n = min(65535, input.count - done)
            output[at] = done + n == input.count ? 1 : 0  // BFINAL, BTYPE 00, padding bits 0
            output[at + 1] = UInt8(truncatingIfNeeded: n)
            output[at + 2] = UInt8(truncatingIfNeeded: n >> 8)
            output[at + 3] = ~UInt8(truncatingIfNeeded: n)
            output[at + 4] = ~UInt8(truncatingIfNeeded: n >> 8)
            at += 5
            if n > 0 {
                UnsafeMutableRawBufferPointer(rebasing: output[at..<(at + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[done..<(done + n)]))
            }
            at += n
            done += n
        } while done < input.count
        if format.isZlib {
            let adler = libdeflate_adler32(1, input.baseAddress, input.count)
            for i in 0..<4 { output[at + i] = UInt8(truncatingIfNeeded: adler >> (24 - 8 * i)) }
            at += 4
        }
        return at
    }
}

extension CompressionFormat {
    /// Whether this is RFC 1950 framing (header and Adler-32 around the deflate data).
    public var isZlib: Bool {
        if case .zlib = self { return true }
        return false
    }
}
