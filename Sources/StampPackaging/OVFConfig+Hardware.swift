import Yams

/// `hardware:` and the product sections of an ova-compose config.
extension ConfigReader {
    /// The keys each hardware `type` takes besides `type`, `config` and `configuration`.
    static let hardwareKeys: [String: Set<String>] = [
        "cpus": ["number"], "memory": ["size"],
        "scsi_controller": ["subtype"], "sata_controller": [], "nvme_controller": [], "ide_controller": [],
        "usb_controller": [], "usb3_controller": [], "video_card": [], "vmci": [],
        "hard_disk": [
            "parent", "disk_image", "raw_image", "disk_capacity", "directory", "units", "disk_id", "file_id", "sector_size",
        ],
        "cd_drive": ["parent", "image", "connected", "file_id"], "floppy": ["image", "connected", "file_id"],
        "ethernet": ["network", "subtype", "connected", "address"],
    ]

    /// `rasd:ResourceSubType` of a SCSI controller by its lower-cased name (vSphere's spelling).
    static let scsiSubtypes = [
        "lsilogic": "lsilogic", "lsilogicsas": "lsilogicsas", "lsilogicas": "lsilogicas", "buslogic": "buslogic",
        "virtualscsi": "VirtualSCSI",
        "pvscsi": "VirtualSCSI",
    ]
    /// `rasd:ResourceSubType` of a NIC by its lower-cased name.
    static let ethernetSubtypes = [
        "vmxnet3": "VmxNet3", "vmxnet2": "VmxNet2", "e1000": "E1000", "e1000e": "E1000e", "pcnet32": "PCNet32",
    ]
    /// The last component of a path.
    static func fileName(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    /// `NAME.vmdk` as it is; any other name with its extension (Python's `splitext`) replaced
    /// by `.vmdk`.
    static func vmdkName(_ name: String) -> String {
        if name.hasSuffix(".vmdk") { return name }
        let stem = name.lastIndex(of: ".").map { name[..<$0] }.flatMap { $0.isEmpty ? nil : $0 } ?? Substring(name)
        return String(stem) + ".vmdk"
    }

    /// `capacityAllocationUnits` by ova-compose's short names.
    static let units = ["byte": "byte", "KB": "byte * 2^10", "MB": "byte * 2^20", "GB": "byte * 2^30", "TB": "byte * 2^40"]

    mutating func hardware(_ node: Node, into config: inout OVFConfig) throws {
        for (id, value) in try mapping(node, "hardware") {
            let path = "hardware.\(id)"
            if id == "config" {
                for (key, v) in try mapping(value, path) {
                    if isNull(v) {
                        config.unsetHardwareConfig.append(key)
                    } else {
                        config.hardwareConfig.append(.init(key: key, value: try configValue(v, "\(path).\(key)")))
                    }
                }
                continue
            }
            // `cpus: 2` and `memory: 4096` are shorthands for the item of that type.
            if case .scalar = value, id == "cpus" || id == "memory" {
                let kind: OVFConfig.Kind =
                    id == "cpus"
                    ? .cpus(try int(value, path, in: 1...768)) : .memory(mib: try int(value, path, in: 4...(24 << 20)))
                config.hardware.append(.init(id: id, kind: kind))
                continue
            }
            let pairs = try mapping(value, path)
            let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
            let type: String
            if let t = fields["type"] {
                type = try string(t, "\(path).type")
            } else if id == "cpus" || id == "memory" {
                type = id
            } else {
                throw OVFConfigError(key: "\(path).type", reason: "missing", line: line(value))
            }
            guard let keys = Self.hardwareKeys[type] else {
                throw OVFConfigError(
                    key: "\(path).type",
                    reason: "unknown type '\(type)' (use \(Self.hardwareKeys.keys.sorted().joined(separator: ", ")))",
                    line: line(fields["type"] ?? value))
            }
            _ = try mapping(value, path, allowed: keys.union(["type", "config", "configuration"]))
            var item = OVFConfig.Item(id: id, kind: try kind(type, fields, path))
            if let c = fields["config"] {
                // A null value leaves the key out (ova-compose's way to drop a default).
                for (key, v) in try mapping(c, "\(path).config") {
                    if isNull(v) {
                        item.unsetConfig.append(key)
                    } else {
                        item.config.append(.init(key: key, value: try configValue(v, "\(path).config.\(key)")))
                    }
                }
            }
            item.configuration = try fields["configuration"].map { try string($0, "\(path).configuration") }
            item.subtypeWritten = try fields["subtype"].map { try string($0, "\(path).subtype") }
            if type == "scsi_controller", let given = item.subtypeWritten {
                item.subtypeWritten = given.lowercased() == "virtualscsi" ? "VirtualSCSI" : given.lowercased()
            }
            if type == "cd_drive" || type == "floppy" {
                item.imageFileID = try fields["file_id"].map { try string($0, "\(path).file_id") }
            }
            if type == "hard_disk" {
                // ova-compose's member name: disk_image's file name, else raw_image's with
                // `.vmdk` for its extension; stamp gives a disk_image that is not a .vmdk (and so
                // is converted) the `.vmdk` name too.
                if let node = fields["disk_image"], !isUnsetParam(node) {
                    item.diskFileName = Self.vmdkName(Self.fileName(try string(node, "\(path).disk_image")))
                } else if let node = fields["raw_image"] {
                    item.diskFileName = Self.vmdkName(Self.fileName(try string(node, "\(path).raw_image")))
                }
            }
            config.hardware.append(item)
        }
    }

    private func kind(_ type: String, _ f: [String: Node], _ path: String) throws -> OVFConfig.Kind {
        func required(_ key: String) throws -> Node {
            guard let node = f[key] else { throw OVFConfigError(key: "\(path).\(key)", reason: "missing") }
            return node
        }
        func connected(default value: Bool) throws -> Bool {
            try f["connected"].map { try bool($0, "\(path).connected") } ?? value
        }
        switch type {
        case "cpus": return .cpus(try int(try required("number"), "\(path).number", in: 1...768))
        case "memory": return .memory(mib: try int(try required("size"), "\(path).size", in: 4...(24 << 20)))
        case "scsi_controller":
            guard let node = f["subtype"] else { return .scsiController(subtype: "VirtualSCSI") }
            let name = try string(node, "\(path).subtype")
            guard let subtype = Self.scsiSubtypes[name.lowercased()] else {
                throw OVFConfigError(
                    key: "\(path).subtype",
                    reason: "unknown SCSI controller '\(name)' (use lsilogic, lsilogicsas, buslogic, virtualscsi)",
                    line: line(node))
            }
            return .scsiController(subtype: subtype)
        case "sata_controller": return .sataController
        case "nvme_controller": return .nvmeController
        case "ide_controller": return .ideController
        case "usb_controller": return .usbController
        case "usb3_controller": return .usb3Controller
        case "video_card": return .videoCard
        case "vmci": return .vmci
        case "hard_disk":
            let parent = try string(try required("parent"), "\(path).parent")
            var units = "byte"
            if let node = f["units"] {
                let name = try string(node, "\(path).units")
                guard let u = Self.units[name] ?? (Self.units.values.contains(name) ? name : nil) else {
                    throw OVFConfigError(
                        key: "\(path).units", reason: "'\(name)' is not byte, KB, MB, GB or TB", line: line(node))
                }
                units = u
            }
            let source: OVFConfig.DiskSource
            if let node = f["disk_image"], !isUnsetParam(node) {
                // ova-compose converts raw_image into disk_image; stamp reads either format itself.
                source = .image(
                    path: try file(f["raw_image"] ?? node, "\(path).\(f["raw_image"] == nil ? "disk_image" : "raw_image")"))
            } else if let node = f["raw_image"] {
                source = .image(path: try file(node, "\(path).raw_image"))
            } else if let node = f["directory"] {
                source = .directory(path: try file(node, "\(path).directory"))
            } else if let node = f["disk_capacity"] {
                source = .empty(capacity: UInt64(try int(node, "\(path).disk_capacity", in: 1...Int.max)))
            } else {
                source = .tree
            }
            let sector = try f["sector_size"].map { node -> Int in
                let n = try int(node, "\(path).sector_size")
                guard n == 512 || n == 4096 else {
                    throw OVFConfigError(key: "\(path).sector_size", reason: "\(n) is not 512 or 4096", line: line(node))
                }
                return n
            }
            return .hardDisk(
                parent: parent, source: source, units: units, diskID: try f["disk_id"].map { try string($0, "\(path).disk_id") },
                fileID: try f["file_id"].map { try string($0, "\(path).file_id") }, sectorSize: sector)
        case "cd_drive":
            return .cdDrive(
                parent: try string(try required("parent"), "\(path).parent"),
                image: try f["image"].map { try file($0, "\(path).image") },
                connected: try connected(default: false))
        case "floppy":
            return .floppy(image: try f["image"].map { try file($0, "\(path).image") }, connected: try connected(default: false))
        default:  // ethernet
            let node = try required("subtype")
            let name = try string(node, "\(path).subtype")
            guard let subtype = Self.ethernetSubtypes[name.lowercased()] else {
                throw OVFConfigError(
                    key: "\(path).subtype", reason: "unknown adapter '\(name)' (use vmxnet3, e1000, e1000e, vmxnet2, pcnet32)",
                    line: line(node))
            }
            return .ethernet(
                network: try string(try required("network"), "\(path).network"), subtype: subtype,
                connected: try connected(default: true),
                address: try f["address"].map { try string($0, "\(path).address") })
        }
    }

    static let productKeys: Set<String> = [
        "info", "product", "vendor", "version", "full_version", "product_url", "vendor_url", "app_url", "class", "instance",
        "required",
        "transports", "categories", "properties",
    ]
    static let propertyKeys: Set<String> = [
        "type", "value", "password", "user_configurable", "qualifiers", "label", "description", "category", "required",
        "configuration",
    ]
    /// The property types of DSP0243 (table 7), with the integer ranges they allow.
    static let propertyTypes: [String: ClosedRange<Int>?] = [
        "uint8": 0...255, "sint8": -128...127, "uint16": 0...65535, "sint16": -32768...32767, "uint32": 0...4_294_967_295,
        "sint32": -2_147_483_648...2_147_483_647, "uint64": 0...Int.max, "sint64": Int.min...Int.max, "string": nil,
        "boolean": nil,
        "real32": nil, "real64": nil,
    ]

    mutating func product(_ node: Node, _ path: String, allowed: Set<String> = productKeys) throws -> OVFConfig.Product {
        var p = OVFConfig.Product()
        let pairs = try mapping(node, path, allowed: allowed)
        for (key, value) in pairs {
            let at = "\(path).\(key)"
            switch key {
            case "info": p.info = try string(value, at)
            case "product": p.product = try string(value, at)
            case "vendor": p.vendor = try string(value, at)
            case "version": p.version = try string(value, at)
            case "full_version": p.fullVersion = try string(value, at)
            case "product_url": p.productURL = try string(value, at)
            case "vendor_url": p.vendorURL = try string(value, at)
            case "app_url": p.appURL = try string(value, at)
            case "class": p.classAttribute = try string(value, at)
            case "instance": p.instance = try string(value, at)
            case "required": p.required = try bool(value, at)
            case "transports":
                p.transports = try stringList(value, at)
                for t in p.transports where t.isEmpty || t.contains(" ") {
                    throw OVFConfigError(
                        key: at, reason: "'\(t)' is not a transport name (iso, com.vmware.guestInfo)", line: line(value))
                }
            case "categories":
                for (id, label) in try mapping(value, at) {
                    p.categories.append(.init(id: id, label: try string(label, "\(at).\(id)")))
                }
            default: break
            }
        }
        if let node = pairs.first(where: { $0.0 == "properties" })?.1 {
            for (key, value) in try mapping(node, "\(path).properties") {
                p.properties.append(try property(key, value, "\(path).properties.\(key)", categories: p.categories))
            }
        }
        return p
    }

    mutating func property(_ key: String, _ node: Node, _ path: String, categories: [OVFConfig.Category]) throws
        -> OVFConfig.Property
    {
        let pairs = try mapping(node, path, allowed: Self.propertyKeys)
        guard let typeNode = pairs.first(where: { $0.0 == "type" })?.1 else {
            throw OVFConfigError(key: "\(path).type", reason: "missing", line: line(node))
        }
        let type = try string(typeNode, "\(path).type")
        guard let range = Self.propertyTypes[type] else {
            throw OVFConfigError(
                key: "\(path).type",
                reason: "'\(type)' is not an OVF property type (\(Self.propertyTypes.keys.sorted().joined(separator: ", ")))",
                line: line(typeNode))
        }
        var p = OVFConfig.Property(key: key, type: type)
        for (name, value) in pairs {
            let at = "\(path).\(name)"
            switch name {
            case "value":
                if case .mapping = value {
                    for (k, v) in try mapping(value, at, allowed: ["default", "configurations"]) {
                        if k == "default" {
                            p.value = try checked(v, "\(at).default", type: type, range: range)
                            p.valueWritten = try pythonString(v, "\(at).default")
                        } else {
                            for (id, cv) in try mapping(v, "\(at).configurations") {
                                p.configurationValues.append(
                                    .init(key: id, value: try checked(cv, "\(at).configurations.\(id)", type: type, range: range))
                                )
                                p.configurationValuesWritten.append(
                                    .init(key: id, value: try pythonString(cv, "\(at).configurations.\(id)") ?? "None"))
                            }
                        }
                    }
                } else {
                    p.value = try checked(value, at, type: type, range: range)
                    p.valueWritten = try pythonString(value, at)
                }
            case "password": p.password = try bool(value, at)
            case "user_configurable": p.userConfigurable = try bool(value, at)
            case "qualifiers": p.qualifiers = try string(value, at)
            case "label": p.label = try string(value, at)
            case "description": p.description = try string(value, at)
            case "required": p.required = try bool(value, at)
            case "configuration": p.configuration = try string(value, at)
            case "category":
                let id = try string(value, at)
                guard categories.contains(where: { $0.id == id }) else {
                    throw OVFConfigError(key: at, reason: "'\(id)' is not one of the section's categories", line: line(value))
                }
                p.category = id
            default: break
            }
        }
        return p
    }

    /// A scalar as Python's `str()` shows what PyYAML made of it (nil for null): `True` and
    /// `False` for booleans, decimal integers without leading zeros or `_`, text unchanged.
    func pythonString(_ node: Node, _ path: String) throws -> String? {
        let (text, tag) = try scalar(node, path)
        switch tag {
        case .null: return nil
        case .bool: return try bool(node, path) ? "True" : "False"
        case .int: return Int(text.replacingOccurrences(of: "_", with: "")).map(String.init) ?? text
        default: return text
        }
    }

    /// A property value, checked against its OVF type (integers in range, booleans).
    private func checked(_ node: Node, _ path: String, type: String, range: ClosedRange<Int>?) throws -> String {
        let (text, tag) = try scalar(node, path)
        if tag == .null { return "" }
        if let range {
            _ = try int(node, path, in: range)
            return text
        }
        if type == "boolean" { return try bool(node, path) ? "true" : "false" }
        if type.hasPrefix("real"), Double(text) == nil {
            throw OVFConfigError(key: path, reason: "expected a number, found '\(text.prefix(40))'", line: line(node))
        }
        return text
    }
}
