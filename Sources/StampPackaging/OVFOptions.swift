import StampConfig

/// The virtual machine an OVA describes: name, CPUs, memory, guest OS, devices, firmware.
///
/// Every field has a default that vSphere 6.5 and later accept (vmx-13, LSI Logic SCSI,
/// VMXNET3 on "VM Network", BIOS). ``validate()`` reports every problem at once, before
/// anything is written.
///
/// ```swift
/// var options = OVFOptions(name: "web01")
/// options.cpus = 4
/// options.firmware = .efi
/// options.osType = .debian12
/// ```
public struct OVFOptions: Sendable, Equatable {
    /// The virtual system's name (`VirtualSystem/@ovf:id`, `Name`, `VirtualSystemIdentifier`).
    public var name: String
    /// Number of virtual CPUs (RASD ResourceType 3).
    public var cpus: Int = 2
    /// Memory in MiB (RASD ResourceType 4, AllocationUnits `byte * 2^20`).
    public var memoryMiB: Int = 2048
    /// The guest OS (`OperatingSystemSection/@ovf:id` and `@vmw:osType`).
    public var osType = GuestOS(vmwareIdentifier: Settings.defaultGuestOS)
    /// The virtual NIC model (RASD ResourceType 10).
    public var nic: NetworkAdapter = .vmxnet3
    /// The SCSI controller the disk hangs off (RASD ResourceType 6).
    public var controller: SCSIController = .lsiLogic
    /// BIOS or UEFI; `efi` adds `vmw:Config firmware=efi`.
    public var firmware: Firmware = .bios
    /// The logical network the NIC connects to (`NetworkSection/Network/@ovf:name`).
    public var networkName: String = "VM Network"
    /// `vssd:VirtualSystemType`: the VMware hardware version(s), e.g. `vmx-13` (ESXi 6.5+) or a
    /// space-separated list such as `vmx-13 vmx-14`.
    public var virtualSystemType: String = "vmx-13"

    public init(name: String) { self.name = name }

    /// The options' problems, all of them; empty when the options can be written.
    public func problems() -> [PackagingError] {
        var found: [PackagingError] = []
        if name.isEmpty { found.append(.invalidOption(option: "name", reason: "must not be empty")) }
        if cpus < 1 || cpus > 768 { found.append(.invalidOption(option: "cpus", reason: "\(cpus) is not in 1...768")) }
        if memoryMiB < 4 || memoryMiB > 24 * 1024 * 1024 {
            found.append(.invalidOption(option: "memory", reason: "\(memoryMiB) MiB is not in 4 MiB...24 TiB"))
        }
        if networkName.isEmpty { found.append(.invalidOption(option: "network", reason: "must not be empty")) }
        let families = virtualSystemType.split(separator: " ")
        let valid =
            !families.isEmpty
            && families.allSatisfy { family in
                family.hasPrefix("vmx-") && family.count > 4 && family.dropFirst(4).allSatisfy { $0.isASCII && $0.isNumber }
            }
        if !valid {
            found.append(
                .invalidOption(
                    option: "hardware-version", reason: "'\(virtualSystemType)' is not of the form vmx-NN"))
        }
        if osType.vmwareIdentifier.isEmpty
            || !osType.vmwareIdentifier.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        {
            found.append(.invalidOption(option: "os-type", reason: "'\(osType.vmwareIdentifier)' is not a guest os identifier"))
        }
        return found
    }

    /// Throws the first problem found by ``problems()``.
    public func validate() throws {
        if let first = problems().first { throw first }
    }
}

/// A guest operating system as vSphere and CIM name it.
public struct GuestOS: Sendable, Equatable {
    /// vSphere's `GuestOsIdentifier` (`vmw:osType`), which vSphere prefers over the CIM number.
    public var vmwareIdentifier: String
    /// `CIM_OperatingSystem.OsType` (`ovf:id`): 96 Debian 64-bit, 94 Ubuntu 64-bit, 101 Linux 64-bit.
    public var cimOSType: Int

    public init(vmwareIdentifier: String, cimOSType: Int) {
        self.vmwareIdentifier = vmwareIdentifier
        self.cimOSType = cimOSType
    }

    /// A vSphere identifier, with the CIM number guessed from its family (`debian…` → 96,
    /// `ubuntu…` → 94, `rhel…` → 80, `centos…` → 107, anything else → 101 "Linux 64-Bit").
    public init(vmwareIdentifier: String) {
        let families: [(String, Int)] = [("debian", 96), ("ubuntu", 94), ("rhel", 80), ("centos", 107)]
        let number = families.first { vmwareIdentifier.hasPrefix($0.0) }?.1 ?? 101
        self.init(vmwareIdentifier: vmwareIdentifier, cimOSType: number)
    }

    /// Debian 12, 64-bit (`debian12_64Guest`, CIM 96).
    public static let debian12 = GuestOS(vmwareIdentifier: "debian12_64Guest", cimOSType: 96)
    /// Any 64-bit Linux (`otherLinux64Guest`, CIM 101): known to every ESXi release.
    public static let otherLinux64 = GuestOS(vmwareIdentifier: "otherLinux64Guest", cimOSType: 101)
}

/// The virtual NIC model, as `rasd:ResourceSubType` spells it.
public enum NetworkAdapter: String, Sendable, Equatable, CaseIterable {
    case vmxnet3 = "VmxNet3"
    case e1000 = "E1000"
}

/// The SCSI controller model, as `rasd:ResourceSubType` spells it (exact case matters:
/// some vSphere backends reject `virtualscsi`).
public enum SCSIController: String, Sendable, Equatable, CaseIterable {
    case lsiLogic = "lsilogic"
    case pvscsi = "VirtualSCSI"
}

/// The boot firmware of the virtual machine.
public enum Firmware: String, Sendable, Equatable, CaseIterable {
    case bios, efi
}
