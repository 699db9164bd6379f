/// The OVF descriptor of an ``OVFConfig``: every section ova-compose writes, in the order the
/// DMTF schema (`dsp8023_1.1.1.xsd`) and vSphere accept.
///
/// ```
/// Envelope (envelope/1 + rasd, vssd, vmw, xsi)
/// ├── References               File per package member after the .mf (disks, ISO images)
/// ├── DiskSection              Disk per hard disk (fileRef absent for an empty disk)
/// ├── DeploymentOptionSection  Configuration per `configurations:` entry   (if any)
/// ├── NetworkSection           Network per `networks:` entry
/// └── VirtualSystem ovf:id=<system.name>
///     ├── Info, Name
///     ├── OperatingSystemSection  ovf:id=<os_cim> vmw:osType=<os_vmw> [Description=<os_name>]
///     ├── VirtualHardwareSection  [ovf:transport="iso com.vmware.guestInfo"]
///     │   ├── System            vssd:* (VirtualSystemType = system.type)
///     │   ├── Item per hardware entry, InstanceID 1… in file order; rasd:* sorted by name,
///     │   │   then the item's vmw:Config
///     │   ├── vmw:ExtraConfig per extra_configs entry
///     │   └── vmw:Config firmware, secure boot, hardware.config
///     ├── ProductSection per product (Property without category first, then per Category)
///     ├── AnnotationSection
///     └── EulaSection
/// ```
public struct OVFEnvelope: Sendable {
    /// A `References/File`: a package member after the manifest.
    public struct File: Sendable, Equatable {
        public var id: String
        public var href: String
        public var size: UInt64
        public init(id: String, href: String, size: UInt64) {
            self.id = id
            self.href = href
            self.size = size
        }
    }

    /// A `DiskSection/Disk`, keyed by the hard disk's hardware id.
    public struct Disk: Sendable, Equatable {
        public var diskID: String
        public var fileID: String?
        /// Virtual size in bytes (rounded up to the units when written).
        public var capacity: UInt64
        /// `ovf:populatedSize` when known.
        public var populatedSize: UInt64?
        public init(diskID: String, fileID: String?, capacity: UInt64, populatedSize: UInt64? = nil) {
            self.diskID = diskID
            self.fileID = fileID
            self.capacity = capacity
            self.populatedSize = populatedSize
        }
    }

    public var config: OVFConfig
    /// The firmware written when the config does not name one (the layout's).
    public var defaultFirmware: Firmware
    public var files: [File]
    public var disks: [String: Disk]
    /// The `References` id of each CD/floppy image, by hardware id.
    public var imageFiles: [String: String]

    public init(
        config: OVFConfig, defaultFirmware: Firmware, files: [File], disks: [String: Disk], imageFiles: [String: String] = [:]
    ) {
        self.config = config
        self.defaultFirmware = defaultFirmware
        self.files = files
        self.disks = disks
        self.imageFiles = imageFiles
    }

    /// Bytes per `capacityAllocationUnits` value.
    public static let unitFactors: [String: UInt64] = [
        "byte": 1, "byte * 2^10": 1 << 10, "byte * 2^20": 1 << 20, "byte * 2^30": 1 << 30, "byte * 2^40": 1 << 40,
    ]

    /// The descriptor (UTF-8, `\n` line ends).
    public func text() -> String {
        let c = config
        var x = XMLLines()
        x.add(0, #"<?xml version="1.0" encoding="UTF-8"?>"#)
        x.add(0, "<Envelope xmlns=\"\(OVFDescriptor.envelopeNamespace)\" xmlns:ovf=\"\(OVFDescriptor.envelopeNamespace)\"")
        x.add(0, "    xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\"")
        x.add(0, "    xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\"")
        x.add(0, "    xmlns:vmw=\"http://www.vmware.com/schema/ovf\"")
        x.add(0, "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">")
        x.add(1, "<References>")
        for f in files {
            x.add(2, "<File ovf:href=\"\(xmlEscape(f.href))\" ovf:id=\"\(xmlEscape(f.id))\" ovf:size=\"\(f.size)\"/>")
        }
        x.add(1, "</References>")
        x.add(1, "<DiskSection>")
        x.add(2, "<Info>Virtual disk information</Info>")
        for (item, _) in c.disks {
            guard let d = disks[item.id], case .hardDisk(_, _, let units, _, _, _) = item.kind else { continue }
            let factor = Self.unitFactors[units] ?? 1
            var attrs =
                "ovf:capacity=\"\(d.capacity / factor + (d.capacity % factor == 0 ? 0 : 1))\" ovf:capacityAllocationUnits=\"\(units)\" ovf:diskId=\"\(xmlEscape(d.diskID))\""
            if let file = d.fileID { attrs += " ovf:fileRef=\"\(xmlEscape(file))\"" }
            attrs += " ovf:format=\"\(OVFDescriptor.streamOptimizedFormat)\""
            if let populated = d.populatedSize { attrs += " ovf:populatedSize=\"\(populated)\"" }
            x.add(2, "<Disk \(attrs)/>")
        }
        x.add(1, "</DiskSection>")
        if !c.configurations.isEmpty {
            x.add(1, "<DeploymentOptionSection>")
            x.add(2, "<Info>List of profiles</Info>")
            for o in c.configurations {
                x.add(2, "<Configuration\(o.isDefault ? " ovf:default=\"true\"" : "") ovf:id=\"\(xmlEscape(o.id))\">")
                x.add(3, "<Label>\(xmlEscape(o.label))</Label>")
                x.add(3, "<Description>\(xmlEscape(o.description))</Description>")
                x.add(2, "</Configuration>")
            }
            x.add(1, "</DeploymentOptionSection>")
        }
        x.add(1, "<NetworkSection>")
        x.add(2, "<Info>The list of logical networks</Info>")
        for n in c.networks {
            x.add(2, "<Network ovf:name=\"\(xmlEscape(n.name))\">")
            x.add(3, "<Description>\(xmlEscape(n.description ?? "The \(n.name) network"))</Description>")
            x.add(2, "</Network>")
        }
        x.add(1, "</NetworkSection>")
        let name = xmlEscape(c.system.name)
        x.add(1, "<VirtualSystem ovf:id=\"\(name)\">")
        x.add(2, "<Info>A virtual machine</Info>")
        x.add(2, "<Name>\(name)</Name>")
        x.add(2, "<OperatingSystemSection ovf:id=\"\(c.system.osCIM)\" vmw:osType=\"\(xmlEscape(c.system.osVMW))\">")
        x.add(3, "<Info>The kind of installed guest operating system</Info>")
        if let os = c.system.osName { x.add(3, "<Description>\(xmlEscape(os))</Description>") }
        x.add(2, "</OperatingSystemSection>")
        let transports = c.transports
        x.add(
            2,
            "<VirtualHardwareSection\(transports.isEmpty ? "" : " ovf:transport=\"\(xmlEscape(transports.joined(separator: " ")))\"")>"
        )
        x.add(3, "<Info>Virtual hardware requirements</Info>")
        x.add(3, "<System>")
        x.add(4, "<vssd:ElementName>Virtual Hardware Family</vssd:ElementName>")
        x.add(4, "<vssd:InstanceID>0</vssd:InstanceID>")
        x.add(4, "<vssd:VirtualSystemIdentifier>\(name)</vssd:VirtualSystemIdentifier>")
        x.add(4, "<vssd:VirtualSystemType>\(xmlEscape(c.system.type))</vssd:VirtualSystemType>")
        x.add(3, "</System>")
        for line in items() { x.lines.append("      " + line) }
        for e in c.extraConfigs {
            let required = e.required.map { " ovf:required=\"\($0)\"" } ?? ""
            x.add(3, "<vmw:ExtraConfig\(required) vmw:key=\"\(xmlEscape(e.key))\" vmw:value=\"\(xmlEscape(e.value))\"/>")
        }
        let firmware = c.system.firmware ?? defaultFirmware
        var machine = [OVFConfig.KeyValue(key: "firmware", value: firmware.rawValue)]
        machine.append(
            .init(key: "bootOptions.efiSecureBootEnabled", value: c.system.secureBoot && firmware == .efi ? "true" : "false"))
        for kv in c.hardwareConfig {
            if let i = machine.firstIndex(where: { $0.key == kv.key }) { machine[i] = kv } else { machine.append(kv) }
        }
        for kv in machine { x.add(3, Self.vmwConfig(kv)) }
        x.add(2, "</VirtualHardwareSection>")
        for p in c.products { product(p, into: &x) }
        if let a = c.annotation {
            x.add(2, "<AnnotationSection>")
            x.add(3, "<Info>\(xmlEscape(a.info))</Info>")
            x.add(3, "<Annotation>\(xmlEscape(a.text))</Annotation>")
            x.add(2, "</AnnotationSection>")
        }
        if let e = c.eula {
            x.add(2, "<EulaSection>")
            x.add(3, "<Info>\(xmlEscape(e.info))</Info>")
            x.add(3, "<License>\(xmlEscape(e.text))</License>")
            x.add(2, "</EulaSection>")
        }
        x.add(1, "</VirtualSystem>")
        x.add(0, "</Envelope>")
        return x.lines.joined(separator: "\n") + "\n"
    }

    static func vmwConfig(_ kv: OVFConfig.KeyValue) -> String {
        "<vmw:Config ovf:required=\"false\" vmw:key=\"\(xmlEscape(kv.key))\" vmw:value=\"\(xmlEscape(kv.value))\"/>"
    }

    /// Every hardware `Item`, as lines.
    func items() -> [String] {
        var instance: [String: Int] = [:]
        for (i, item) in config.hardware.enumerated() { instance[item.id] = i + 1 }
        var nextAddress: [String: Int] = [:]
        var lines: [String] = []
        for item in config.hardware {
            var rasd: OVFDescriptor.RASD = [("InstanceID", "\(instance[item.id] ?? 0)"), ("ElementName", xmlEscape(item.id))]
            var defaults: [OVFConfig.KeyValue] = []
            func child(of parent: String) {
                let address = nextAddress[parent, default: 0]
                nextAddress[parent] = address + 1
                rasd += [("Parent", "\(instance[parent] ?? 0)"), ("AddressOnParent", "\(address)")]
            }
            func description(_ text: String, _ type: Int, _ subtype: String? = nil) {
                rasd += [("Description", text), ("ResourceType", "\(type)")]
                if let subtype { rasd.append(("ResourceSubType", xmlEscape(subtype))) }
            }
            switch item.kind {
            case .cpus(let n):
                description("Virtual CPUs", 3)
                rasd += [("AllocationUnits", "hertz * 10^6"), ("VirtualQuantity", "\(n)")]
            case .memory(let mib):
                description("Virtual Memory", 4)
                rasd += [("AllocationUnits", "byte * 2^20"), ("VirtualQuantity", "\(mib)")]
            case .scsiController(let subtype): description("SCSI Controller", 6, subtype)
            case .sataController: description("SATA Controller", 20, "vmware.sata.ahci")
            case .nvmeController: description("NVME Controller", 20, "vmware.nvme.controller")
            case .ideController: description("IDE Controller", 5)
            case .usbController:
                description("USB Controller", 23, "vmware.usb.ehci")
                defaults.append(.init(key: "ehciEnabled", value: "true"))
            case .usb3Controller: description("USB3 Controller", 23, "vmware.usb.xhci")
            case .vmci: description("VMCI", 1, "vmware.vmci")
            case .videoCard:
                description("Video Card", 24)
                rasd.append(("AutomaticAllocation", "false"))
                defaults += [
                    .init(key: "useAutoDetect", value: "false"), .init(key: "videoRamSizeInKB", value: "4096"),
                    .init(key: "enable3DSupport", value: "false"), .init(key: "use3dRenderer", value: "automatic"),
                ]
            case .hardDisk(let parent, _, _, _, _, let sector):
                description("Hard Disk", 17)
                child(of: parent)
                if let disk = disks[item.id] { rasd.append(("HostResource", "ovf:/disk/\(xmlEscape(disk.diskID))")) }
                if let sector {
                    defaults.append(.init(key: "virtualDiskFormat", value: sector == 4096 ? "native_4k" : "native_512"))
                }
            case .cdDrive(let parent, _, let connected):
                description("CD Drive", 15, imageFiles[item.id] == nil ? "vmware.cdrom.remotepassthrough" : "vmware.cdrom.iso")
                child(of: parent)
                rasd.append(("AutomaticAllocation", "\(connected)"))
                if let file = imageFiles[item.id] { rasd.append(("HostResource", "ovf:/file/\(xmlEscape(file))")) }
                defaults.append(.init(key: "connectable.allowGuestControl", value: "true"))
            case .floppy(_, let connected):
                description("Floppy Drive", 14)
                rasd.append(("AutomaticAllocation", "\(connected)"))
                if let file = imageFiles[item.id] { rasd.append(("HostResource", "ovf:/file/\(xmlEscape(file))")) }
                defaults.append(.init(key: "connectable.allowGuestControl", value: "true"))
            case .ethernet(let network, let subtype, let connected, let address):
                description("Ethernet Adapter", 10, subtype)
                let name = config.networks.first { $0.id == network }?.name ?? network
                rasd += [("Connection", xmlEscape(name)), ("AutomaticAllocation", "\(connected)")]
                if let address { rasd.append(("Address", xmlEscape(address))) }
                defaults += [
                    .init(key: "wakeOnLanEnabled", value: "false"), .init(key: "connectable.allowGuestControl", value: "true"),
                ]
            }
            defaults.removeAll { item.unsetConfig.contains($0.key) }
            for kv in item.config {
                if let i = defaults.firstIndex(where: { $0.key == kv.key }) { defaults[i] = kv } else { defaults.append(kv) }
            }
            let attrs = item.configuration.map { " ovf:configuration=\"\(xmlEscape($0))\"" } ?? ""
            var block = OVFDescriptor.item(rasd)
            block[0] = "<Item\(attrs)>"
            block.insert(contentsOf: defaults.map { "  " + Self.vmwConfig($0) }, at: block.count - 1)
            lines += block
        }
        return lines
    }

    func product(_ p: OVFConfig.Product, into x: inout XMLLines) {
        var attrs = ""
        if let c = p.classAttribute { attrs += " ovf:class=\"\(xmlEscape(c))\"" }
        if let i = p.instance { attrs += " ovf:instance=\"\(xmlEscape(i))\"" }
        if let r = p.required { attrs += " ovf:required=\"\(r)\"" }
        x.add(2, "<ProductSection\(attrs)>")
        x.add(3, "<Info>\(xmlEscape(p.info))</Info>")
        let texts: [(String, String?)] = [
            ("Product", p.product), ("Vendor", p.vendor), ("Version", p.version), ("FullVersion", p.fullVersion),
            ("ProductUrl", p.productURL), ("VendorUrl", p.vendorURL), ("AppUrl", p.appURL),
        ]
        for case (let tag, let value?) in texts { x.add(3, "<\(tag)>\(xmlEscape(value))</\(tag)>") }
        for prop in p.properties where prop.category == nil { property(prop, into: &x) }
        for category in p.categories {
            x.add(3, "<Category>\(xmlEscape(category.label))</Category>")
            for prop in p.properties where prop.category == category.id { property(prop, into: &x) }
        }
        x.add(2, "</ProductSection>")
    }

    func property(_ p: OVFConfig.Property, into x: inout XMLLines) {
        var attrs = "ovf:key=\"\(xmlEscape(p.key))\" ovf:type=\"\(xmlEscape(p.type))\""
        if let q = p.qualifiers { attrs += " ovf:qualifiers=\"\(xmlEscape(q))\"" }
        if p.userConfigurable { attrs += " ovf:userConfigurable=\"true\"" }
        if let v = p.value { attrs += " ovf:value=\"\(xmlEscape(v))\"" }
        if p.password { attrs += " ovf:password=\"true\"" }
        if let r = p.required { attrs += " ovf:required=\"\(r)\"" }
        if let c = p.configuration { attrs += " ovf:configuration=\"\(xmlEscape(c))\"" }
        let children = p.label != nil || p.description != nil || !p.configurationValues.isEmpty
        x.add(3, "<Property \(attrs)\(children ? "" : "/")>")
        guard children else { return }
        if let l = p.label { x.add(4, "<Label>\(xmlEscape(l))</Label>") }
        if let d = p.description { x.add(4, "<Description>\(xmlEscape(d))</Description>") }
        for v in p.configurationValues {
            x.add(4, "<Value ovf:configuration=\"\(xmlEscape(v.key))\" ovf:value=\"\(xmlEscape(v.value))\"/>")
        }
        x.add(3, "</Property>")
    }
}
