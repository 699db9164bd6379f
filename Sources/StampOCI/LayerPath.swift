/// Member names of layer tars, checked and normalized before anything touches the disk.
///
/// ```
/// "./usr/bin/"    → "usr/bin"       leading "./", "." components, repeated and trailing "/" dropped
/// "./"  "."       → ""              the root itself
/// "/etc/passwd"   → refused         absolute
/// "a/../../x"     → refused         any ".." component, even one that would stay inside
/// ```
enum LayerPath {
    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    /// The normalized relative path of a member name, as bytes.
    /// - Throws: ``OCIError/hostileMember(layer:path:reason:)`` for an absolute name or a
    ///   `..` component.
    static func normalizeBytes(_ name: [UInt8], layer: String) throws -> [UInt8] {
        if name.first == slash {
            throw OCIError.hostileMember(layer: layer, path: display(name), reason: "absolute path")
        }
        var out: [UInt8] = []
        for component in name.split(separator: slash, omittingEmptySubsequences: true) {
            if component.elementsEqual([dot]) { continue }
            if component.elementsEqual([dot, dot]) {
                throw OCIError.hostileMember(layer: layer, path: display(name), reason: "path traversal ('..')")
            }
            if !out.isEmpty { out.append(slash) }
            out += component
        }
        return out
    }

    static func normalize(_ name: [UInt8], layer: String) throws -> String {
        display(try normalizeBytes(name, layer: layer))
    }

    /// The name for messages (invalid UTF-8 shown as U+FFFD).
    static func display(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The parent of a normalized path ("" for a top-level name) and its last component.
    static func split(_ path: [UInt8]) -> (parent: [UInt8], name: [UInt8]) {
        guard let last = path.lastIndex(of: slash) else { return ([], path) }
        return (Array(path[..<last]), Array(path[(last + 1)...]))
    }

    /// `parent/name`, or `name` at the top.
    static func join(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
        parent.isEmpty ? name : parent + [slash] + name
    }
}
