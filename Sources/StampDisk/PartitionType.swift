import StampBytes

/// A partition type, as both partition tables spell it.
///
/// GPT names a type with a GUID (stored mixed-endian, see ``Identifier/gptBytes``); MBR with one
/// byte. DIB's YAML uses sgdisk's four-hex-digit shorthand for GPT (`EF00`, `EF02`, `8300`) and a
/// hex string for MBR (`0x83`), so every type here carries both the GUID and the MBR byte.
public struct PartitionType: Hashable, Sendable, CustomStringConvertible {
    /// The GPT partition type GUID (`PartitionTypeGUID`, entry offset 0).
    public var guid: Identifier
    /// The MBR system ID (entry byte 4) used when this type appears on an MBR disk.
    public var mbrCode: UInt8

    public init(guid: Identifier, mbrCode: UInt8) {
        self.guid = guid
        self.mbrCode = mbrCode
    }

    public var description: String {
        PartitionType.sgdiskCodes.sorted { $0.key < $1.key }.first { $0.value.guid == guid }?.key ?? guid.description
    }

    private static func make(_ text: String, _ mbr: UInt8) -> PartitionType {
        guard let id = Identifier(text) else { preconditionFailure("malformed built-in GUID \(text)") }
        return PartitionType(guid: id, mbrCode: mbr)
    }

    /// EFI System Partition (sgdisk `EF00`, MBR `EF`).
    public static let efiSystem = make("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", 0xEF)
    /// BIOS boot partition, where GRUB embeds `core.img` on GPT disks (sgdisk `EF02`).
    public static let biosBoot = make("21686148-6449-6E6F-744E-656564454649", 0xEF)
    /// Linux filesystem data (sgdisk `8300`, MBR `83`).
    public static let linuxFilesystem = make("0FC63DAF-8483-4772-8E79-3D69D8477DE4", 0x83)
    /// Linux root (x86-64), the discoverable-partitions type (sgdisk `8304`).
    public static let linuxRootX86_64 = make("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", 0x83)
    /// Linux root (x86) (sgdisk `8303`).
    public static let linuxRootX86 = make("44479540-F297-41B2-9AF7-D131D5F0458A", 0x83)
    /// Linux root (ARM64) (sgdisk `8305`).
    public static let linuxRootARM64 = make("B921B045-1DF0-41C3-AF44-4C6F280D3FAE", 0x83)
    /// Linux /usr (x86-64) (sgdisk `8314`).
    public static let linuxUsrX86_64 = make("8484680C-9521-48C6-9C11-B0720656F69E", 0x83)
    /// Linux extended boot (`/boot`, sgdisk `EA00`).
    public static let linuxExtendedBoot = make("BC13C2FF-59E6-4262-A352-B275FD6F7172", 0xEA)
    /// Linux swap (sgdisk `8200`, MBR `82`).
    public static let linuxSwap = make("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", 0x82)
    /// Linux LVM (sgdisk `8E00`, MBR `8E`).
    public static let linuxLVM = make("E6D6D379-F507-44C2-A23C-238F2A3DF928", 0x8E)
    /// Linux RAID (sgdisk `FD00`, MBR `FD`).
    public static let linuxRAID = make("A19D880F-05FC-4D3B-A006-743F0F84911E", 0xFD)
    /// Linux /home (sgdisk `8302`).
    public static let linuxHome = make("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", 0x83)
    /// Microsoft basic data, also what FAT data partitions use (sgdisk `0700`, MBR `0C`).
    public static let microsoftBasicData = make("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", 0x0C)

    /// sgdisk's four-hex-digit type codes that DIB configurations use (upper-case keys).
    public static let sgdiskCodes: [String: PartitionType] = [
        "EF00": .efiSystem, "EF02": .biosBoot, "8300": .linuxFilesystem, "8303": .linuxRootX86,
        "8304": .linuxRootX86_64, "8305": .linuxRootARM64, "8314": .linuxUsrX86_64, "EA00": .linuxExtendedBoot,
        "8200": .linuxSwap, "8E00": .linuxLVM, "FD00": .linuxRAID, "8302": .linuxHome, "0700": .microsoftBasicData,
    ]

    /// The type for an sgdisk code (`ef00`, `EF00`) or a full GUID; nil if unknown.
    public static func gpt(code: String) -> PartitionType? {
        if let known = sgdiskCodes[code.uppercased()] { return known }
        if let id = Identifier(code) { return PartitionType(guid: id, mbrCode: 0x83) }
        return nil
    }

    /// The type for an MBR system ID; the GUID is the closest GPT equivalent (Linux data for
    /// anything unknown: it only matters if the layout is ever written as GPT).
    public static func mbr(code: UInt8) -> PartitionType {
        switch code {
        case 0xEF: return PartitionType(guid: efiSystem.guid, mbrCode: code)
        case 0x82: return .linuxSwap
        case 0x8E: return .linuxLVM
        case 0xFD: return .linuxRAID
        case 0x0B, 0x0C, 0x0E, 0x07: return PartitionType(guid: microsoftBasicData.guid, mbrCode: code)
        default: return PartitionType(guid: linuxFilesystem.guid, mbrCode: code)
        }
    }
}
