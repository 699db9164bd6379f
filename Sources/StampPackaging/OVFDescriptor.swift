/// The OVF 1.x descriptor (`.ovf`) of a one-disk virtual machine, as vSphere imports it.
///
/// The text follows formats.md §2.2 and the DMTF OVF 1.1 schema (`dsp8023_1.1.1.xsd`):
///
/// ```
/// Envelope (envelope/1 namespaces + rasd, vssd, vmw)
/// ├── References          File ovf:href=<disk member> ovf:size=<exact bytes>
/// ├── DiskSection         Disk capacity (bytes), populatedSize, streamOptimized format URL
/// ├── NetworkSection      Network ovf:name=<network>
/// └── VirtualSystem
///     ├── Info, Name
///     ├── OperatingSystemSection   ovf:id=<CIM number> vmw:osType=<vSphere id>
///     └── VirtualHardwareSection
///         ├── System      vssd:* (VirtualSystemType vmx-13)
///         ├── Item ×5     CPU(1) memory(2) SCSI(3) disk(4, Parent 3) NIC(5)
///         └── vmw:Config  firmware=efi (UEFI only)
/// ```
///
/// Inside each `Item` the `rasd:` children are a schema `xs:sequence` in alphabetical order;
/// vSphere rejects any other order ("Unsupported element 'Connection'"), so ``item(_:)`` sorts
/// them by name rather than trusting the call site. Every user-given string is XML-escaped.
public struct OVFDescriptor: Sendable, Equatable {
    /// The DMTF envelope namespace (OVF 1.x; vSphere's own exports all use it).
    public static let envelopeNamespace = "http://schemas.dmtf.org/ovf/envelope/1"
    /// The `ovf:format` of a streamOptimized VMDK, exactly as vSphere matches it.
    public static let streamOptimizedFormat =
        "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"

    /// The disk file as it appears in the package.
    public struct Disk: Sendable, Equatable {
        /// The tar member name of the VMDK (`File/@ovf:href`).
        public var fileName: String
        /// The VMDK's exact size in bytes (`File/@ovf:size`).
        public var fileSize: UInt64
        /// The virtual disk size in bytes; rounded up to a sector, as the VMDK header stores it.
        public var capacity: UInt64
        /// Bytes the guest actually uses (`ovf:populatedSize`, an estimate for thin provisioning).
        public var populatedSize: UInt64

        public init(fileName: String, fileSize: UInt64, capacity: UInt64, populatedSize: UInt64 = 0) {
            self.fileName = fileName
            self.fileSize = fileSize
            self.capacity = capacity
            self.populatedSize = populatedSize
        }
    }

    public var options: OVFOptions
    public var disk: Disk

    public init(options: OVFOptions, disk: Disk) {
        self.options = options
        self.disk = disk
    }

    /// The descriptor's text (UTF-8, `\n` line ends).
    /// - Throws: the first ``PackagingError/invalidOption(option:reason:)`` of the options.
    public func text() throws -> String {
        try options.validate()
        let o = options
        let name = xmlEscape(o.name)
        let network = xmlEscape(o.networkName)
        let capacity = (disk.capacity + 511) / 512 * 512
        var x = XMLLines()
        x.add(0, #"<?xml version="1.0" encoding="UTF-8"?>"#)
        x.add(0, "<Envelope xmlns=\"\(Self.envelopeNamespace)\" xmlns:ovf=\"\(Self.envelopeNamespace)\"")
        x.add(0, "    xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\"")
        x.add(0, "    xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\"")
        x.add(0, "    xmlns:vmw=\"http://www.vmware.com/schema/ovf\"")
        x.add(0, "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">")
        x.add(1, "<References>")
        x.add(2, "<File ovf:href=\"\(xmlEscape(disk.fileName))\" ovf:id=\"file1\" ovf:size=\"\(disk.fileSize)\"/>")
        x.add(1, "</References>")
        x.add(1, "<DiskSection>")
        x.add(2, "<Info>Virtual disk information</Info>")
        x.add(2, "<Disk ovf:capacity=\"\(capacity)\" ovf:capacityAllocationUnits=\"byte\" ovf:diskId=\"vmdisk1\"")
        x.add(2, "    ovf:fileRef=\"file1\" ovf:format=\"\(Self.streamOptimizedFormat)\"")
        x.add(2, "    ovf:populatedSize=\"\(disk.populatedSize)\"/>")
        x.add(1, "</DiskSection>")
        x.add(1, "<NetworkSection>")
        x.add(2, "<Info>The list of logical networks</Info>")
        x.add(2, "<Network ovf:name=\"\(network)\">")
        x.add(3, "<Description>The \(network) network</Description>")
        x.add(2, "</Network>")
        x.add(1, "</NetworkSection>")
        x.add(1, "<VirtualSystem ovf:id=\"\(name)\">")
        x.add(2, "<Info>A virtual machine</Info>")
        x.add(2, "<Name>\(name)</Name>")
        x.add(
            2, "<OperatingSystemSection ovf:id=\"\(o.osType.cimOSType)\" vmw:osType=\"\(xmlEscape(o.osType.vmwareIdentifier))\">")
        x.add(3, "<Info>The kind of installed guest operating system</Info>")
        x.add(2, "</OperatingSystemSection>")
        x.add(2, "<VirtualHardwareSection>")
        x.add(3, "<Info>Virtual hardware requirements</Info>")
        x.add(3, "<System>")
        x.add(4, "<vssd:ElementName>Virtual Hardware Family</vssd:ElementName>")
        x.add(4, "<vssd:InstanceID>0</vssd:InstanceID>")
        x.add(4, "<vssd:VirtualSystemIdentifier>\(name)</vssd:VirtualSystemIdentifier>")
        x.add(4, "<vssd:VirtualSystemType>\(xmlEscape(o.virtualSystemType))</vssd:VirtualSystemType>")
        x.add(3, "</System>")
        for item in items() { x.lines.append(contentsOf: Self.item(item).map { "      " + $0 }) }
        if o.firmware == .efi {
            x.add(3, #"<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>"#)
            x.add(3, #"<vmw:Config ovf:required="false" vmw:key="bootOptions.efiSecureBootEnabled" vmw:value="false"/>"#)
        }
        x.add(2, "</VirtualHardwareSection>")
        x.add(1, "</VirtualSystem>")
        x.add(0, "</Envelope>")
        return x.lines.joined(separator: "\n") + "\n"
    }

    /// One `Item`'s `rasd:` children as (element name, already-escaped text).
    typealias RASD = [(name: String, value: String)]

    /// The five hardware items: CPU, memory, SCSI controller, disk, NIC (InstanceIDs 1–5).
    func items() -> [RASD] {
        let o = options
        let network = xmlEscape(o.networkName)
        return [
            [
                ("ResourceType", "3"), ("InstanceID", "1"), ("VirtualQuantity", "\(o.cpus)"),
                ("AllocationUnits", "hertz * 10^6"), ("Description", "Number of Virtual CPUs"),
                ("ElementName", "\(o.cpus) virtual CPU(s)"),
            ],
            [
                ("ResourceType", "4"), ("InstanceID", "2"), ("VirtualQuantity", "\(o.memoryMiB)"),
                ("AllocationUnits", "byte * 2^20"), ("Description", "Memory Size"),
                ("ElementName", "\(o.memoryMiB)MB of memory"),
            ],
            [
                ("ResourceType", "6"), ("InstanceID", "3"), ("ResourceSubType", o.controller.rawValue),
                ("Address", "0"), ("Description", "SCSI Controller"), ("ElementName", "SCSI Controller 0"),
            ],
            [
                ("ResourceType", "17"), ("InstanceID", "4"), ("Parent", "3"), ("AddressOnParent", "0"),
                ("ElementName", "Hard Disk 1"), ("HostResource", "ovf:/disk/vmdisk1"),
            ],
            [
                ("ResourceType", "10"), ("InstanceID", "5"), ("ResourceSubType", o.nic.rawValue),
                ("AddressOnParent", "7"), ("AutomaticAllocation", "true"), ("Connection", network),
                ("Description", "\(o.nic.rawValue) ethernet adapter on &quot;\(network)&quot;"),
                ("ElementName", "Network adapter 1"),
            ],
        ]
    }

    /// An `Item` element with its children sorted into the schema's (alphabetical) order.
    static func item(_ children: RASD) -> [String] {
        let sorted = children.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return ["<Item>"] + sorted.map { "  <rasd:\($0.name)>\($0.value)</rasd:\($0.name)>" } + ["</Item>"]
    }
}

/// Escapes the five XML special characters, so a user-given name can go into text or into a
/// double-quoted attribute. Control characters other than tab/newline are not legal in XML 1.0
/// at all and become U+FFFD.
func xmlEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case "\t", "\n", "\r": out += "&#\(scalar.value);"
        default:
            if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                out.unicodeScalars.append("\u{FFFD}")
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Indented lines of XML, two spaces per level.
struct XMLLines {
    var lines: [String] = []
    mutating func add(_ level: Int, _ text: String) {
        lines.append(String(repeating: "  ", count: level) + text)
    }
}
