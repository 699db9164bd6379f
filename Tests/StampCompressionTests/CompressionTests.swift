import CZlib
import Foundation
import StampTestSupport
import StampCompression
import Testing

/// Decompresses with zlib itself (`uncompress` for zlib framing), not with our code.
func zlibUncompress(_ data: [UInt8], expected: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: expected)
    var length = uLongf(expected)
    let code = out.withUnsafeMutableBytes { o in
        data.withUnsafeBytes { i in
            uncompress(
                o.baseAddress!.assumingMemoryBound(to: Bytef.self), &length,
                i.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(data.count))
        }
    }
    return code == Z_OK && Int(length) == expected ? out : nil
}

func sample(_ n: Int, seed: UInt64) -> [UInt8] {
    var s = seed
    return (0..<n).map { i in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        // Half text-like, half random: compressible but not trivially.
        return i % 2 == 0 ? UInt8(truncatingIfNeeded: s >> 33) : UInt8(97 + (i / 7) % 26)
    }
}

@Suite struct CompressionTests {
    static let settings: [CompressionSettings] =
        [1, 6, 9].map { CompressionSettings(backend: .zlib, level: $0) }
        + [1, 6, 12].map { CompressionSettings(backend: .libdeflate, level: $0) }
        + [0, 1, 3].map { CompressionSettings(backend: .isal, level: $0) }

    @Test(arguments: settings) func zlibFramingRoundTrips(settings: CompressionSettings) throws {
        let compressor = try settings.makeCompressor(format: .zlib(windowBits: 15))
        for input in [sample(65536, seed: 1), [UInt8](repeating: 0, count: 65536), sample(1000, seed: 2), [7]] {
            var out = [UInt8](repeating: 0, count: compressor.maximumCompressedSize(for: input.count))
            let n = try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try compressor.compress(i, into: $0) } }
            let compressed = Array(out[0..<(n ?? 0)])
            #expect(compressed.first == 0x78, "zlib header")
            #expect(zlibUncompress(compressed, expected: input.count) == input)
            var back = [UInt8](repeating: 0, count: input.count)
            // The buffers stay inside their closures: a pointer escaped from
            // `withUnsafeMutableBytes` need not point at `back` any more.
            let m = try compressed.withUnsafeBytes { c in
                try back.withUnsafeMutableBytes { try Decompressor().decompress(c, into: $0, format: .zlib(windowBits: 15)) }
            }
            #expect(m == input.count)
            #expect(back == input, "our decoder's bytes differ from the input")
        }
    }

    /// ISA-L level 0 encodes with one trained code: every byte value, every match length and
    /// distances near the 32 KiB limit must have a code in it (counts of at least one), or
    /// the stream could not say them. zlib inflates the result.
    @Test func trainedCodeCoversEverySymbol() throws {
        var input = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 256) }  // every byte value
        let far = sample(3000, seed: 9)
        input += far + [UInt8](repeating: 0xAB, count: 27000) + far  // a match 30,000 bytes back
        for length in [3, 4, 10, 57, 131, 258] { input += input[100..<(100 + length)] + [UInt8(truncatingIfNeeded: length)] }
        input += sample(65536 - input.count, seed: 10)
        let compressor = try CompressionSettings(backend: .isal, level: 0).makeCompressor(format: .zlib(windowBits: 15))
        var out = [UInt8](repeating: 0, count: compressor.maximumCompressedSize(for: input.count))
        let n = try #require(
            try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try compressor.compress(i, into: $0) } })
        #expect(n < input.count * 3 / 4, "the repeated parts were not matched: \(n) bytes")
        #expect(zlibUncompress(Array(out[0..<n]), expected: input.count) == input)
    }

    @Test func incompressibleGrainHasTheDocumentedSize() throws {
        // formats.md §1.4: incompressible 64 KiB → 65562 bytes of zlib at level 6.
        var s: UInt64 = 99
        let input = (0..<65536).map { _ -> UInt8 in
            s = s &* 6_364_136_223_846_793_005 &+ 1
            return UInt8(truncatingIfNeeded: s >> 40)
        }
        let c = try ZlibCompressor(level: 6, format: .zlib(windowBits: 15))
        var out = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: 65536))
        let n = try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try c.compress(i, into: $0) } }
        #expect(n == 65562)
        // Too small an output: nil, not an error.
        var small = [UInt8](repeating: 0, count: 1000)
        #expect(try input.withUnsafeBytes { i in try small.withUnsafeMutableBytes { try c.compress(i, into: $0) } } == nil)
    }

    @Test func isalIncompressibleGrainFitsItsBoundAndOverflowIsNil() throws {
        var s: UInt64 = 7
        let input = (0..<65536).map { _ -> UInt8 in
            s = s &* 6_364_136_223_846_793_005 &+ 1
            return UInt8(truncatingIfNeeded: s >> 40)
        }
        let c = try IsalCompressor(level: 1, format: .zlib(windowBits: 15))
        var out = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: 65536))
        let n = try #require(try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try c.compress(i, into: $0) } })
        #expect(zlibUncompress(Array(out[0..<n]), expected: input.count) == input)
        var small = [UInt8](repeating: 0, count: 1000)
        #expect(try input.withUnsafeBytes { i in try small.withUnsafeMutableBytes { try c.compress(i, into: $0) } } == nil)
        #expect(throws: CompressionError.self) { _ = try IsalCompressor(level: 4, format: .zlib(windowBits: 15)) }
    }

    /// qcow2's clusters must inflate with a 4 KiB window (qemu: `inflateInit2(-12)`). The input
    /// repeats a random 8 KiB block, which a 32 KiB-window compressor would reference 8 KiB
    /// back: zlib's inflate with `wbits=-12` (Python, not our code) fails on any such distance.
    @Test func isalLimitsItsWindowForQcow2() throws {
        #expect(CompressionSettings.fast.adapted(to: .deflate(windowBits: 12)).backend == .isal)
        let block = sample(8192, seed: 9)
        let input = Array((0..<8).map { _ in block }.joined())
        let c = try IsalCompressor(level: 1, format: .deflate(windowBits: 12))
        var out = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: input.count))
        let n = try #require(try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try c.compress(i, into: $0) } })
        let dir = try TemporaryDirectory("stamp-isal")
        try Data(out[0..<n]).write(to: URL(fileURLWithPath: dir.file("c.bin")))
        try Data(input).write(to: URL(fileURLWithPath: dir.file("plain.bin")))
        let check = try run([
            "python3", "-c",
            """
            import sys, zlib
            c = open(sys.argv[1], 'rb').read(); p = open(sys.argv[2], 'rb').read()
            d = zlib.decompressobj(-12); out = d.decompress(c) + d.flush()
            sys.exit(0 if out == p else 3)
            """, dir.file("c.bin"), dir.file("plain.bin"),
        ])
        #expect(check.status == 0, "inflate with a 4 KiB window: \(check.output)")
    }

    /// RFC 1950 headers for a 4 KiB window: the bytes zlib itself writes at each level hint
    /// (Python: `zlib.compressobj(level, DEFLATED, 12)`).
    @Test func zlibFrameHeaderMatchesZlib() {
        #expect(ZlibFrame.header(windowBits: 12, level: 1) == (0x48, 0x0d))
        #expect(ZlibFrame.header(windowBits: 12, level: 5) == (0x48, 0x4b))
        #expect(ZlibFrame.header(windowBits: 12, level: 6) == (0x48, 0x89))
        #expect(ZlibFrame.header(windowBits: 12, level: 9) == (0x48, 0xc7))
        #expect(ZlibFrame.header(windowBits: 15, level: 6) == (0x78, 0x9c))
    }

    /// A zlib stream with a 4 KiB window, from every backend that can write one: its header
    /// says so, Python's zlib (not our code) inflates it with a 4 KiB window and checks the
    /// Adler-32, and the deflate data inside is what the raw 4 KiB-window mode writes.
    @Test(arguments: [
        CompressionSettings(backend: .zlib, level: 5), CompressionSettings(backend: .isal, level: 1),
        CompressionSettings(backend: .isal, level: 0),
    ])
    func smallWindowZlibStream(settings: CompressionSettings) throws {
        let block = sample(8192, seed: 5)
        let input = Array((0..<8).map { _ in block }.joined())
        let c = try settings.makeCompressor(format: .zlib(windowBits: 12))
        var out = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: input.count))
        let n = try #require(try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try c.compress(i, into: $0) } })
        #expect(out[0] == 0x48 && (Int(out[0]) << 8 | Int(out[1])) % 31 == 0)
        let raw = try settings.makeCompressor(format: .deflate(windowBits: 12))
        var rawOut = [UInt8](repeating: 0, count: raw.maximumCompressedSize(for: input.count))
        let m = try #require(
            try input.withUnsafeBytes { i in try rawOut.withUnsafeMutableBytes { try raw.compress(i, into: $0) } })
        #expect(Array(out[2..<(n - 4)]) == Array(rawOut[0..<m]))
        let dir = try TemporaryDirectory("stamp-zlib12")
        try Data(out[0..<n]).write(to: URL(fileURLWithPath: dir.file("c.bin")))
        try Data(input).write(to: URL(fileURLWithPath: dir.file("plain.bin")))
        let check = try run([
            "python3", "-c",
            """
            import sys, zlib
            c = open(sys.argv[1], 'rb').read(); p = open(sys.argv[2], 'rb').read()
            d = zlib.decompressobj(12); out = d.decompress(c) + d.flush()
            sys.exit(0 if out == p and d.eof and not d.unused_data else 3)
            """, dir.file("c.bin"), dir.file("plain.bin"),
        ])
        #expect(check.status == 0, "inflate a zlib stream with a 4 KiB window: \(check.output)")
        #expect(throws: CompressionError.self) { _ = try LibdeflateCompressor(level: 5, format: .zlib(windowBits: 12)) }
        #expect(CompressionSettings.default.adapted(to: .zlib(windowBits: 12)) == CompressionSettings(backend: .zlib, level: 5))
    }

    @Test func smallWindowRawDeflateIsZlibByDefault() throws {
        #expect(throws: CompressionError.self) { _ = try LibdeflateCompressor(level: 6, format: .deflate(windowBits: 12)) }
        #expect(CompressionSettings.default.adapted(to: .deflate(windowBits: 12)).backend == .zlib)
        let c = try ZlibCompressor(level: 6, format: .deflate(windowBits: 12))
        let input = sample(65536, seed: 3)
        var out = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: input.count))
        let n = try #require(try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try c.compress(i, into: $0) } })
        var back = [UInt8](repeating: 0, count: input.count)
        let m = try back.withUnsafeMutableBytes { b in
            try Array(out[0..<n]).withUnsafeBytes { try Decompressor().decompress($0, into: b, format: .deflate(windowBits: 12)) }
        }
        #expect(m == input.count && back == input)
    }

    @Test func decompressorRejectsBadInput() throws {
        let d = try Decompressor()
        var out = [UInt8](repeating: 0, count: 65536)
        func inflate(_ bytes: [UInt8], limit: Int = 65536) throws -> Int {
            try out.withUnsafeMutableBytes { o in
                try bytes.withUnsafeBytes { i in
                    try d.decompress(
                        i, into: UnsafeMutableRawBufferPointer(rebasing: o[0..<limit]), format: .zlib(windowBits: 15))
                }
            }
        }
        let c = try ZlibCompressor(level: 6, format: .zlib(windowBits: 15))
        let input = sample(65536, seed: 4)
        var buf = [UInt8](repeating: 0, count: c.maximumCompressedSize(for: 65536))
        let n = try #require(try input.withUnsafeBytes { i in try buf.withUnsafeMutableBytes { try c.compress(i, into: $0) } })
        let good = Array(buf[0..<n])
        #expect(try inflate(good) == 65536)
        #expect(throws: CompressionError.truncatedData) { _ = try inflate(Array(good[0..<(n / 2)])) }
        #expect(throws: CompressionError.outputTooLarge(limit: 1000)) { _ = try inflate(good, limit: 1000) }
        var bad = good
        bad[n - 1] ^= 0xFF  // Adler-32
        #expect {
            _ = try inflate(bad)
        } throws: { error in
            if case .corruptData = error as? CompressionError { return true }
            return false
        }
        #expect(throws: CompressionError.self) { _ = try inflate([UInt8](repeating: 0xEE, count: 100)) }
        #expect(throws: CompressionError.self) { _ = try inflate([]) }
    }

    /// Many chunks of uneven cost through several workers and a small window: results come
    /// back complete and in submission order, identical to single-threaded compression.
    @Test(arguments: [CompressionSettings.default, .fast, .qemuCompatible])
    func parallelCompressorKeepsOrder(settings: CompressionSettings) throws {
        let single = try settings.makeCompressor(format: .zlib(windowBits: 15))
        let parallel = try ParallelCompressor(settings: settings, format: .zlib(windowBits: 15), workers: 3, window: 5)
        var delivered: [UInt64] = []
        var mismatches = 0
        var scratch = [UInt8](repeating: 0, count: single.maximumCompressedSize(for: 65536))
        let check: (ParallelCompressor.Chunk) throws -> Void = { chunk in
            delivered.append(chunk.tag)
            let n = try scratch.withUnsafeMutableBytes { try single.compress(chunk.original, into: $0) }
            if n != chunk.compressed.count || Array(scratch[0..<(n ?? 0)]) != Array(chunk.compressed) { mismatches += 1 }
        }
        for i in 0..<200 {
            let chunk = i % 3 == 0 ? [UInt8](repeating: UInt8(i & 0xFF), count: 65536) : sample(1000 + i * 300, seed: UInt64(i))
            try chunk.withUnsafeBytes { try parallel.submit($0, tag: UInt64(i), deliver: check) }
        }
        try parallel.drain(deliver: check)
        #expect(delivered == (0..<200).map(UInt64.init))
        #expect(mismatches == 0)
    }

    @Test func deliveryErrorStopsTheCompressor() throws {
        struct Stop: Error {}
        let parallel = try ParallelCompressor(settings: .fast, format: .zlib(windowBits: 15), workers: 2, window: 3)
        let data = sample(4096, seed: 5)
        #expect(throws: Stop.self) {
            for i in 0..<10 { try data.withUnsafeBytes { try parallel.submit($0, tag: UInt64(i)) { _ in throw Stop() } } }
        }
        #expect(throws: CompressionError.self) { try data.withUnsafeBytes { try parallel.submit($0, tag: 99) { _ in } } }
    }

    @Test func levelsAreValidated() {
        #expect(throws: CompressionError.self) { _ = try ZlibCompressor(level: 0, format: .zlib(windowBits: 15)) }
        #expect(throws: CompressionError.self) { _ = try LibdeflateCompressor(level: 13, format: .zlib(windowBits: 15)) }
    }
}
