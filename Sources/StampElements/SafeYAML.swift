import Foundation
import StampBytes
import Yams

/// `Yams.load` without the traps: the checks Yams leaves to force-unwraps, done first.
///
/// `Yams.load(yaml:)` composes the document into a `Node` tree and then builds Swift values
/// from it. The second step force-unwraps every mapping key as a string, so a document with a
/// complex key (`? - a` or `? {a: b}`, valid YAML) stops the process; and it expands aliases,
/// so a few lines of nested anchors (`b: [*a, *a, …]`, the "billion laughs") grow without
/// bound. Element files (`package-installs.yaml`, `DIB_BLOCK_DEVICE_CONFIG`) are user input, so
/// this composes the tree, walks it once with aliases counted as expanded (stopping at a
/// limit), and only then builds the values. The same walk catches YAML 1.1's base-60
/// integers (`1:30`, plain scalars Yams resolves as `!!int`), which Yams multiplies out
/// without overflow checks: eleven fields, or one large one, trap.
enum SafeYAML {
    /// Nodes (aliases counted each time they are used) a document may expand to.
    static let nodeLimit = 200_000
    /// Nesting depth of sequences and mappings.
    static let depthLimit = 256

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The document's value (`[String: Any]`, `[Any]`, scalars), or nil for an empty document.
    /// - Throws: Yams' own parse errors, or ``Problem`` naming the line and column at fault.
    static func load(_ text: String) throws -> Any? {
        // Yams composes by recursion: refuse what could overflow the stack before it starts.
        guard !YAMLNesting.isTooDeep(text) else { throw Problem(description: YAMLNesting.refusal) }
        guard let node = try Yams.compose(yaml: text) else { return nil }
        var count = 0
        try check(node, count: &count, depth: 0)
        return node.any
    }

    private static func check(_ node: Node, count: inout Int, depth: Int) throws {
        count += 1
        guard count <= nodeLimit else {
            throw Problem(description: "\(at(node))the document expands to more than \(nodeLimit) values (nested aliases)")
        }
        guard depth <= depthLimit else {
            throw Problem(description: "\(at(node))nested more than \(depthLimit) levels deep")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.string.contains(":"), Resolver.default.resolveTag(of: node) == .int, !sexagesimalFits(scalar.string) {
                throw Problem(description: "\(at(node))the number '\(scalar.string.prefix(40))' is out of range")
            }
        case .sequence(let sequence):
            for item in sequence { try check(item, count: &count, depth: depth + 1) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else {
                    throw Problem(description: "\(at(key))a mapping key must be a plain value, not a \(kind(key))")
                }
                try check(value, count: &count, depth: depth + 1)
            }
        }
    }

    /// Whether Yams' base-60 reading of `text` stays within `Int`. Like Yams, it drops every
    /// `_` first; a number that then starts with `0` is read in another radix (no overflow
    /// there); otherwise each `:` field that is a decimal counts, right to left, times 60,
    /// 3600, …, and the multiplier grows once more after the last field.
    static func sexagesimalFits(_ text: String) -> Bool {
        var digits = Substring(text.replacingOccurrences(of: "_", with: ""))
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        if digits.hasPrefix("0") || !digits.contains(":") { return true }
        var base = 1
        var value = 0
        for field in digits.split(separator: ":", omittingEmptySubsequences: false).reversed() {
            guard let digit = Int(field, radix: 10) else { continue }
            let (product, o1) = digit.multipliedReportingOverflow(by: base)
            let (sum, o2) = value.addingReportingOverflow(product)
            let (next, o3) = base.multipliedReportingOverflow(by: 60)
            if o1 || o2 || o3 { return false }
            (value, base) = (sum, next)
        }
        return value != .min
    }

    private static func at(_ node: Node) -> String {
        node.mark.map { "line \($0.line), column \($0.column): " } ?? ""
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: return "scalar"
        case .sequence: return "list"
        case .mapping: return "mapping"
        }
    }
}
