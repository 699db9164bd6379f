import Yams

/// `Yams.load` without the traps: the checks Yams leaves to force-unwraps, done first.
///
/// `Yams.load(yaml:)` composes the document into a `Node` tree and then builds Swift values
/// from it. The second step force-unwraps every mapping key as a string, so a document with a
/// complex key (`? - a` or `? {a: b}`, valid YAML) stops the process; and it expands aliases,
/// so a few lines of nested anchors (`b: [*a, *a, …]`, the "billion laughs") grow without
/// bound. Element files (`package-installs.yaml`, `DIB_BLOCK_DEVICE_CONFIG`) are user input, so
/// this composes the tree, walks it once with aliases counted as expanded (stopping at a
/// limit), and only then builds the values.
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
        case .scalar:
            return
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
