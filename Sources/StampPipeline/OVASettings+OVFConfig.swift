import StampConfig
import StampPackaging

/// The command-line OVA options as the configuration `--ovf-config` would give (issue 20's
/// "one OVF writer"): `stamp pack -t ova --cpus 4 --nic e1000 …` describes the same
/// ``OVFConfig`` as this ova-compose YAML, and both are written by the one writer
/// (``OVFComposeEnvelope``, through the pack plan).
///
/// ```
/// system:   {name: NAME, type: HARDWARE-VERSION, os_vmw: OS-TYPE, os_cim: N}   (N: GuestOS's guess)
/// networks: {vm_network: {name: NETWORK}}
/// hardware:
///   cpus: CPUS
///   memory: MEMORY
///   scsi0: {type: scsi_controller, subtype: lsilogic | VirtualSCSI}          (--controller)
///   disk1: {type: hard_disk, parent: scsi0}                                 (the packed tree)
///   eth0:  {type: ethernet, subtype: VmxNet3 | E1000, network: vm_network}  (--nic)
/// ```
///
/// `system.firmware` is left out, as in a config without it: the disk's layout decides
/// (`--layout efi` gives EFI firmware).
extension OVASettings {
    /// The ids the command line gives its items and its network (`rasd:ElementName` of each item).
    public enum CommandLineIDs {
        public static let network = "vm_network"
        public static let controller = "scsi0"
        public static let disk = "disk1"
        public static let nic = "eth0"
    }

    /// `rasd:ResourceSubType` of `--controller` (vSphere's spelling, as ova-compose writes it).
    static func controllerSubtype(_ name: String) -> String {
        name.lowercased() == "pvscsi" ? "VirtualSCSI" : "lsilogic"
    }

    /// `rasd:ResourceSubType` of `--nic`.
    static func nicSubtype(_ name: String) -> String {
        name.lowercased() == "e1000" ? "E1000" : "VmxNet3"
    }

    /// The configuration these options describe, for a virtual machine called `name`.
    public func ovfConfig(name: String) -> OVFConfig {
        var system = OVFConfig.System(name: name)
        system.type = hardwareVersion
        system.osVMW = osType
        system.osVMWWritten = osType
        system.osCIM = GuestOS(vmwareIdentifier: osType).cimOSType
        var config = OVFConfig(system: system)
        typealias IDs = CommandLineIDs
        config.networks = [OVFConfig.Network(id: IDs.network, name: network, description: nil)]
        let scsi = Self.controllerSubtype(controller)
        let nicType = Self.nicSubtype(nic)
        var controllerItem = OVFConfig.Item(id: IDs.controller, kind: .scsiController(subtype: scsi))
        controllerItem.subtypeWritten = scsi
        var nicItem = OVFConfig.Item(
            id: IDs.nic, kind: .ethernet(network: IDs.network, subtype: nicType, connected: true, address: nil))
        nicItem.subtypeWritten = nicType
        config.hardware = [
            OVFConfig.Item(id: "cpus", kind: .cpus(cpus)),
            OVFConfig.Item(id: "memory", kind: .memory(mib: memoryMiB)),
            controllerItem,
            OVFConfig.Item(
                id: IDs.disk,
                kind: .hardDisk(parent: IDs.controller, source: .tree, units: "byte", diskID: nil, fileID: nil, sectorSize: nil)
            ),
            nicItem,
        ]
        return config
    }
}

extension PackRequest {
    /// The virtual machine's name: `--vm-name`, else the output's file name.
    public var vmName: String { ova.name ?? String(output.split(separator: "/").last ?? "stamp") }

    /// The OVA's configuration: `--ovf-config`'s, else the one the command-line options describe.
    public var ovfConfig: OVFConfig { ova.config ?? ova.ovfConfig(name: vmName) }

    /// What the command line gives an OVA that no descriptor can hold, one line each (the
    /// settings table already bounds `--cpus`, `--memory`, `--nic` and `--controller`; a
    /// config's own keys are checked by its parser).
    var ovaProblems: [String] {
        var found: [String] = []
        if vmName.isEmpty { found.append("--vm-name: the virtual machine's name must not be empty") }
        if ova.config == nil, !GuestOS.isWellFormed(ova.osType) {
            found.append("--os-type '\(ova.osType)': not a guest OS identifier (letters, digits and _, e.g. debian12_64Guest)")
        }
        return found
    }
}
