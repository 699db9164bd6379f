/// A guest operating system as vSphere and CIM name it.
///
/// ```
/// OperatingSystemSection ovf:id=<cimOSType> vmw:osType=<vmwareIdentifier>
/// ```
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

    /// Whether `identifier` can be a vSphere guest OS identifier: ASCII letters, digits and
    /// underscores (`debian12_64Guest`), nothing else.
    public static func isWellFormed(_ identifier: String) -> Bool {
        !identifier.isEmpty && identifier.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Debian 12, 64-bit (`debian12_64Guest`, CIM 96).
    public static let debian12 = GuestOS(vmwareIdentifier: "debian12_64Guest", cimOSType: 96)
    /// Any 64-bit Linux (`otherLinux64Guest`, CIM 101): known to every ESXi release.
    public static let otherLinux64 = GuestOS(vmwareIdentifier: "otherLinux64Guest", cimOSType: 101)
}

/// The boot firmware of the virtual machine (`vmw:Config firmware`).
public enum Firmware: String, Sendable, Equatable, CaseIterable {
    case bios, efi
}
