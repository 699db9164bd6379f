/// A JSON document built in code and printed with its keys in the order they were given.
///
/// Printing always yields valid JSON (RFC 8259), whatever the strings hold: `"` and `\` are
/// escaped, as is every control character (U+0000 to U+001F and U+007F) and U+2028, U+2029
/// and U+FEFF, so a tab in a filesystem label or a newline in a file name cannot break a
/// line-oriented or strict parser. Swift strings are Unicode scalars already (invalid UTF-8 read from an image was
/// repaired to U+FFFD when it became a `String`), so the output is valid UTF-8.
///
/// ```swift
/// let doc: JSONValue = .object([("format", .string("qcow2")), ("virtual-size", .unsigned(1 << 30))])
/// print(doc.rendered())   // {\n    "format": "qcow2",\n    "virtual-size": 1073741824\n}
/// ```
public indirect enum JSONValue: Sendable, Equatable {
    case string(String)
    case unsigned(UInt64)
    case bool(Bool)
    case null
    case array([JSONValue])
    /// Members in order; a key given twice is printed twice (callers do not).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.unsigned(let x), .unsigned(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The document indented by four spaces per level, as `qemu-img info --output=json`
    /// prints it (empty arrays and objects stay on one line).
    public func rendered() -> String {
        var out = ""
        write(into: &out, depth: 0)
        return out
    }

    private func write(into out: inout String, depth: Int) {
        let pad = String(repeating: " ", count: 4 * (depth + 1))
        let close = String(repeating: " ", count: 4 * depth)
        switch self {
        case .string(let s): out += Self.quoted(s)
        case .unsigned(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(into: &out, depth: depth + 1)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += close + "]"
        case .object(let members):
            guard !members.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += pad + Self.quoted(key) + ": "
                value.write(into: &out, depth: depth + 1)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += close + "}"
        }
    }

    /// `s` as a JSON string literal: the two characters JSON reserves and every control
    /// character escaped (the short forms where JSON has one, `\u00XX` otherwise).
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || [0x2028, 0x2029, 0xFEFF].contains(scalar.value):
                // Also the two line separators JavaScript ends lines at and the byte-order
                // mark (parsers drop it): escaped, they survive any consumer.
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
