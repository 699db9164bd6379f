import StampBytes
import Yams

extension BlockDeviceConfig {
    /// Parses and validates a DIB v2 block-device configuration.
    ///
    /// Tree form (plugins nested under their base, names defaulting to `<plugin>_<base>`) and
    /// graph form (explicit `name`/`base`) are both accepted, and may be mixed.
    ///
    /// - Parameters:
    ///   - yaml: the document (the text of `DIB_BLOCK_DEVICE_CONFIG` or of the file it names).
    ///   - rootDefaults: the legacy globals that fill the node named `mkfs_root`.
    /// - Throws: ``Error/syntax(message:line:column:)`` for malformed YAML, or
    ///   ``Error/invalid(_:)`` listing every problem found, each with its node.
    public static func parse(yaml: String, rootDefaults: RootDefaults = RootDefaults()) throws -> BlockDeviceConfig {
        var parser = ConfigParser()
        return try parse(yaml: yaml, rootDefaults: rootDefaults, with: &parser)
    }

    /// The same walk with the caller's parser, whose counts (``ConfigParser/collected``: the
    /// plugin entries visited) tests read to check that the walk's work is bounded.
    static func parse(yaml: String, rootDefaults: RootDefaults, with parser: inout ConfigParser) throws -> BlockDeviceConfig {
        let root: Node?
        // Yams composes by recursion (no depth limit in libyaml): a deep document would
        // overflow the stack. DIB's configurations nest a few levels.
        if YAMLNesting.isTooDeep(yaml) { throw Error.syntax(message: YAMLNesting.refusal, line: 1, column: 1) }
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error)
        }
        return try parser.run(root, rootDefaults: rootDefaults)
    }

    private static func syntaxError(_ error: YamlError) -> Error {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let text = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return .syntax(message: text, line: mark.line, column: mark.column)
        default:
            return .syntax(message: "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable", line: 1, column: 1)
        }
    }
}

/// One plugin node after flattening the tree: its plugin, name, base and own keys.
struct RawNode {
    var plugin: String
    var name: String
    var base: String?
    var fields: [String: Node]
    var location: BlockDeviceConfig.Location
    /// For `partitioning`: the partitions, each flattened the same way.
    var partitions: [RawNode] = []
}

/// Walks the YAML once, collecting nodes and problems; never stops at the first problem.
struct ConfigParser {
    typealias Config = BlockDeviceConfig
    var problems: [Config.Problem] = []
    var nodes: [RawNode] = []

    static let plugins: Set<String> = ["local_loop", "partitioning", "lvm", "mkfs", "mount", "fstab"]
    static let keys: [String: Set<String>] = [
        "local_loop": ["name", "size", "directory", "block_size"],
        "partitioning": ["name", "base", "label", "align", "partitions"],
        "partition": ["name", "size", "flags", "type"],
        "mkfs": ["name", "base", "type", "label", "opts", "uuid"],
        "mount": ["name", "base", "mount_point"],
        "fstab": ["name", "base", "options", "dump-freq", "fsck-passno"],
    ]

    func location(_ node: Node?, _ path: String) -> Config.Location {
        Config.Location(path: path, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0)
    }

    mutating func report(_ issue: Config.Issue, _ node: Node?, _ path: String) {
        problems.append(Config.Problem(issue, at: location(node, path)))
    }

    /// A scalar's text, or a problem if the node is a list or mapping.
    mutating func string(_ node: Node?, key: String, path: String) -> String? {
        guard let node else { return nil }
        if case .scalar(let s) = node { return s.string }
        report(.notAString(key: key), node, path)
        return nil
    }

    mutating func run(_ root: Node?, rootDefaults: Config.RootDefaults) throws -> Config {
        guard let root, case .sequence(let items) = root else {
            report(.notAList, root, "")
            throw Config.Error.invalid(problems)
        }
        for (i, item) in items.enumerated() {
            let path = "[\(i)]"
            guard case .mapping(let map) = item else {
                report(.notAMapping, item, path)
                continue
            }
            guard map.count == 1, let (key, value) = map.first.map({ ($0.key, $0.value) }) else {
                report(.pluginKeyCount(map.count), item, path)
                continue
            }
            let plugin = key.string ?? ""
            collect(plugin: plugin, node: value, keyNode: key, parent: nil, path: path + "." + plugin)
        }
        let config = assemble(rootDefaults: rootDefaults)
        if !problems.isEmpty { throw Config.Error.invalid(problems) }
        guard let config else { throw Config.Error.invalid([Config.Problem(.missingImage, at: location(root, ""))]) }
        return config
    }

    /// Flattens one plugin node and the plugin nodes nested in it.
    /// Plugin nodes collected so far: YAML aliases can make a short document name the same
    /// mapping exponentially often, so the walk stops at ``maximumNodes``: past it a visit
    /// returns at once, so at most (maximumNodes + 1) × (plugins nested in one entry) visits.
    var collected = 0
    static let maximumNodes = 4096

    mutating func collect(plugin: String, node: Node, keyNode: Node, parent: String?, path: String) {
        collected += 1
        if collected == Self.maximumNodes + 1 { report(.tooManyNodes(Self.maximumNodes), keyNode, path) }
        if collected > Self.maximumNodes { return }
        guard Self.plugins.contains(plugin) else {
            report(.unknownPlugin(plugin), keyNode, path)
            return
        }
        if plugin == "lvm" {
            report(.unsupportedPlugin("lvm"), keyNode, path)
            return
        }
        var fields: [String: Node] = [:]
        var nested: [(String, Node, Node)] = []
        switch node {
        case .mapping(let map):
            for (k, v) in map {
                let name = k.string ?? ""
                if Self.plugins.contains(name) && plugin != "partitioning" {
                    nested.append((name, v, k))
                } else if Self.keys[plugin]?.contains(name) == true {
                    fields[name] = v
                } else {
                    report(.unknownKey(name), k, path + "." + name)
                }
            }
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null":
            break  // `mkfs:` with only defaults
        default:
            report(.notAMapping, node, path)
            return
        }
        let explicitName = string(fields["name"], key: "name", path: path + ".name")
        let base = string(fields["base"], key: "base", path: path + ".base") ?? parent
        var name = explicitName ?? (base.map { "\(plugin)_\($0)" } ?? "")
        if plugin == "partitioning" { name = explicitName ?? "partitioning_\(base ?? "")" }
        if plugin == "local_loop" && explicitName == nil { report(.missingKey("name"), node, path) }
        if plugin != "local_loop" && base == nil { report(.missingKey("base"), node, path) }
        var raw = RawNode(
            plugin: plugin, name: name, base: plugin == "local_loop" ? nil : base, fields: fields,
            location: location(node, path))
        if plugin == "partitioning" { raw.partitions = collectPartitions(fields["partitions"], base: base, path: path) }
        nodes.append(raw)
        for (child, value, key) in nested {
            collect(plugin: child, node: value, keyNode: key, parent: name, path: path + "." + child)
        }
    }

    /// Flattens `partitions:`; plugin keys inside a partition nest under it.
    mutating func collectPartitions(_ node: Node?, base: String?, path: String) -> [RawNode] {
        let path = path + ".partitions"
        guard let node else { return [] }
        guard case .sequence(let list) = node else {
            report(.notAList, node, path)
            return []
        }
        var result: [RawNode] = []
        for (i, item) in list.enumerated() {
            let itemPath = "\(path)[\(i)]"
            guard case .mapping(let map) = item else {
                report(.notAMapping, item, itemPath)
                continue
            }
            var fields: [String: Node] = [:]
            var nested: [(String, Node, Node)] = []
            for (k, v) in map {
                let key = k.string ?? ""
                if Self.plugins.contains(key) {
                    nested.append((key, v, k))
                } else if Self.keys["partition"]?.contains(key) == true {
                    fields[key] = v
                } else {
                    report(.unknownKey(key), k, itemPath + "." + key)
                }
            }
            let name = string(fields["name"], key: "name", path: itemPath + ".name")
            if name == nil { report(.missingKey("name"), item, itemPath) }
            if fields["size"] == nil { report(.missingKey("size"), item, itemPath) }
            result.append(
                RawNode(
                    plugin: "partition", name: name ?? "", base: base, fields: fields,
                    location: location(item, itemPath)))
            for (child, value, key) in nested {
                collect(plugin: child, node: value, keyNode: key, parent: name ?? "", path: itemPath + "." + child)
            }
        }
        return result
    }
}
