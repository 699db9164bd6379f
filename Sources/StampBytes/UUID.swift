/// A 128-bit identifier kept as its 16 bytes in RFC 4122 (big-endian, "as printed") order.
///
/// ext4 stores `s_uuid` in this order. GPT stores GUIDs "mixed-endian": the first three
/// groups little-endian, the last two as printed; use ``gptBytes`` for that.
public struct Identifier: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "an identifier has 16 bytes")
        self.bytes = bytes
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (case-insensitive); nil if malformed.
    public init?(_ text: String) {
        let hex = text.filter { $0 != "-" }
        let dashes = text.enumerated().filter { $0.element == "-" }.map(\.offset)
        // Hex digits only: `UInt8(_:radix:)` would also take a sign ("+f").
        guard hex.count == 32, dashes == [8, 13, 18, 23], hex.allSatisfy(\.isHexDigit), hex.allSatisfy(\.isASCII) else {
            return nil
        }
        var out: [UInt8] = []
        var index = hex.startIndex
        for _ in 0..<16 {
            let next = hex.index(index, offsetBy: 2)
            guard let b = UInt8(hex[index..<next], radix: 16) else { return nil }
            out.append(b)
            index = next
        }
        self.bytes = out
    }

    /// A random version-4 identifier.
    public static func random() -> Identifier {
        var g = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return Identifier(bytes: b)
    }

    /// A version-4-shaped identifier derived from `seed` bytes (stable across runs), for
    /// deterministic builds: same seed, same identifier.
    public static func derived(from seed: [UInt8]) -> Identifier {
        // FNV-1a 64 expanded twice with different offsets; not cryptographic, only stable.
        func fnv(_ basis: UInt64) -> UInt64 {
            var h = basis
            for b in seed { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            return h
        }
        let a = fnv(0xCBF2_9CE4_8422_2325)
        let c = fnv(0x8422_2325_CBF2_9CE4 ^ 0x5555)
        var b =
            (0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: c >> (8 * UInt64($0))) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return Identifier(bytes: b)
    }

    /// The GPT on-disk order: time_low, time_mid, time_hi little-endian, the rest as is.
    public var gptBytes: [UInt8] {
        [bytes[3], bytes[2], bytes[1], bytes[0], bytes[5], bytes[4], bytes[7], bytes[6]] + Array(bytes[8..<16])
    }

    /// Decodes the GPT on-disk order.
    public init(gptBytes g: [UInt8]) {
        precondition(g.count == 16)
        self.bytes = [g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6]] + Array(g[8..<16])
    }

    public var description: String {
        let hex = bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}
