import StampBytes

/// Where every partition of a disk lies, in 512-byte sectors: the plan that the partition
/// tables are encoded from and that ``DiskAssembler`` places content by.
///
/// ```
///  scheme .none:  [ filesystem ..................................... ]   (one pseudo-partition at 0)
///  scheme .mbr:   [MBR|gap 1 MiB][ p1 ][ p2 ]...[EBR|gap][ p5 ]...[ 1 MiB unused ]
///  scheme .gpt:   [PMBR|hdr|entries|gap][ p1 ][ p2 ]...[ free ][entries|hdr]
///                  LBA 0  1   2..33      2048                      N-33   N-1
/// ```
///
/// Layouts are computed by ``DiskLayout/plan(scheme:requests:diskSize:alignment:seed:)`` with
/// diskimage-builder's exact arithmetic, or by ``StandardLayout`` for `stamp pack --layout`.
public struct DiskLayout: Sendable, Equatable {
    /// The sector size every LBA here counts in.
    public static let sectorSize: UInt64 = 512

    /// The partition table kind.
    public enum Scheme: String, Sendable, Equatable, CaseIterable {
        /// No table: the disk is one bare filesystem.
        case none
        /// A DOS partition table (primary and logical partitions).
        case mbr
        /// A GUID partition table with a protective MBR.
        case gpt
    }

    /// The partition table kind.
    public var scheme: Scheme
    /// The whole disk, in sectors (the image's virtual size is `sectorCount * 512`).
    public var sectorCount: UInt64
    /// Partitions in table order (MBR logicals come after the primaries and are numbered from 5).
    public var partitions: [Partition]
    /// The alignment every partition start honours, in sectors (2048 = 1 MiB).
    public var alignment: UInt64
    /// The GPT `DiskGUID` (ignored for MBR).
    public var diskGUID: Identifier
    /// The MBR disk signature at byte 440 (`0` on GPT disks, as sgdisk writes it).
    public var mbrSignature: UInt32

    public init(
        scheme: Scheme, sectorCount: UInt64, partitions: [Partition], alignment: UInt64 = 2048,
        diskGUID: Identifier, mbrSignature: UInt32
    ) {
        self.scheme = scheme
        self.sectorCount = sectorCount
        self.partitions = partitions
        self.alignment = alignment
        self.diskGUID = diskGUID
        self.mbrSignature = mbrSignature
    }

    /// The disk size in bytes.
    public var size: UInt64 { sectorCount * DiskLayout.sectorSize }

    /// The partition with this name (config names are unique), if any.
    public func partition(named name: String) -> Partition? { partitions.first { $0.name == name } }

    /// The partition with this role, if any (the first one).
    public func partition(role: Partition.Role) -> Partition? { partitions.first { $0.role == role } }

    /// Where GRUB's `core.img` goes on this disk: the BIOS boot partition on GPT, the gap after
    /// the MBR (LBA 1 up to the first partition) on MBR, nothing on a bare filesystem.
    /// Returned as a sector range `start..<end`.
    public var embeddingArea: Range<UInt64>? {
        switch scheme {
        case .none: return nil
        case .gpt:
            guard let bios = partition(role: .biosBoot) else { return nil }
            return bios.start..<(bios.start + bios.sectors)
        case .mbr:
            let first = partitions.map(\.start).min() ?? alignment
            return first > 1 ? 1..<first : nil
        }
    }

    /// One partition of the plan.
    public struct Partition: Sendable, Equatable {
        /// What a partition is for; the assembler and the boot code find partitions by role.
        public enum Role: String, Sendable, Equatable {
            /// The root filesystem (`/`).
            case root
            /// The EFI System Partition.
            case efiSystem
            /// The BIOS boot partition (GRUB `core.img` on GPT).
            case biosBoot
            /// Anything else.
            case other
        }

        /// The configuration's name (`root`, `ESP`, `BSP`); on GPT also the partition name.
        public var name: String
        /// The number the kernel gives it (`sda1`, ..., logicals from 5).
        public var number: Int
        /// First sector.
        public var start: UInt64
        /// Length in sectors.
        public var sectors: UInt64
        /// The type (GPT GUID and MBR byte).
        public var type: PartitionType
        /// What the partition is for.
        public var role: Role
        /// MBR: a logical partition inside the extended one.
        public var isLogical: Bool
        /// MBR: the active flag (status `0x80`).
        public var bootable: Bool
        /// GPT attribute bits (entry offset 48).
        public var attributes: GPTAttributes
        /// GPT `UniquePartitionGUID`.
        public var uniqueGUID: Identifier

        public init(
            name: String, number: Int, start: UInt64, sectors: UInt64, type: PartitionType, role: Role = .other,
            isLogical: Bool = false, bootable: Bool = false, attributes: GPTAttributes = [],
            uniqueGUID: Identifier
        ) {
            self.name = name
            self.number = number
            self.start = start
            self.sectors = sectors
            self.type = type
            self.role = role
            self.isLogical = isLogical
            self.bootable = bootable
            self.attributes = attributes
            self.uniqueGUID = uniqueGUID
        }

        /// Byte offset of the partition on the disk.
        public var offset: UInt64 { start * DiskLayout.sectorSize }
        /// Byte length of the partition.
        public var size: UInt64 { sectors * DiskLayout.sectorSize }
        /// The last sector (inclusive), as partition tables store it.
        public var lastSector: UInt64 { start + sectors - 1 }
    }
}

/// GPT partition attribute bits (`Attributes`, entry offset 48).
public struct GPTAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: required by the platform.
    public static let required = GPTAttributes(rawValue: 1 << 0)
    /// Bit 1: EFI firmware must not produce a block-IO protocol for it.
    public static let noBlockIO = GPTAttributes(rawValue: 1 << 1)
    /// Bit 2: legacy BIOS bootable (what `sgdisk -A n:set:2` sets; some BIOSes look for it).
    public static let legacyBIOSBootable = GPTAttributes(rawValue: 1 << 2)
    /// Bit 59: discoverable partitions "grow the filesystem to the partition".
    public static let growFileSystem = GPTAttributes(rawValue: 1 << 59)
    /// Bit 60: read-only.
    public static let readOnly = GPTAttributes(rawValue: 1 << 60)
    /// Bit 63: do not mount automatically.
    public static let noAutomount = GPTAttributes(rawValue: 1 << 63)
}

/// A run of bytes a partition table contributes to the disk (a sector or a few).
public struct TableBlock: Sendable, Equatable {
    /// Byte offset on the disk.
    public var offset: UInt64
    /// The bytes (whole sectors).
    public var bytes: [UInt8]

    public init(offset: UInt64, bytes: [UInt8]) {
        self.offset = offset
        self.bytes = bytes
    }
}

extension DiskLayout {
    /// The things the layout planner, the tables and the assembler refuse, each naming the
    /// partition (or piece of the disk) at fault.
    public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// A partition does not fit on the disk.
        case doesNotFit(partition: String, neededSectors: UInt64, availableSectors: UInt64)
        /// A partition would be empty or smaller than the minimum for its table.
        case tooSmall(partition: String, bytes: UInt64)
        /// A primary partition was requested after a logical one (DIB requires primaries first).
        case primaryAfterLogical(partition: String)
        /// More than four primary entries (counting the extended partition).
        case tooManyPrimaries(partition: String)
        /// MBR cannot address sectors beyond 2^32.
        case beyondMBRLimit(partition: String)
        /// A GPT name longer than 36 UTF-16 units.
        case nameTooLong(partition: String)
        /// A bare-filesystem layout has exactly one partition.
        case bareLayoutNeedsOnePartition(count: Int)
        /// Content bigger than the partition it goes into.
        case contentTooLarge(partition: String, contentBytes: UInt64, partitionBytes: UInt64)
        /// Content given for a partition the layout does not have.
        case noSuchPartition(String)
        /// Boot code too big for the place it goes.
        case bootCodeTooLarge(what: String, bytes: UInt64, capacity: UInt64)
        /// The layout has nowhere to put `core.img` (no BIOS boot partition on GPT, a bare filesystem).
        case noEmbeddingArea
        /// Two pieces of the disk overlap.
        case overlap(first: String, second: String, offset: UInt64)
        /// No disk size satisfies the request (root too large for the address space).
        case noDiskSizeFits(partition: String, bytes: UInt64)
        /// Only 512-byte logical sectors are written today (DIB's `block_size: 4096` is not).
        case unsupportedSectorSize(Int)

        public var description: String {
            switch self {
            case .doesNotFit(let p, let needed, let available):
                return "partition \(p) needs \(needed) sectors but only \(available) are free"
            case .tooSmall(let p, let bytes):
                return "partition \(p) is too small (\(bytes) bytes)"
            case .primaryAfterLogical(let p):
                return "partition \(p): primary partitions must come before logical ones"
            case .tooManyPrimaries(let p):
                return "partition \(p): an mbr table holds at most four primary entries (the extended partition counts)"
            case .beyondMBRLimit(let p):
                return "partition \(p) lies beyond the 2 TiB an mbr table can address; use gpt"
            case .nameTooLong(let p):
                return "partition name \(p) is longer than the 36 characters gpt allows"
            case .bareLayoutNeedsOnePartition(let count):
                return "a layout without partition table has exactly one filesystem, not \(count)"
            case .contentTooLarge(let p, let content, let size):
                return "content for partition \(p) is \(content) bytes, larger than the partition (\(size) bytes)"
            case .noSuchPartition(let p):
                return "the layout has no partition \(p)"
            case .bootCodeTooLarge(let what, let bytes, let capacity):
                return "\(what) is \(bytes) bytes, more than the \(capacity) bytes available"
            case .noEmbeddingArea:
                return "the layout has no place for core.img (no bios boot partition or post-mbr gap)"
            case .overlap(let a, let b, let offset):
                return "\(b) overlaps \(a) at byte \(offset)"
            case .noDiskSizeFits(let p, let bytes):
                return "no disk size gives partition \(p) \(bytes) bytes"
            case .unsupportedSectorSize(let size):
                return "\(size)-byte sectors are not supported yet (only 512)"
            }
        }
    }
}
