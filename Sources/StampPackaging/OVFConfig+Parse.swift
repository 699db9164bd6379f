import StampBytes
import Yams

extension OVFConfig {
    /// Reads an ova-compose YAML document.
    ///
    /// Every key is checked against what ova-compose reads for its place; the first unknown key,
    /// value of the wrong type or dangling reference (a `parent`, `network`, `category` or
    /// `configuration` that names nothing) ends the parse with an ``OVFConfigError`` naming it.
    ///
    /// - Parameters:
    ///   - params: the `--param NAME=VALUE` values for `!param` scalars.
    ///   - baseDirectory: what relative `disk_image`, `raw_image`, `image` and `file` paths are
    ///     relative to (the config file's directory).
    public static func parse(yaml: String, params: [String: String] = [:], baseDirectory: String = ".") throws -> OVFConfig {
        if YAMLNesting.isTooDeep(yaml) { throw OVFConfigError(key: "", reason: YAMLNesting.refusal) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw OVFConfigError(
                key: "", reason: "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root else { throw OVFConfigError(key: "", reason: "the config is empty") }
        var reader = ConfigReader(params: params, base: baseDirectory)
        return try reader.config(root)
    }
}

/// The walk over the composed YAML: one method per section, each checking its keys.
struct ConfigReader {
    let params: [String: String]
    let base: String
    /// Nodes visited; aliases are visited again each time, so this bounds "billion laughs".
    var visited = 0

    init(params: [String: String], base: String) {
        self.params = params
        self.base = base
    }

    // MARK: typed access

    /// A mapping's (key, value) pairs; refuses keys not in `allowed`.
    mutating func mapping(_ node: Node, _ path: String, allowed: Set<String>? = nil) throws -> [(String, Node)] {
        visited += 1
        guard visited < 100_000 else {
            throw OVFConfigError(key: path, reason: "the config expands to too many values (nested aliases)")
        }
        guard case .mapping(let mapping) = node else {
            throw OVFConfigError(key: path, reason: "expected a mapping, found \(kind(node))", line: line(node))
        }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let k) = key else {
                throw OVFConfigError(key: path, reason: "a key must be a plain value, not a \(kind(key))", line: line(key))
            }
            let name = k.string
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            if let allowed, !allowed.contains(name) {
                throw OVFConfigError(
                    key: keyPath,
                    reason:
                        "unknown key (\(path.isEmpty ? "top level" : path) takes \(allowed.sorted().joined(separator: ", ")))",
                    line: line(key))
            }
            if pairs.contains(where: { $0.0 == name }) {
                throw OVFConfigError(key: keyPath, reason: "given twice", line: line(key))
            }
            pairs.append((name, value))
        }
        return pairs
    }

    /// A scalar after `!param` substitution: its text and YAML 1.1 type.
    func scalar(_ node: Node, _ path: String) throws -> (text: String, type: Tag.Name) {
        guard case .scalar(let s) = node else {
            throw OVFConfigError(key: path, reason: "expected a single value, found \(kind(node))", line: line(node))
        }
        if s.tag.description == "!param" {
            let spec = s.string
            let parts = spec.split(separator: "=", maxSplits: 1).map { $0.trimmedOfBlanks }
            let name = parts.first ?? ""
            guard let value = params[name] ?? (parts.count == 2 ? parts[1] : nil) else {
                throw OVFConfigError(
                    key: path, reason: "no --param \(name)=VALUE given and '!param \(spec)' has no default", line: line(node))
            }
            return (value, Resolver.default.resolveTag(of: Node(value)))
        }
        return (s.string, Resolver.default.resolveTag(of: node))
    }

    /// Whether `node` is a `!param` without a value or a default (a disk left to stamp).
    func isUnsetParam(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.tag.description == "!param" else { return false }
        let parts = s.string.split(separator: "=", maxSplits: 1)
        return parts.count == 1 && params[parts[0].trimmedOfBlanks] == nil
    }

    /// Whether `node` is a plain null (`~`, `null` or nothing).
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.tag.description != "!param" else { return false }
        return Resolver.default.resolveTag(of: node) == .null
    }

    func string(_ node: Node, _ path: String) throws -> String {
        let (text, type) = try scalar(node, path)
        if type == .null { throw OVFConfigError(key: path, reason: "expected a value, found nothing", line: line(node)) }
        return text
    }

    func int(_ node: Node, _ path: String, in range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        let (text, type) = try scalar(node, path)
        guard type == .int || type == .str, let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw OVFConfigError(key: path, reason: "expected an integer, found '\(text.prefix(40))'", line: line(node))
        }
        guard range.contains(value) else {
            throw OVFConfigError(
                key: path, reason: "\(value) is not in \(range.lowerBound)...\(range.upperBound)", line: line(node))
        }
        return value
    }

    func bool(_ node: Node, _ path: String) throws -> Bool {
        let (text, type) = try scalar(node, path)
        guard type == .bool else {
            throw OVFConfigError(key: path, reason: "expected true or false, found '\(text.prefix(40))'", line: line(node))
        }
        return ["true", "yes", "on", "y"].contains(text.lowercased())
    }

    /// A scalar as `vmw:Config` / `vmw:ExtraConfig` write it: booleans as `true`/`false`.
    func configValue(_ node: Node, _ path: String) throws -> String {
        let (text, type) = try scalar(node, path)
        if type == .bool { return try bool(node, path) ? "true" : "false" }
        if type == .null { throw OVFConfigError(key: path, reason: "expected a value, found nothing", line: line(node)) }
        return text
    }

    mutating func stringList(_ node: Node, _ path: String) throws -> [String] {
        guard case .sequence(let items) = node else {
            throw OVFConfigError(key: path, reason: "expected a list, found \(kind(node))", line: line(node))
        }
        return try items.enumerated().map { try string($0.element, "\(path)[\($0.offset)]") }
    }

    /// A path from the config, relative to its directory.
    func file(_ node: Node, _ path: String) throws -> String {
        let value = try string(node, path)
        return value.hasPrefix("/") || base == "." ? value : base + "/" + value
    }

    func line(_ node: Node) -> Int? { node.mark?.line }

    func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "'\(s.string.prefix(40))'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmedOfBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
