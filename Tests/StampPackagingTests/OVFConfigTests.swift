import Foundation
import StampTestSupport
import Testing
import Yams

@testable import StampPackaging

/// The ova-compose config: every key of `Tests/Fixtures/ova/all-keys.yaml` lands in the OVF
/// (read back with xmllint's XPath, compared with the YAML as Yams reads it), the OVF
/// validates against the DMTF schema, and bad configs fail in one line naming the key.
@Suite struct OVFConfigTests {
    static let fixture = repositoryRoot + "/Tests/Fixtures/ova/all-keys.yaml"

    static func parseFixture(params: [String: String] = [:]) throws -> OVFConfig {
        try OVFConfig.parse(
            yaml: String(contentsOfFile: fixture, encoding: .utf8), params: params,
            baseDirectory: repositoryRoot + "/Tests/Fixtures/ova")
    }

    /// The fixture's descriptor as `stamp pack` writes it (``OVFComposeEnvelope``, the config
    /// completed for a BIOS layout), with made-up member sizes: 1000, 2000, ….
    static func renderFixture() throws -> (config: OVFConfig, text: String) {
        let config = try parseFixture()
        var disks: [String: OVFComposeEnvelope.Disk] = [:]
        var files: [OVFComposeEnvelope.File] = []
        for (n, disk) in config.disks.enumerated() {
            let (item, source) = disk
            guard case .hardDisk(_, _, let units, let diskID, _, let sector) = item.kind else { continue }
            let id = diskID ?? "vmdisk\(n + 1)"
            if case .empty(let c) = source {
                disks[item.id] = .init(
                    diskID: id, fileID: nil, capacity: "\(c)", units: units, populatedSize: nil, sectorSize: nil)
                continue
            }
            let fileID = "file\(n + 1)"
            files.append(.init(id: fileID, href: "vm-disk\(n + 1).vmdk", size: UInt64(n + 1) * 1000))
            disks[item.id] = .init(
                diskID: id, fileID: fileID, capacity: OVFComposeEnvelope.Disk.capacity(bytes: 64 << 20, units: units),
                units: units, populatedSize: nil, sectorSize: sector ?? 512)
        }
        let text = OVFComposeEnvelope(config: config.packed(firmware: .bios), files: files, disks: disks).text()
        return (config, text)
    }

    func withOVF<T>(_ text: String, _ body: (String) throws -> T) throws -> T {
        let dir = try TemporaryDirectory("ovf-config")
        defer { dir.cleanup() }
        let file = dir.file("vm.ovf")
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return try body(file)
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func everyKeyValidatesAgainstTheDMTFSchema() throws {
        let (_, text) = try Self.renderFixture()
        let result = try withOVF(text) { file in
            try run(["xmllint", "--noout", "--nonet", "--schema", ovfSchemaDirectory + "/dsp8023_1.1.1.xsd", file])
        }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("validates"), "\(result.output)")
        #expect(!result.output.contains("fails"), "\(result.output)")
    }

    /// Every key of the fixture, as Yams reads it, against what xmllint finds in the OVF.
    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func everyKeysValueIsInTheOVF() throws {
        let (_, text) = try Self.renderFixture()
        let raw = try String(contentsOfFile: Self.fixture, encoding: .utf8)
        // The fixture's `!param` defaults, resolved as ova-compose does, for Yams.
        let resolved = raw.replacingOccurrences(of: #"!param [a-z]+=([^\s]+)"#, with: "$1", options: .regularExpression)
        let yaml = try #require(try Yams.load(yaml: resolved) as? [String: Any])
        try withOVF(text) { file in
            func xpath(_ expression: String) throws -> String {
                let r = try run(["xmllint", "--nonet", "--xpath", expression, file])
                // xmllint ends its answer with one newline of its own.
                return r.status == 0 ? String(r.stdout.hasSuffix("\n") ? r.stdout.dropLast() : r.stdout[...]) : ""
            }
            func el(_ name: String) -> String { "*[local-name()='\(name)']" }
            func item(_ id: String) -> String { "//\(el("Item"))[\(el("ElementName"))='\(id)']" }
            func str(_ v: Any?) -> String {
                if let b = v as? Bool { return b ? "true" : "false" }
                return v.map { "\($0)" } ?? ""
            }

            let system = try #require(yaml["system"] as? [String: Any])
            // ova-compose's system id is "vm" (one system per package); the name is `Name`.
            #expect(try xpath("string(//\(el("VirtualSystem"))/\(el("Name")))") == str(system["name"]))
            #expect(try xpath("string(//\(el("VirtualSystemIdentifier")))") == str(system["name"]))
            #expect(try xpath("string(//\(el("VirtualSystemType")))") == str(system["type"]))
            #expect(try xpath("string(//\(el("OperatingSystemSection"))/@*[local-name()='id'])") == str(system["os_cim"]))
            #expect(try xpath("string(//\(el("OperatingSystemSection"))/@*[local-name()='osType'])") == str(system["os_vmw"]))
            #expect(try xpath("string(//\(el("OperatingSystemSection"))/\(el("Description")))") == str(system["os_name"]))
            func vmwConfig(_ key: String, in scope: String = "//\(el("VirtualHardwareSection"))") throws -> String {
                try xpath("string(\(scope)/\(el("Config"))[@*[local-name()='key']='\(key)']/@*[local-name()='value'])")
            }
            #expect(try vmwConfig("firmware") == str(system["firmware"]))
            #expect(try vmwConfig("bootOptions.efiSecureBootEnabled") == str(system["secure_boot"]))
            #expect(
                try xpath("string(//\(el("Configuration"))[@*[local-name()='default']='true']/@*[local-name()='id'])")
                    == str(system["default_configuration"]))

            let networks = try #require(yaml["networks"] as? [String: [String: Any]])
            for (_, n) in networks {
                let description = try xpath(
                    "string(//\(el("Network"))[@*[local-name()='name']='\(str(n["name"]))']/\(el("Description")))")
                // ova-compose's text, whatever the config's description (informative only).
                #expect(description == "The \(str(n["name"])) Network", "network \(str(n["name"]))")
            }

            let hardware = try #require(yaml["hardware"] as? [String: Any])
            for (id, value) in hardware {
                if id == "config" {
                    for (k, v) in try #require(value as? [String: Any]) {
                        #expect(try vmwConfig(k) == str(v), "hardware.config.\(k)")
                    }
                    continue
                }
                #expect(try xpath("count(\(item(id)))") == "1", "hardware.\(id) has one Item")
                guard let fields = value as? [String: Any] else {
                    #expect(try xpath("string(\(item(id))/\(el("VirtualQuantity")))") == str(value), "hardware.\(id)")
                    continue
                }
                if let n = fields["number"] ?? fields["size"] {
                    #expect(try xpath("string(\(item(id))/\(el("VirtualQuantity")))") == str(n), "hardware.\(id) quantity")
                }
                if let c = fields["configuration"] {
                    #expect(
                        try xpath("string(\(item(id))/@*[local-name()='configuration'])") == str(c),
                        "hardware.\(id).configuration")
                }
                if let parent = fields["parent"] {
                    let parentID = try xpath("string(\(item(str(parent)))/\(el("InstanceID")))")
                    let written = try xpath("string(\(item(id))/\(el("Parent")))")
                    #expect(!parentID.isEmpty && written == parentID, "hardware.\(id).parent")
                }
                if let connected = fields["connected"] {
                    #expect(
                        try xpath("string(\(item(id))/\(el("AutomaticAllocation")))") == str(connected),
                        "hardware.\(id).connected")
                }
                if let network = fields["network"] as? String {
                    let name = str(networks[network]?["name"])
                    #expect(try xpath("string(\(item(id))/\(el("Connection")))") == name, "hardware.\(id).network")
                }
                if let address = fields["address"] {
                    #expect(try xpath("string(\(item(id))/\(el("Address")))") == str(address), "hardware.\(id).address")
                }
                if let subtype = fields["subtype"] as? String {
                    let written = try xpath("string(\(item(id))/\(el("ResourceSubType")))")
                    let same = written.lowercased() == subtype.lowercased() || (subtype == "pvscsi" && written == "VirtualSCSI")
                    #expect(same, "hardware.\(id).subtype \(subtype) → \(written)")
                }
                for (k, v) in (fields["config"] as? [String: Any]) ?? [:] {
                    #expect(try vmwConfig(k, in: item(id)) == str(v), "hardware.\(id).config.\(k)")
                }
                let disk =
                    "//\(el("Disk"))[@*[local-name()='diskId']=substring-after(\(item(id))/\(el("HostResource")), 'ovf:/disk/')]"
                if let diskID = fields["disk_id"] {
                    #expect(try xpath("string(\(disk)/@*[local-name()='diskId'])") == str(diskID), "hardware.\(id).disk_id")
                }
                if let capacity = fields["disk_capacity"] {
                    #expect(
                        try xpath("string(\(disk)/@*[local-name()='capacity'])") == str(capacity), "hardware.\(id).disk_capacity")
                    #expect(
                        try xpath("string(\(disk)/@*[local-name()='capacityAllocationUnits'])") == "byte * 2^30",
                        "hardware.\(id).units")
                    #expect(try xpath("string(\(disk)/@*[local-name()='fileRef'])") == "", "an empty disk has no file")
                }
                if fields["sector_size"] != nil { #expect(try vmwConfig("virtualDiskFormat", in: item(id)) == "native_512") }
            }

            let products = try #require(yaml["product_sections"] as? [[String: Any]])
            #expect(try xpath("count(//\(el("ProductSection")))") == "\(products.count)")
            for (i, p) in products.enumerated() {
                let section = "//\(el("ProductSection"))[\(i + 1)]"
                let names = [
                    "product": "Product", "vendor": "Vendor", "info": "Info", "version": "Version", "full_version": "FullVersion",
                    "product_url": "ProductUrl", "vendor_url": "VendorUrl", "app_url": "AppUrl",
                ]
                for (key, tag) in names {
                    if let v = p[key] { #expect(try xpath("string(\(section)/\(el(tag)))") == str(v), "product[\(i)].\(key)") }
                }
                for (key, attr) in ["class": "class", "instance": "instance", "required": "required"] {
                    if let v = p[key] {
                        #expect(try xpath("string(\(section)/@*[local-name()='\(attr)'])") == str(v), "product[\(i)].\(key)")
                    }
                }
                if let transports = p["transports"] as? [String] {
                    let attr = try xpath("string(//\(el("VirtualHardwareSection"))/@*[local-name()='transport'])")
                    #expect(attr.split(separator: " ").map(String.init) == transports)
                }
                let categories = (p["categories"] as? [String: String]) ?? [:]
                for (_, label) in categories { #expect(try xpath("count(\(section)/\(el("Category"))[.='\(label)'])") == "1") }
                for (key, value) in (p["properties"] as? [String: [String: Any]]) ?? [:] {
                    let prop = "\(section)/\(el("Property"))[@*[local-name()='key']='\(key)']"
                    #expect(try xpath("count(\(prop))") == "1", "property \(key)")
                    for (k, attr) in [
                        "type": "type", "password": "password", "user_configurable": "userConfigurable",
                        "qualifiers": "qualifiers",
                        "required": "required", "configuration": "configuration",
                    ] {
                        if let v = value[k] {
                            #expect(try xpath("string(\(prop)/@*[local-name()='\(attr)'])") == str(v), "property \(key).\(k)")
                        }
                    }
                    for (k, tag) in ["label": "Label", "description": "Description"] {
                        if let v = value[k] { #expect(try xpath("string(\(prop)/\(el(tag)))") == str(v), "property \(key).\(k)") }
                    }
                    if let v = value["value"] as? [String: Any] {
                        #expect(try xpath("string(\(prop)/@*[local-name()='value'])") == str(v["default"]))
                        for (c, cv) in (v["configurations"] as? [String: Any]) ?? [:] {
                            #expect(
                                try xpath(
                                    "string(\(prop)/\(el("Value"))[@*[local-name()='configuration']='\(c)']/@*[local-name()='value'])"
                                ) == str(cv))
                        }
                    } else if let v = value["value"] {
                        #expect(try xpath("string(\(prop)/@*[local-name()='value'])") == str(v), "property \(key).value")
                    }
                    if let c = value["category"] as? String {
                        // The property follows its category's label (the nearest Category before it).
                        let label = try xpath("string(\(prop)/preceding-sibling::\(el("Category"))[1])")
                        #expect(label == categories[c], "property \(key).category")
                    }
                }
            }
            let annotation = try #require(yaml["annotation"] as? [String: Any])
            #expect(try xpath("string(//\(el("AnnotationSection"))/\(el("Annotation")))") == str(annotation["text"]))
            #expect(try xpath("string(//\(el("AnnotationSection"))/\(el("Info")))") == str(annotation["info"]))
            let eula = try String(contentsOfFile: repositoryRoot + "/Tests/Fixtures/ova/eula.txt", encoding: .utf8)
            #expect(try xpath("string(//\(el("EulaSection"))/\(el("License")))") == eula)
            for (id, c) in try #require(yaml["configurations"] as? [String: [String: Any]]) {
                let config = "//\(el("Configuration"))[@*[local-name()='id']='\(id)']"
                #expect(try xpath("string(\(config)/\(el("Label")))") == str(c["label"]))
                #expect(try xpath("string(\(config)/\(el("Description")))") == str(c["description"]))
            }
            for (key, e) in try #require(yaml["extra_configs"] as? [String: [String: Any]]) {
                let extra = "//\(el("ExtraConfig"))[@*[local-name()='key']='\(key)']"
                #expect(try xpath("string(\(extra)/@*[local-name()='value'])") == str(e["value"]), "extra_configs.\(key)")
                #expect(
                    try xpath("string(\(extra)/@*[local-name()='required'])") == str(e["required"]),
                    "extra_configs.\(key).required")
            }
        }
    }

    @Test func paramsOverrideDefaults() throws {
        let config = try Self.parseFixture(params: ["cpus": "6", "os": "ubuntu64Guest", "firmware": "bios"])
        #expect(config.hardware.first { $0.id == "cpus" }?.kind == .cpus(6))
        #expect(config.system.osVMW == "ubuntu64Guest")
        #expect(config.system.firmware == .bios)
        #expect(config.disks.map(\.source).contains(.image(path: repositoryRoot + "/Tests/Fixtures/ova/data.raw")))
    }

    /// A bad config fails with one line naming the key (and its line).
    @Test(arguments: [
        ("system: {name: a}\nhardware: {cpus: 2}\nfrobnicate: 1\n", "frobnicate: unknown key"),
        ("system: {name: a, firmwre: efi}\nhardware: {cpus: 2}\n", "system.firmwre: unknown key"),
        ("system: {name: a}\nhardware:\n  cpus: two\n", "line 3: hardware.cpus: expected an integer, found 'two'"),
        ("system: {name: a, secure_boot: maybe}\nhardware: {cpus: 2}\n", "system.secure_boot: expected true or false"),
        ("system: {name: a, firmware: uefi}\nhardware: {cpus: 2}\n", "system.firmware: 'uefi' is not bios or efi"),
        (
            "system: {name: a}\nhardware:\n  eth0: {type: ethernet, subtype: vmxnet9, network: n}\n",
            "hardware.eth0.subtype: unknown adapter 'vmxnet9'"
        ),
        (
            "system: {name: a}\nhardware:\n  eth0: {type: ethernet, subtype: e1000, network: n}\n",
            "hardware.eth0.network: 'n' is not one of networks"
        ),
        ("system: {name: a}\nhardware:\n  d: {type: hard_disk, parent: nope}\n", "hardware.d.parent: 'nope' is not a controller"),
        (
            "system: {name: a}\nhardware:\n  d: {type: hard_disk, parent: s, colour: red}\n  s: {type: sata_controller}\n",
            "hardware.d.colour: unknown key"
        ),
        ("system: {name: a}\nhardware:\n  x: {type: gpu}\n", "hardware.x.type: unknown type 'gpu'"),
        ("system: {name: a}\nhardware:\n  cpus: !param n\n", "hardware.cpus: no --param n=VALUE given"),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nproduct:\n  properties:\n    p: {type: uint8, value: 300}\n",
            "product.properties.p.value: 300 is not in 0...255"
        ),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nproduct:\n  properties:\n    p: {type: text}\n",
            "product.properties.p.type: 'text' is not an OVF property type"
        ),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nproduct:\n  properties:\n    p: {type: string, category: c}\n",
            "product.properties.p.category: 'c' is not one of"
        ),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nproduct: {}\nproduct_sections: []\n",
            "product_sections: give either product or product_sections"
        ),
        ("system: {name: a}\nhardware: {cpus: 2}\nannotation: {info: x}\n", "annotation.text: missing"),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nextra_configs: {k: {value: 1, required: sometimes}}\n",
            "extra_configs.k.required: expected true or false"
        ),
        (
            "system: {name: a}\nhardware: {cpus: 2}\nconfigurations: {s: {label: S, colour: x}}\n",
            "configurations.s.colour: unknown key"
        ),
        (
            "system: {name: a, default_configuration: big}\nhardware: {cpus: 2}\n",
            "system.default_configuration: 'big' is not one of configurations"
        ),
        ("system: {name: a}\nnetworks: [a, b]\nhardware: {cpus: 2}\n", "networks: expected a mapping, found a list"),
        ("hardware: {cpus: 2}\n", "system: missing"),
    ])
    func badConfigsNameTheKey(yaml: String, expected: String) throws {
        do {
            _ = try OVFConfig.parse(yaml: yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as OVFConfigError {
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }
}

extension OVFConfigTests {
    /// `config: {key: null}` leaves out the item's default of that key, as ova-compose does.
    @Test func aNullConfigValueDropsTheDefault() throws {
        let yaml = """
            system: {name: a}
            hardware:
              s: {type: sata_controller}
              d: {type: hard_disk, parent: s, sector_size: 4096}
              e: {type: hard_disk, parent: s, disk_capacity: 1, sector_size: 4096, config: {virtualDiskFormat: null}}
            """
        let config = try OVFConfig.parse(yaml: yaml)
        let disks = Dictionary(
            uniqueKeysWithValues: config.disks.map {
                (
                    $0.item.id,
                    OVFComposeEnvelope.Disk(
                        diskID: $0.item.id, fileID: "f-\($0.item.id)", capacity: "1", units: "byte * 2^20", populatedSize: nil,
                        sectorSize: 4096)
                )
            })
        let text = OVFComposeEnvelope(config: config.packed(firmware: .bios), files: [], disks: disks).text()
        #expect(text.components(separatedBy: #"vmw:key="virtualDiskFormat" vmw:value="native_4k""#).count == 2, "\(text)")
    }
}
