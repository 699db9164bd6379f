import Testing

@testable import StampExt4
@testable import StampBytes
import StampTestSupport

/// Our half-MD4 directory hash against e2fsprogs' own (`debugfs dx_hash`).
struct DirectoryHashTests {
    static let seed = "7c3e1c1a-6a55-4a0e-9d0e-2f1f3f9f0a11"
    static let names = [
        "hello", "a", "lost+found", "libc.so.6", String(repeating: "x", count: 31), String(repeating: "y", count: 32),
        String(repeating: "long-name-", count: 25), "naïve-ünïcödé", "日本語のファイル名",
    ]

    @Test(.enabled(if: toolAvailable("debugfs")), arguments: names)
    func matchesDebugfs(name: String) throws {
        let hasher = DirectoryHash(seed: try #require(Identifier(Self.seed)).bytes)
        let ours = hasher.hash(Array(name.utf8))
        let result = try run(["debugfs", "-R", "dx_hash -h half_md4 -s \(Self.seed) \(name)"])
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("Hash of") })
        let hex = try #require(line.split(separator: " ").first { $0.hasPrefix("0x") })
        #expect(String(ours, radix: 16) == String(hex.dropFirst(2)).replacingOccurrences(of: "0x", with: ""), "\(name)")
    }

    @Test func zeroSeedUsesMD4Constants() {
        let zero = DirectoryHash(seed: [UInt8](repeating: 0, count: 16))
        let explicit = DirectoryHash(seed: [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
        ])
        #expect(zero.hash(Array("abc".utf8)) == explicit.hash(Array("abc".utf8)))
        #expect(zero.hash(Array("abc".utf8)) & 1 == 0)
    }
}
