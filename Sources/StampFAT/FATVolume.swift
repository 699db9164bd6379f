import StampBytes
import StampIO

/// A FAT16 or FAT32 volume written in one forward pass: the ESP of the `efi` layout and
/// `mkfs: vfat` in DIB configurations.
///
/// ```
///  sector 0        boot sector: jmp, OEM, BPB (bytes/sector, sectors/cluster, reserved,
///                  2 FATs, root entries, total sectors, media F8, FAT size, hidden sectors),
///                  volume ID and label, "FAT32   "/"FAT16   ", 55 AA at 510
///  sector 1        FAT32: FSInfo (RRaA … rrAa, free count, next free, 0xAA550000)
///  sector 6, 7     FAT32: backup boot sector and backup FSInfo
///  reserved end    FAT #1: entry per cluster (FAT32 28-bit in le32, FAT16 le16);
///                  [0] = media | ones, [1] = end-of-chain, then chains: next or EOC
///                  FAT #2: identical copy
///  FAT16 only      fixed root directory (rootEntries × 32 bytes)
///  data            cluster 2, 3, …: directories and files, each a contiguous chain,
///                  laid out in the order they were allocated (depth-first)
/// ```
///
/// Everything is planned when the volume is created (clusters, names, directory contents), so
/// ``emit(into:at:)`` only streams: boot sectors, the FATs, then every cluster in ascending
/// order; free clusters are never written (zeros in the sink). Output is deterministic: the
/// volume ID comes from the options and timestamps from the entries.
public final class FATVolume: ImageProducer {
    /// How to make the volume.
    public struct Options: Sendable, Equatable {
        /// The volume size in bytes (rounded down to a sector).
        public var size: UInt64
        /// Volume label (up to 11 characters, stored upper-case); nil writes `NO NAME`.
        public var label: String?
        /// `BS_VolID`; use ``FATVolume/volumeID(seed:)`` for a deterministic one.
        public var volumeID: UInt32
        /// Force FAT16 or FAT32; nil picks FAT32 when the volume is big enough for it.
        public var kind: FATGeometry.Kind?
        /// `BPB_HiddSec`: the partition's first LBA on its disk (0 for a side file).
        public var hiddenSectors: UInt32

        public init(
            size: UInt64, label: String? = nil, volumeID: UInt32 = 0, kind: FATGeometry.Kind? = nil, hiddenSectors: UInt32 = 0
        ) {
            self.size = size
            self.label = label
            self.volumeID = volumeID
            self.kind = kind
            self.hiddenSectors = hiddenSectors
        }
    }

    /// Why a volume cannot be made, naming the entry at fault.
    public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// No FAT16/FAT32 geometry fits this many bytes.
        case noGeometry(size: UInt64, kind: String)
        /// The files need more clusters than the volume has.
        case full(neededClusters: UInt64, availableClusters: UInt64)
        /// A name cannot be stored.
        case invalidName(path: String, reason: String)
        /// Two names in one directory are equal ignoring case.
        case duplicateName(path: String)
        /// FAT files end at 4 GiB − 1.
        case fileTooLarge(path: String, size: UInt64)
        /// A directory holds at most 65536 entries.
        case directoryTooLarge(path: String, entries: Int)
        /// The label is too long or has characters a short name cannot hold.
        case invalidLabel(String)

        public var description: String {
            switch self {
            case .noGeometry(let size, let kind): return "no \(kind) layout fits a volume of \(size) bytes"
            case .full(let needed, let available):
                return "the files need \(needed) clusters but the volume has \(available)"
            case .invalidName(let path, let reason): return "\(path): cannot be stored on fat: \(reason)"
            case .duplicateName(let path): return "\(path): another entry has the same name ignoring case"
            case .fileTooLarge(let path, let size): return "\(path): \(size) bytes is more than fat allows (4 GiB - 1)"
            case .directoryTooLarge(let path, let entries): return "\(path): \(entries) directory entries, more than 65536"
            case .invalidLabel(let label): return "volume label '\(label)' is not 1-11 short-name characters"
            }
        }
    }

    /// A run of clusters and what fills it.
    enum Extent {
        case directory([UInt8])
        case bytes([UInt8])
        case file(path: String, size: UInt64)
        case source(FATFileSource, size: UInt64)
    }

    public let options: Options
    public let geometry: FATGeometry
    /// The 11-byte label as stored.
    let label: [UInt8]
    /// FAT16 root directory bytes (FAT32 keeps the root in `extents`).
    var fixedRoot: [UInt8] = []
    /// Allocated runs, ascending: first cluster, cluster count, content.
    var extents: [(first: UInt32, count: UInt32, content: Extent)] = []
    /// The next cluster to hand out.
    var nextCluster: UInt32 = 2

    public var size: UInt64 { UInt64(geometry.totalSectors) * UInt64(FATGeometry.sectorSize) }

    /// Clusters in use (directories and files).
    public var usedClusters: UInt32 { nextCluster - 2 }

    /// Plans a volume holding `root`'s entries.
    /// - Throws: ``Error`` for names, sizes and capacity; nothing is read from source files yet.
    public init(options: Options, root: [FATEntry]) throws {
        self.options = options
        if let text = options.label {
            guard !text.isEmpty, text.utf8.count <= 11, let short = FATNames.shortLabel(text) else {
                throw Error.invalidLabel(text)
            }
            label = short
        } else {
            label = Array("NO NAME    ".utf8)
        }
        let sectors = options.size / UInt64(FATGeometry.sectorSize)
        guard sectors <= UInt64(UInt32.max),
            let geometry = FATGeometry.choose(
                kind: options.kind, totalSectors: UInt32(sectors),
                rootEntries: UInt32(FATVolume.entryCount(of: root, isRoot: true, labelled: options.label != nil)))
        else { throw Error.noGeometry(size: options.size, kind: options.kind?.rawValue ?? "fat16 or fat32") }
        self.geometry = geometry
        try plan(root)
    }

    /// A stable volume ID from seed bytes (FNV-1a).
    public static func volumeID(seed: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in seed { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// Directory entries a directory needs: its children's short entries and LFN entries, plus
    /// `.`/`..` (subdirectories) or the volume label (root).
    static func entryCount(of children: [FATEntry], isRoot: Bool, labelled: Bool) -> Int {
        var count = isRoot ? (labelled ? 1 : 0) : 2
        for child in children {
            count += 1
            if FATNames.exactShortName(child.name) == nil { count += (child.name.utf16.count + 12) / 13 }
        }
        return count
    }
}

extension FATNames {
    /// A volume label as 11 short-name bytes, or nil if it has characters a label cannot hold.
    static func shortLabel(_ text: String) -> [UInt8]? {
        let bytes = Array(text.uppercased().utf8)
        let ok = bytes.allSatisfy { b in
            (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || shortSpecials.contains(b) || b == 0x20
        }
        return ok && bytes.first != 0x20 ? pad(bytes, 11) : nil
    }
}
