import Foundation
import StampCompression
import StampTestSupport
import Testing

/// ``GzipDecoder`` against files made by GNU gzip (not by us): single and several members,
/// fed in awkward pieces, and the damage a layer blob can carry.
@Suite(.enabled(if: toolAvailable("gzip")))
struct GzipDecoderTests {
    /// `gzip -c` of `data` at `level`, through a temporary file.
    static func gzip(_ data: [UInt8], level: Int = 6, name: Bool = false) throws -> [UInt8] {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let file = dir.file("data")
        try Data(data).write(to: URL(fileURLWithPath: file))
        let r = try sh("gzip -\(level) \(name ? "-N" : "-n") -c \(file) > \(file).gz")
        try #require(r.status == 0, "\(r.output)")
        return Array(try Data(contentsOf: URL(fileURLWithPath: file + ".gz")))
    }

    /// Decodes `input` in pieces of `inputStep` bytes into an output window of `outputStep`.
    static func decode(_ input: [UInt8], inputStep: Int, outputStep: Int) throws -> [UInt8] {
        let decoder = GzipDecoder()
        var out: [UInt8] = []
        var pending: [UInt8] = []
        var window = [UInt8](repeating: 0, count: outputStep)
        var position = 0
        while true {
            if position < input.count {
                let end = min(position + inputStep, input.count)
                pending += input[position..<end]
                position = end
            }
            let (consumed, produced) = try pending.withUnsafeBytes { i in
                try window.withUnsafeMutableBytes { try decoder.decode(i, into: $0) }
            }
            out += window[0..<produced]
            pending.removeFirst(consumed)
            if consumed == 0 && produced == 0 && position == input.count { break }
        }
        try decoder.finish()
        return out
    }

    @Test(arguments: [(1 << 20, 1 << 20), (7, 1 << 16), (4096, 13), (1, 1)])
    func decodesWhatGzipWrote(inputStep: Int, outputStep: Int) throws {
        let data = sample(300_000, seed: 11) + [UInt8](repeating: 0, count: 70_000)
        let compressed = try Self.gzip(data, name: true)
        let decoded = try Self.decode(compressed, inputStep: inputStep, outputStep: outputStep)
        #expect(decoded == data)
    }

    @Test func decodesSeveralMembersAsOneStream() throws {
        let a = sample(100_000, seed: 1)
        let b = sample(50_000, seed: 2)
        let c: [UInt8] = []
        let compressed = try Self.gzip(a, level: 1) + Self.gzip(b, level: 9) + Self.gzip(c)
        #expect(try Self.decode(compressed, inputStep: 5000, outputStep: 1 << 20) == a + b)
    }

    @Test func refusesAWrongCRC() throws {
        var compressed = try Self.gzip(sample(10_000, seed: 3))
        compressed[compressed.count - 6] ^= 0xff  // inside the CRC-32 of the trailer
        #expect(throws: CompressionError.self) { try Self.decode(compressed, inputStep: 1 << 20, outputStep: 1 << 20) }
    }

    @Test func refusesATruncatedMember() throws {
        let compressed = try Self.gzip(sample(10_000, seed: 4))
        for cut in [1, 5, compressed.count / 2, compressed.count - 1] {
            #expect(throws: CompressionError.truncatedData) {
                try Self.decode(Array(compressed.dropLast(cut)), inputStep: 1 << 20, outputStep: 1 << 20)
            }
        }
    }

    @Test func refusesBytesAfterAMemberThatStartNoMember() throws {
        let compressed = try Self.gzip(sample(10_000, seed: 5)) + [0, 0, 0, 0]
        do {
            _ = try Self.decode(compressed, inputStep: 1 << 20, outputStep: 1 << 20)
            Issue.record("trailing zeros were accepted")
        } catch let error as CompressionError {
            #expect("\(error)".contains("not a gzip header"), "\(error)")
        }
    }

    @Test func refusesDataThatIsNotGzip() throws {
        let bogus: [UInt8] = [0x1f, 0x8b, 0x07] + sample(100, seed: 6)  // method 7 is not deflate
        #expect(throws: CompressionError.self) { try Self.decode(bogus, inputStep: 1 << 20, outputStep: 1 << 20) }
    }
}
