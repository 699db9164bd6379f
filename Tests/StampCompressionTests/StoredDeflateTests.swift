import CZlib
import StampCompression
import Testing

/// Incompressible chunks stored without compressing (``StoredDeflate``): the encoding is
/// inflated by zlib itself, the framing is checked byte by byte, and the test that decides
/// "incompressible" is held to random data on one side and compressible data on the other.
@Suite struct StoredDeflateTests {
    static func random(_ n: Int, seed: UInt64) -> [UInt8] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: s >> 40)
        }
    }

    func encode(_ input: [UInt8], format: CompressionFormat) -> [UInt8] {
        var out = [UInt8](repeating: 0xAA, count: StoredDeflate.size(for: input.count, format: format))
        let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { StoredDeflate.encode(i, format: format, into: $0) } }
        #expect(n == out.count)
        return out
    }

    @Test func zlibFramedGrainInflatesWithZlib() {
        let input = Self.random(65536, seed: 7)
        let out = encode(input, format: .zlib(windowBits: 15))
        #expect(out.count == 65536 + 2 * 5 + 6)
        #expect(zlibUncompress(out, expected: input.count) == input)
    }

    @Test func goldenBytesOfASmallStream() {
        // 3 bytes, 4 KiB window: CMF 0x48 (deflate, window 2^12), FLG 0x0D (level hint 0,
        // 0x480D % 31 == 0); one final stored block LEN 3 / NLEN 0xFFFC; Adler-32 of "abc".
        let out = encode(Array("abc".utf8), format: .zlib(windowBits: 12))
        #expect(out == [0x48, 0x0D, 0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63, 0x02, 0x4D, 0x01, 0x27])
    }

    @Test func rawDeflateSplitsAt65535() {
        let input = Self.random(65536, seed: 8)
        let out = encode(input, format: .deflate(windowBits: 12))
        // First block: not final, LEN 65535; second block: final, LEN 1.
        #expect(Array(out[0..<5]) == [0x00, 0xFF, 0xFF, 0x00, 0x00])
        #expect(Array(out[65540..<65545]) == [0x01, 0x01, 0x00, 0xFE, 0xFF])
        var stream = z_stream()
        #expect(inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        var back = [UInt8](repeating: 0, count: input.count)
        var mutableOut = out
        let rc = mutableOut.withUnsafeMutableBytes { i in
            back.withUnsafeMutableBytes { o in
                stream.next_in = i.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(o.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        inflateEnd(&stream)
        #expect(rc == Z_STREAM_END)
        #expect(back == input)
    }

    @Test func tooSmallOutputIsNil() {
        let input = Self.random(1000, seed: 9)
        var out = [UInt8](repeating: 0, count: 1000)
        let n = input.withUnsafeBytes { i in
            out.withUnsafeMutableBytes { StoredDeflate.encode(i, format: .zlib(windowBits: 15), into: $0) }
        }
        #expect(n == nil)
    }

    @Test(arguments: [CompressionSettings.default, .fast]) func onlyIncompressibleChunksAreStored(settings: CompressionSettings)
        throws
    {
        let compressor = try settings.makeCompressor(format: .zlib(windowBits: 15))
        var scratch = [UInt8](repeating: 0, count: compressor.maximumCompressedSize(for: 65536))
        func stored(_ chunk: [UInt8]) -> Bool {
            chunk.withUnsafeBytes { c in
                scratch.withUnsafeMutableBytes { StoredDeflate.isIncompressible(c, compressor: compressor, scratch: $0) }
            }
        }
        #expect(stored(Self.random(65536, seed: 10)))
        // Flat histograms that deflate still shrinks: bytes counting up, with two periods.
        let counting: [UInt8] = (0..<65536).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i) }
        let counting251: [UInt8] = (0..<65536).map { (i: Int) -> UInt8 in UInt8(i % 251) }
        #expect(!stored(counting))
        #expect(!stored(counting251))
        // Text, zeros, half random: compressible.
        let text: [UInt8] = (0..<65536).map { (i: Int) -> UInt8 in
            let letter = (i * 7 + i / 13) % 26
            return UInt8(97 + letter)
        }
        #expect(!stored(text))
        #expect(!stored([UInt8](repeating: 0, count: 65536)))
        #expect(!stored(sample(65536, seed: 3)))
        // Too short to judge: compressed as usual.
        #expect(!stored(Self.random(8192, seed: 11)))
    }
}
