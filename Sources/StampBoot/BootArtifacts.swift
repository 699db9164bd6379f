import StampBytes

/// Everything the disk assembler needs from the boot loader step.
public struct BootArtifacts: Sendable {
    /// The layout these were made for.
    public var layout: BootLayout
    /// The root filesystem they find.
    public var root: RootFilesystem
    /// boot.img + core.img; nil when the layout does not boot from a BIOS.
    public var bios: BIOSBootCode?
    /// Files for the ESP, sorted by path; empty unless the layout boots from UEFI.
    public var espFiles: [ESPFile]
    /// True when `espFiles` hold the distribution's signed shim + grub (Secure Boot capable).
    public var signedEFI: Bool
    /// The grub.cfg added to the model at `/boot/grub/grub.cfg`.
    public var grubConfig: String
    /// The config embedded in core.img and the unsigned EFI image.
    public var earlyConfig: String
    /// What the step made, one line each, for the build log.
    public var log: String

    /// The ESP directories to create, parents first (e.g. `EFI`, `EFI/BOOT`, `EFI/debian`).
    public var espDirectories: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for file in espFiles {
            let parts = file.path.split(separator: "/").dropLast()
            for i in parts.indices {
                let directory = parts[...i].joined(separator: "/")
                if seen.insert(directory).inserted { out.append(directory) }
            }
        }
        return out
    }

    /// LBA 0 for a BIOS boot: `boot.img` carrying `sector0`'s BPB area and partition table.
    /// - Throws: ``BootError/invalidPlacement(_:)`` when the layout has no BIOS boot code.
    public func patchedMBR(sector0: [UInt8], coreLBA: UInt64) throws(BootError) -> [UInt8] {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.patchedMBR(sector0: sector0, coreLBA: coreLBA)
    }

    /// core.img, whole sectors, with its blocklist set for `lba`.
    public func patchedCore(lba: UInt64) throws(BootError) -> [UInt8] {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.patchedCore(lba: lba)
    }

    /// Both BIOS regions for `placement`, after checking that core.img fits there.
    public func biosSectors(
        sector0: [UInt8], placement: BIOSPlacement
    ) throws(BootError) -> (mbr: [UInt8], core: [UInt8], coreLBA: UInt64) {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.sectors(sector0: sector0, placement: placement)
    }
}
