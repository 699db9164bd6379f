import Foundation
import StampBytes
import Testing

/// ``JSONValue`` prints valid JSON whatever its strings hold: 2000 seeded random strings of
/// control characters, quotes, backslashes, DEL, non-ASCII and astral scalars, as keys and
/// values, are parsed back by Foundation's JSON parser (which rejects a raw control
/// character) to exactly the strings given.
struct JSONValueTests {
    /// A small deterministic generator (splitmix64), so a failure names its seed.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomString(_ g: inout Generator) -> String {
        let pools: [[UInt32]] = [
            Array(0x00...0x1F), [0x22, 0x5C, 0x2F, 0x7F, 0x20], Array(0x41...0x5A), [0xE9, 0x2028, 0x2029, 0xFEFF, 0xFFFD],
            [0x1F600, 0x10FFFF],
        ]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int(g.next() % 24) {
            let pool = pools[Int(g.next() % UInt64(pools.count))]
            s.append(Unicode.Scalar(pool[Int(g.next() % UInt64(pool.count))])!)
        }
        return String(s)
    }

    @Test func randomStringsRoundTrip() throws {
        var g = Generator(state: 22)
        for round in 0..<2000 {
            let key = Self.randomString(&g)
            let value = Self.randomString(&g)
            let doc: JSONValue = .object([
                ("k", .string(key)), ("v", .array([.string(value), .unsigned(g.next()), .bool(true), .null])),
                ("o", .object([])), (key, .string(value)),
            ])
            let text = doc.rendered()
            #expect(
                !text.unicodeScalars.contains {
                    ($0.value < 0x20 && $0 != "\n") || [0x7F, 0x2028, 0x2029, 0xFEFF].contains($0.value)
                },
                "round \(round): a raw control character")
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            #expect(parsed?["k"] as? String == key, "round \(round): \(text)")
            #expect((parsed?["v"] as? [Any])?.first as? String == value, "round \(round): \(text)")
            #expect(parsed?[key] as? String == value || key == "k" || key == "v" || key == "o", "round \(round): \(text)")
        }
    }

    @Test func shortEscapesForTheCommonControls() {
        #expect(JSONValue.quoted("a\tb\nc\u{01}\u{7F}\"\\\u{2028}") == #""a\tb\nc\u0001\u007f\"\\\u2028""#)
    }
}
