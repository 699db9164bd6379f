/// The `VirtualHardwareSection/Item`s as ova-compose writes them.
///
/// ```
/// Item [ovf:configuration]
///   rasd:AddressOnParent … rasd:VirtualQuantity   every rasd child, sorted by name
///   vmw:Config …                                  the type's defaults updated by `config:`
/// ```
///
/// | type | ResourceType, Description | also |
/// |---|---|---|
/// | cpus / memory | 3 Virtual CPUs / 4 Virtual Memory | AllocationUnits, VirtualQuantity |
/// | scsi_controller | 6 SCSI Controller | ResourceSubType (VirtualSCSI by default) |
/// | sata / nvme / ide_controller | 20 SATA / 20 NVME / 5 IDE Controller | vmware.sata.ahci, vmware.nvme.controller |
/// | usb / usb3_controller | 23 USB / USB3 Controller | vmware.usb.ehci (+ ehciEnabled), vmware.usb.xhci |
/// | vmci | 1 VMCI | vmware.vmci |
/// | video_card | 24 Video Card | AutomaticAllocation false, four video defaults |
/// | cd_drive / floppy | 15 CD Drive / 14 Floppy Drive | AutomaticAllocation, HostResource ovf:/file/ID |
/// | hard_disk | 17 Hard Disk | Parent, AddressOnParent, HostResource ovf:/disk/ID, virtualDiskFormat |
/// | ethernet | 10 Ethernet Adapter | ResourceSubType as given, Connection, Address |
extension OVFComposeEnvelope {
    func items() -> [OVFXMLElement] {
        var instance: [String: Int] = [:]
        for (i, item) in config.hardware.enumerated() { instance[item.id] = i + 1 }
        var nextAddress: [String: Int] = [:]
        return config.hardware.map { item in
            var rasd: [(String, String)] = []
            var defaults: [(String, String)] = []
            var connected: Bool?
            var after: [(String, String)] = []  // vmw:Config the type adds after the item's own
            func kind(_ type: Int, _ description: String, _ subtype: String? = nil) {
                rasd += [("ResourceType", "\(type)"), ("Description", description)]
                if let subtype { rasd.append(("ResourceSubType", subtype)) }
            }
            func child(of parent: String) {
                let address = nextAddress[parent, default: 0]
                nextAddress[parent] = address + 1
                rasd += [("Parent", "\(instance[parent] ?? 0)"), ("AddressOnParent", "\(address)")]
            }
            let allowGuestControl = ("connectable.allowGuestControl", "true")
            var itemConfig = item.config
            switch item.kind {
            case .cpus(let n):
                kind(3, "Virtual CPUs")
                rasd += [("AllocationUnits", "hertz * 10^6"), ("VirtualQuantity", "\(n)")]
            case .memory(let mib):
                kind(4, "Virtual Memory")
                rasd += [("AllocationUnits", "byte * 2^20"), ("VirtualQuantity", "\(mib)")]
            case .scsiController: kind(6, "SCSI Controller", item.subtypeWritten ?? "VirtualSCSI")
            case .sataController: kind(20, "SATA Controller", "vmware.sata.ahci")
            case .nvmeController: kind(20, "NVME Controller", "vmware.nvme.controller")
            case .ideController: kind(5, "IDE Controller")
            case .usbController:
                kind(23, "USB Controller", "vmware.usb.ehci")
                after.append(("ehciEnabled", "true"))
            case .usb3Controller: kind(23, "USB3 Controller", "vmware.usb.xhci")
            case .vmci: kind(1, "VMCI", "vmware.vmci")
            case .videoCard:
                kind(24, "Video Card")
                connected = false
                defaults = [
                    ("useAutoDetect", "false"), ("videoRamSizeInKB", "4096"), ("enable3DSupport", "false"),
                    ("use3dRenderer", "automatic"),
                ]
            case .cdDrive(let parent, _, let isConnected):
                kind(15, "CD Drive", "vmware.cdrom.remotepassthrough")
                child(of: parent)
                connected = isConnected
                defaults = [allowGuestControl]
                if let file = imageFiles[item.id] { rasd.append(("HostResource", "ovf:/file/\(file)")) }
            case .floppy(_, let isConnected):
                kind(14, "Floppy Drive")
                connected = isConnected
                defaults = [allowGuestControl]
                if let file = imageFiles[item.id] { rasd.append(("HostResource", "ovf:/file/\(file)")) }
            case .hardDisk(let parent, _, _, _, _, _):
                kind(17, "Hard Disk")
                child(of: parent)
                let disk = disks[item.id]
                if let disk { rasd.append(("HostResource", "ovf:/disk/\(disk.diskID)")) }
                let named =
                    item.config.contains { $0.key == "virtualDiskFormat" } || item.unsetConfig.contains("virtualDiskFormat")
                if !named, let sector = disk?.sectorSize {
                    itemConfig.append(.init(key: "virtualDiskFormat", value: sector == 4096 ? "native_4k" : "native_512"))
                }
            case .ethernet(let network, _, let isConnected, let address):
                kind(10, "Ethernet Adapter", item.subtypeWritten)
                rasd.append(("Connection", config.networks.first { $0.id == network }?.name ?? network))
                if let address { rasd.append(("Address", address)) }
                connected = isConnected
                defaults = [("wakeOnLanEnabled", "false"), allowGuestControl]
            }
            rasd += [("InstanceID", "\(instance[item.id] ?? 0)"), ("ElementName", item.id)]
            if let connected { rasd.append(("AutomaticAllocation", connected ? "true" : "false")) }
            var configs = OrderedConfig(defaults)
            configs.apply(set: itemConfig, unset: item.unsetConfig)
            for (key, value) in after { configs.entries.append((key, value)) }
            let sorted = rasd.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            return OVFXMLElement(
                "Item", item.configuration.map { [("ovf:configuration", $0)] } ?? [],
                children: sorted.map { OVFXMLElement("rasd:\($0.0)", text: $0.1) } + configs.elements)
        }
    }
}
