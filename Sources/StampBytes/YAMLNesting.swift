/// An upper bound on how deeply a YAML document nests its collections, from the text alone.
///
/// Yams composes a document by recursion, one level of the Swift stack per level of nesting,
/// and libyaml sets no limit: 3,200 bytes of `[` overflow the stack (found by the
/// package-installs fuzzer). Callers check this bound before composing.
///
/// Nesting comes from three places, each counted generously:
/// - flow collections: `[` and `{` outside quoted scalars and comments, less their closers;
/// - block indentation: a nested block collection is indented further, except a sequence
///   under a mapping key, so at most two levels per column of indentation;
/// - compact block notation on one line (`- - - x`, `? - x`): one level per indicator.
///
/// ```
///   text line:   "    - - [ [ a ] ]"
///   bound:       2 × (4 + 2 + 1) + 2 = 16     (indent 4, two `- `, flow depth 2)
/// ```
public enum YAMLNesting {
    /// The largest bound callers accept: a few hundred levels of recursion, which fit a
    /// secondary thread's stack; real element and block-device files stay under 40.
    public static let limit = 300

    /// The one-line refusal for a document over ``limit``.
    public static let refusal =
        "nested too deeply (lists, maps and indentation more than \(limit / 2) levels; at most \(limit) flow brackets)"

    /// Whether `text` could nest more deeply than ``limit`` allows.
    public static func isTooDeep(_ text: String) -> Bool { upperBound(text) > limit }

    /// The bound for `text` (at least the real depth; far more for odd but shallow text).
    public static func upperBound(_ text: String) -> Int {
        var bound = 0
        var flow = 0
        var quote: UInt8?  // the open quote character, across lines
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var i = line.startIndex
            var indent = 0
            while quote == nil, i < line.endIndex, line[i] == UInt8(ascii: " ") {
                indent += 1
                i = line.index(after: i)
            }
            var chain = 0
            while quote == nil, i < line.endIndex, [UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":")].contains(line[i]) {
                let next = line.index(after: i)
                guard next == line.endIndex || line[next] == UInt8(ascii: " ") else { break }
                chain += 1
                i = next
                while i < line.endIndex, line[i] == UInt8(ascii: " ") { i = line.index(after: i) }
            }
            // A quote opens a quoted scalar only where a token starts (`r"` or `don't` are
            // plain text): anything else is counted as structure, which can only raise the bound.
            var previous: UInt8 = UInt8(ascii: " ")
            let tokenStart: Set<UInt8> = [
                UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":"),
            ]
            var deepest = flow
            scan: while i < line.endIndex {
                let c = line[i]
                if let open = quote {
                    if open == UInt8(ascii: "\""), c == UInt8(ascii: "\\") {
                        i = line.index(after: i)  // an escape: skip the escaped character too
                        if i == line.endIndex { break }
                    } else if c == open {
                        let next = line.index(after: i)
                        if open == UInt8(ascii: "'"), next < line.endIndex, line[next] == UInt8(ascii: "'") {
                            i = next  // '' inside single quotes is a quote character
                        } else {
                            quote = nil
                        }
                    }
                } else {
                    switch c {
                    case UInt8(ascii: "'") where tokenStart.contains(previous): quote = c
                    case UInt8(ascii: "\"") where tokenStart.contains(previous): quote = c
                    case UInt8(ascii: "#") where previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t"): break scan
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        flow += 1
                        deepest = max(deepest, flow)
                    case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
                    default: break
                    }
                }
                previous = c
                i = line.index(after: i)
            }
            bound = max(bound, 2 * (indent + chain + 1) + deepest)
        }
        return bound
    }
}
