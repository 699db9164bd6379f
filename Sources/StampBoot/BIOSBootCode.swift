import StampBytes

/// GRUB's BIOS boot code, embedded the way `grub-bios-setup` embeds it, without a device.
///
/// A BIOS boots by loading LBA 0 and jumping into it. GRUB splits itself in two:
///
/// ```
///  LBA 0 (boot.img, 512 B)                         core.img, at coreLBA (BIOS boot partition
///  +------+-----------+---------------+------+      or the post-MBR gap)
///  | jmp  | BPB area  | code ... 0x5C |  PT  |      +-------------------+----------------------+
///  | 0x00 | 0x03-0x5A | kernel sector |0x1B8 |      | diskboot sector   | lzma'd kernel +      |
///  +------+-----------+---------------+------+      | blocklist @ 0x1F4 | modules + early cfg  |
///        kept from the     patched    kept from     +-------------------+----------------------+
///        table's sector 0             sector 0       start = coreLBA+1, len = sectors-1, seg 0x820
/// ```
///
/// `boot.img` reads the first sector of `core.img` from the LBA stored at 0x5C (the on-disk
/// field is `GRUB_BOOT_MACHINE_KERNEL_SECTOR`). That sector (`diskboot.img`) ends with a
/// list of 12-byte blocklists, read downwards from 0x1F4: {u64 start, u16 len, u16 segment}.
/// Because stamp always places `core.img` contiguously, one entry covers the rest of it; the
/// entry below it (at 0x1E8) must be all zero, which terminates the list.
///
/// Reed-Solomon parity (`grub-bios-setup`'s default, `--no-rs-codes` turns it off) is not
/// added: it only repairs a core.img damaged by other software writing into the gap.
public struct BIOSBootCode: Sendable, Equatable {
    /// The sector size the BIOS and GRUB's diskboot use.
    public static let sectorSize = 512

    /// Field offsets in `boot.img` (GRUB's `include/grub/i386/pc/boot.h`).
    public enum BootField {
        /// `GRUB_BOOT_MACHINE_BPB_START`: first byte of the BIOS parameter block kept from sector 0.
        public static let bpbStart = 0x03
        /// `GRUB_BOOT_MACHINE_BPB_END`: one past the last BPB byte.
        public static let bpbEnd = 0x5A
        /// `GRUB_BOOT_MACHINE_KERNEL_SECTOR`: LE u64 LBA of core.img's first sector.
        public static let kernelSector = 0x5C
        /// `GRUB_BOOT_MACHINE_BOOT_DRIVE`: 0xFF means "use the drive the BIOS passed in DL".
        public static let bootDrive = 0x64
        /// `GRUB_BOOT_MACHINE_DRIVE_CHECK`: a 2-byte `jmp` replaced by two NOPs on hard disks.
        public static let driveCheck = 0x66
        /// `GRUB_BOOT_MACHINE_WINDOWS_NT_MAGIC`: disk signature, then the partition table.
        public static let windowsNTMagic = 0x1B8
        /// `GRUB_BOOT_MACHINE_PART_END`: one past the last partition-table byte.
        public static let partitionEnd = 0x1FE
        /// The `55 AA` boot signature.
        public static let signature = 0x1FE
    }

    /// Field offsets in core.img's first sector (GRUB's `boot/i386/pc/diskboot.S`).
    public enum CoreField {
        /// Size of one blocklist entry (`GRUB_BOOT_MACHINE_LIST_SIZE`).
        public static let blocklistSize = 12
        /// The first (topmost) blocklist entry: 0x200 - 12.
        public static let firstBlocklist = 0x1F4
        /// The entry below it, which must be zero to end the list.
        public static let terminator = 0x1E8
        /// The load segment of the sectors after the first: `GRUB_BOOT_I386_PC_KERNEL_SEG` + 0x20.
        public static let segment: UInt16 = 0x820
    }

    /// `boot.img`, exactly 512 bytes.
    public let bootImage: [UInt8]
    /// `core.img` as `grub-mkimage -O i386-pc` wrote it.
    public let coreImage: [UInt8]

    /// Checks the two images' shapes.
    /// - Parameters:
    ///   - bootImage: `/usr/lib/grub/i386-pc/boot.img` of the tree.
    ///   - coreImage: the output of `grub-mkimage -O i386-pc`.
    ///   - source: a name for messages (the tree path the images came from).
    /// - Throws: ``BootError/bootImageSize(path:size:)``, ``BootError/bootImageSignature(path:)``,
    ///   ``BootError/coreImageTooSmall(path:size:)``.
    public init(bootImage: [UInt8], coreImage: [UInt8], source: String = "grub") throws(BootError) {
        guard bootImage.count == Self.sectorSize else {
            throw .bootImageSize(path: source + "/boot.img", size: bootImage.count)
        }
        guard bootImage[510] == 0x55, bootImage[511] == 0xAA else {
            throw .bootImageSignature(path: source + "/boot.img")
        }
        guard coreImage.count >= Self.sectorSize else {
            throw .coreImageTooSmall(path: source + "/core.img", size: coreImage.count)
        }
        self.bootImage = bootImage
        self.coreImage = coreImage
        self.source = source
    }

    private let source: String

    /// The number of sectors core.img occupies (its size rounded up to 512).
    public var coreSectors: UInt64 {
        UInt64(coreImage.count).dividedRoundingUp(by: UInt64(Self.sectorSize))
    }

    /// Checks that core.img fits where `placement` puts it.
    /// - Throws: ``BootError/coreImageDoesNotFit(path:sectors:capacity:region:)``.
    public func check(_ placement: BIOSPlacement) throws(BootError) {
        let capacity = try placement.capacity()
        guard coreSectors <= capacity else {
            throw .coreImageDoesNotFit(
                path: source + "/core.img", sectors: coreSectors, capacity: capacity, region: placement.regionName)
        }
    }

    /// The new sector 0: `boot.img` carrying the BPB area and the partition table of `sector0`.
    ///
    /// - Parameters:
    ///   - sector0: LBA 0 as the partition-table writer made it (protective MBR or MBR).
    ///   - coreLBA: where core.img's first sector is written.
    ///   - allowFloppy: keep the drive-check `jmp` (`grub-bios-setup --allow-floppy`).
    /// - Returns: 512 bytes to write at LBA 0.
    public func patchedMBR(sector0: [UInt8], coreLBA: UInt64, allowFloppy: Bool = false) throws(BootError) -> [UInt8] {
        guard sector0.count == Self.sectorSize else { throw .sectorSize(what: "sector 0", size: sector0.count) }
        var out = bootImage
        out.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.bytes(sector0[BootField.bpbStart..<BootField.bpbEnd], at: BootField.bpbStart)
            w.le64(coreLBA, at: BootField.kernelSector)
            w.u8(0xFF, at: BootField.bootDrive)
            if !allowFloppy {
                w.u8(0x90, at: BootField.driveCheck)
                w.u8(0x90, at: BootField.driveCheck + 1)
            }
            w.bytes(sector0[BootField.windowsNTMagic..<BootField.partitionEnd], at: BootField.windowsNTMagic)
            w.u8(0x55, at: BootField.signature)
            w.u8(0xAA, at: BootField.signature + 1)
        }
        return out
    }

    /// core.img, padded to whole sectors, with its blocklist pointing at the sectors after `lba`.
    ///
    /// - Parameter lba: where core.img's first sector is written.
    /// - Returns: `coreSectors * 512` bytes to write at `lba`.
    public func patchedCore(lba: UInt64) throws(BootError) -> [UInt8] {
        let rest = coreSectors - 1
        guard rest <= UInt64(UInt16.max) else {
            throw .coreImageDoesNotFit(
                path: source + "/core.img", sectors: coreSectors, capacity: UInt64(UInt16.max) + 1,
                region: "one diskboot blocklist")
        }
        var out = coreImage
        out.append(contentsOf: repeatElement(0, count: Int(coreSectors) * Self.sectorSize - coreImage.count))
        out.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.fill(0, at: CoreField.terminator, count: CoreField.blocklistSize)
            w.le64(lba + 1, at: CoreField.firstBlocklist)
            w.le16(UInt16(rest), at: CoreField.firstBlocklist + 8)
            w.le16(CoreField.segment, at: CoreField.firstBlocklist + 10)
        }
        return out
    }

    /// Both patched regions for `placement`, after checking that core.img fits there.
    /// - Returns: the new LBA 0, and core.img with the LBA to write it at.
    public func sectors(
        sector0: [UInt8], placement: BIOSPlacement, allowFloppy: Bool = false
    ) throws(BootError) -> (mbr: [UInt8], core: [UInt8], coreLBA: UInt64) {
        try check(placement)
        let lba = placement.coreLBA
        return (try patchedMBR(sector0: sector0, coreLBA: lba, allowFloppy: allowFloppy), try patchedCore(lba: lba), lba)
    }
}

/// Where core.img goes on a BIOS-booted disk.
public enum BIOSPlacement: Sendable, Equatable, CustomStringConvertible {
    /// GPT: the whole BIOS boot partition (type `21686148-6449-6E6F-744E-656564454649`,
    /// sgdisk code EF02). GPT's own header and entries fill LBA 1-33, so there is no gap.
    case biosBootPartition(startLBA: UInt64, sectors: UInt64)
    /// MBR: the post-MBR gap, LBA 1 up to the sector before the first partition.
    case postMBRGap(firstPartitionLBA: UInt64)

    /// The LBA of core.img's first sector.
    public var coreLBA: UInt64 {
        switch self {
        case .biosBootPartition(let start, _): return start
        case .postMBRGap: return 1
        }
    }

    /// The sectors available to core.img.
    public func capacity() throws(BootError) -> UInt64 {
        switch self {
        case .biosBootPartition(let start, let sectors):
            guard start >= 1 else { throw .invalidPlacement("bios boot partition at lba 0") }
            return sectors
        case .postMBRGap(let first):
            guard first >= 2 else { throw .invalidPlacement("first partition at lba \(first) leaves no post-mbr gap") }
            return first - 1
        }
    }

    var regionName: String {
        switch self {
        case .biosBootPartition(let start, _): return "the bios boot partition at lba \(start)"
        case .postMBRGap(let first): return "the post-mbr gap before lba \(first)"
        }
    }

    public var description: String { regionName }
}
