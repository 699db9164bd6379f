import Yams

/// The sections of an ova-compose config, key by key (see ``OVFConfig`` for the list).
extension ConfigReader {
    static let topKeys: Set<String> = [
        "system", "networks", "hardware", "product", "product_sections", "environment", "annotation", "eula",
        "configurations", "extra_configs",
    ]

    mutating func config(_ root: Node) throws -> OVFConfig {
        let top = try mapping(root, "", allowed: Self.topKeys)
        let sections = Dictionary(top, uniquingKeysWith: { a, _ in a })
        guard let systemNode = sections["system"] else {
            throw OVFConfigError(key: "system", reason: "missing (system.name is required)")
        }
        var config = OVFConfig(system: try system(systemNode))
        if let node = sections["networks"] {
            for (id, value) in try mapping(node, "networks") {
                let fields = Dictionary(
                    try mapping(value, "networks.\(id)", allowed: ["name", "description"]), uniquingKeysWith: { a, _ in a })
                guard let name = fields["name"] else {
                    throw OVFConfigError(key: "networks.\(id).name", reason: "missing", line: line(value))
                }
                config.networks.append(
                    .init(
                        id: id, name: try string(name, "networks.\(id).name"),
                        description: try fields["description"].map { try string($0, "networks.\(id).description") }))
            }
        }
        guard let hardwareNode = sections["hardware"] else { throw OVFConfigError(key: "hardware", reason: "missing") }
        try hardware(hardwareNode, into: &config)
        if sections["product"] != nil && sections["product_sections"] != nil {
            throw OVFConfigError(key: "product_sections", reason: "give either product or product_sections, not both")
        }
        var product = try sections["product"].map { try self.product($0, "product") }
        if let node = sections["environment"] {
            // ova-compose's shorthand: transports, categories and properties of the first product.
            let env = try self.product(node, "environment", allowed: ["transports", "categories", "properties"])
            var merged = product ?? OVFConfig.Product()
            merged.transports = env.transports
            merged.categories = env.categories
            merged.properties = env.properties
            product = merged
        }
        if let product { config.products.append(product) }
        if let node = sections["product_sections"] {
            guard case .sequence(let list) = node else {
                throw OVFConfigError(key: "product_sections", reason: "expected a list, found \(kind(node))", line: line(node))
            }
            for (i, item) in list.enumerated() { config.products.append(try self.product(item, "product_sections[\(i)]")) }
        }
        config.annotation = try sections["annotation"].map { try textBlock($0, "annotation", info: "Description of the Product") }
        config.eula = try sections["eula"].map { try textBlock($0, "eula", info: "End User License Agreement") }
        if let node = sections["configurations"] {
            for (id, value) in try mapping(node, "configurations") {
                let path = "configurations.\(id)"
                var c = OVFConfig.Configuration(id: id, label: id, description: id)
                for (key, v) in try mapping(value, path, allowed: ["label", "description", "default"]) {
                    switch key {
                    case "label":
                        c.label = try string(v, "\(path).label")
                        c.givenLabel = c.label
                    case "description":
                        c.description = try string(v, "\(path).description")
                        c.givenDescription = c.description
                    default: c.isDefault = try bool(v, "\(path).default")
                    }
                }
                config.configurations.append(c)
            }
        }
        if let id = config.system.defaultConfiguration {
            guard let i = config.configurations.firstIndex(where: { $0.id == id }) else {
                throw OVFConfigError(key: "system.default_configuration", reason: "'\(id)' is not one of configurations")
            }
            config.configurations[i].isDefault = true
        }
        if let node = sections["extra_configs"] {
            for (key, value) in try mapping(node, "extra_configs") {
                let path = "extra_configs.\(key)"
                let fields = Dictionary(
                    try mapping(value, path, allowed: ["value", "required"]), uniquingKeysWith: { a, _ in a })
                guard let v = fields["value"] else {
                    throw OVFConfigError(key: "\(path).value", reason: "missing", line: line(value))
                }
                config.extraConfigs.append(
                    .init(
                        key: key, value: try configValue(v, "\(path).value"),
                        required: try fields["required"].map { try bool($0, "\(path).required") }))
            }
        }
        try checkReferences(config)
        return config
    }

    mutating func system(_ node: Node) throws -> OVFConfig.System {
        let allowed: Set<String> = [
            "name", "type", "os_cim", "os_vmw", "os_name", "firmware", "secure_boot", "default_configuration",
            "no_default_configs",
        ]
        let fields = try mapping(node, "system", allowed: allowed)
        guard let nameNode = fields.first(where: { $0.0 == "name" })?.1 else {
            throw OVFConfigError(key: "system.name", reason: "missing")
        }
        var s = OVFConfig.System(name: try string(nameNode, "system.name"))
        for (key, value) in fields {
            let path = "system.\(key)"
            switch key {
            case "type":
                s.type = try string(value, path)
                let families = s.type.split(separator: " ")
                let valid =
                    !families.isEmpty
                    && families.allSatisfy { f in f.hasPrefix("vmx-") && f.count > 4 && f.dropFirst(4).allSatisfy(\.isNumber) }
                if !valid {
                    throw OVFConfigError(key: path, reason: "'\(s.type)' is not of the form vmx-NN [vmx-NN …]", line: line(value))
                }
            case "os_cim": s.osCIM = try int(value, path, in: 0...32767)
            case "os_vmw":
                s.osVMW = try string(value, path)
                s.osVMWWritten = s.osVMW
                // ova-compose's examples write `vmw.NAME`, the vSphere API's enum spelling.
                if s.osVMW.hasPrefix("vmw.") { s.osVMW.removeFirst(4) }
            case "os_name": s.osName = try string(value, path)
            case "firmware":
                let text = try string(value, path)
                guard let f = Firmware(rawValue: text) else {
                    throw OVFConfigError(key: path, reason: "'\(text)' is not bios or efi", line: line(value))
                }
                s.firmware = f
            case "secure_boot":
                s.secureBoot = try bool(value, path)
                s.secureBootGiven = s.secureBoot
            case "default_configuration": s.defaultConfiguration = try string(value, path)
            case "no_default_configs": s.noDefaultConfigs = try bool(value, path)
            default: break
            }
        }
        if s.name.isEmpty { throw OVFConfigError(key: "system.name", reason: "must not be empty") }
        return s
    }

    mutating func textBlock(_ node: Node, _ path: String, info: String) throws -> OVFConfig.TextBlock {
        var block = OVFConfig.TextBlock(info: info, text: "")
        var found = false
        for (key, value) in try mapping(node, path, allowed: ["info", "text", "file"]) {
            switch key {
            case "info":
                block.info = try string(value, "\(path).info")
                block.givenInfo = block.info
            case "text":
                block.text = try string(value, "\(path).text")
                found = true
            default:
                let file = try self.file(value, "\(path).file")
                guard let text = readText(file) else {
                    throw OVFConfigError(key: "\(path).file", reason: "cannot read '\(file)' as UTF-8 text", line: line(value))
                }
                block.text = text
                found = true
            }
        }
        if !found { throw OVFConfigError(key: "\(path).text", reason: "missing (give text or file)", line: line(node)) }
        return block
    }

    /// Every name one part of the config uses for another must exist.
    func checkReferences(_ config: OVFConfig) throws {
        let ids = Set(config.configurations.map(\.id))
        for item in config.hardware {
            if let c = item.configuration, !c.split(separator: " ").allSatisfy({ ids.contains(String($0)) }) {
                throw OVFConfigError(key: "hardware.\(item.id).configuration", reason: "'\(c)' is not one of configurations")
            }
            switch item.kind {
            case .hardDisk(let parent, _, _, _, _, _), .cdDrive(let parent, _, _):
                guard config.hardware.contains(where: { $0.id == parent && $0.kind.isController }) else {
                    throw OVFConfigError(key: "hardware.\(item.id).parent", reason: "'\(parent)' is not a controller in hardware")
                }
            case .ethernet(let network, _, _, _):
                guard config.networks.contains(where: { $0.id == network }) else {
                    throw OVFConfigError(key: "hardware.\(item.id).network", reason: "'\(network)' is not one of networks")
                }
            default: break
            }
        }
        var treeDisks = 0
        for disk in config.disks where disk.source == .tree { treeDisks += 1 }
        if treeDisks > 1 {
            throw OVFConfigError(
                key: "hardware", reason: "\(treeDisks) hard disks have no image; only one can be the disk stamp packs")
        }
        for (i, product) in config.products.enumerated() {
            for p in product.properties {
                if let c = p.configuration, !ids.contains(c) {
                    throw OVFConfigError(
                        key: "product[\(i)].properties.\(p.key).configuration", reason: "'\(c)' is not one of configurations")
                }
                for v in p.configurationValues where !ids.contains(v.key) {
                    throw OVFConfigError(
                        key: "product[\(i)].properties.\(p.key).value.configurations.\(v.key)",
                        reason: "not one of configurations")
                }
            }
        }
    }
}

/// A whole small file as UTF-8, or nil.
func readText(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
        if bytes.count > 16 << 20 { return nil }
    }
    return String(validating: bytes, as: UTF8.self)
}

#if canImport(Glibc)
    import Glibc
#endif
