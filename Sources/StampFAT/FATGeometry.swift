/// Where the regions of a FAT volume lie, all in 512-byte sectors, computed from its size.
///
/// The rules follow Microsoft's FAT specification: the FAT type is decided only by the count
/// of data clusters (FAT16: 4085 … 65524; FAT32: 65525 and more), so the geometry picks a
/// cluster size that lands in the requested type's range, then sizes each FAT to cover every
/// cluster plus the two reserved entries.
public struct FATGeometry: Sendable, Equatable {
    /// The two FAT variants stamp writes.
    public enum Kind: String, Sendable, Equatable {
        case fat16, fat32
        /// Bytes per FAT entry.
        var entryBytes: Int { self == .fat16 ? 2 : 4 }
    }

    public static let sectorSize = 512
    /// Fewest clusters a FAT16 volume may have (fewer makes it FAT12).
    public static let minimumFAT16Clusters = 4085
    /// Most clusters a FAT16 volume may have.
    public static let maximumFAT16Clusters = 65524
    /// Fewest clusters a FAT32 volume may have.
    public static let minimumFAT32Clusters = 65525
    /// Most clusters a FAT32 volume may have (28-bit entries minus the reserved values).
    public static let maximumFAT32Clusters = 0x0FFF_FFF5

    public var kind: Kind
    /// `BPB_TotSec16`/`BPB_TotSec32`.
    public var totalSectors: UInt32
    /// `BPB_SecPerClus`.
    public var sectorsPerCluster: UInt32
    /// `BPB_RsvdSecCnt`: 32 on FAT32 (boot, FSInfo, backups), 1 on FAT16.
    public var reservedSectors: UInt32
    /// `BPB_FATSz16`/`BPB_FATSz32`: sectors of each of the two FATs.
    public var fatSectors: UInt32
    /// `BPB_RootEntCnt`: FAT16's fixed root directory entries (0 on FAT32).
    public var rootEntries: UInt32
    /// Number of data clusters (clusters 2 … clusterCount + 1).
    public var clusterCount: UInt32

    /// Sectors of the FAT16 fixed root directory.
    public var rootSectors: UInt32 { (rootEntries * 32 + 511) / 512 }
    /// First sector of FAT number `index` (0 or 1).
    public func fatStart(_ index: UInt32) -> UInt32 { reservedSectors + index * fatSectors }
    /// First sector of the FAT16 root directory.
    public var rootStart: UInt32 { reservedSectors + 2 * fatSectors }
    /// First sector of cluster 2.
    public var dataStart: UInt32 { rootStart + rootSectors }
    /// Bytes per cluster.
    public var clusterBytes: Int { Int(sectorsPerCluster) * FATGeometry.sectorSize }
    /// Byte offset of `cluster` (≥ 2) in the volume.
    public func offset(ofCluster cluster: UInt32) -> UInt64 {
        (UInt64(dataStart) + UInt64(cluster - 2) * UInt64(sectorsPerCluster)) * UInt64(FATGeometry.sectorSize)
    }

    /// Computes a geometry, or nil if `kind` cannot be made with these parameters.
    static func make(kind: Kind, totalSectors: UInt32, sectorsPerCluster: UInt32, rootEntries: UInt32) -> FATGeometry? {
        let reserved: UInt32 = kind == .fat32 ? 32 : 1
        let root = kind == .fat32 ? 0 : rootEntries
        let rootSectors = (root * 32 + 511) / 512
        // The clusters a FAT of `fat` sectors leaves, and the FAT sectors those clusters need.
        func fit(_ fat: UInt32) -> (clusters: UInt32, needed: UInt32)? {
            let used = UInt64(reserved) + 2 * UInt64(fat) + UInt64(rootSectors)
            guard used < UInt64(totalSectors) else { return nil }
            let clusters = (totalSectors - UInt32(used)) / sectorsPerCluster
            return (clusters, UInt32((UInt64(clusters + 2) * UInt64(kind.entryBytes) + 511) / 512))
        }
        // Grow until the FAT covers its clusters, then shrink while a smaller FAT still does
        // (a smaller FAT frees sectors, so this settles on the smallest sufficient size).
        var fat: UInt32 = 1
        guard var current = fit(fat) else { return nil }
        while current.needed > fat {
            fat = current.needed
            guard let next = fit(fat) else { return nil }
            current = next
        }
        while fat > 1, let smaller = fit(fat - 1), smaller.needed <= fat - 1 {
            fat -= 1
            current = smaller
        }
        let clusters = current.clusters
        let range =
            kind == .fat32
            ? minimumFAT32Clusters...maximumFAT32Clusters : minimumFAT16Clusters...maximumFAT16Clusters
        guard range.contains(Int(clusters)) else { return nil }
        return FATGeometry(
            kind: kind, totalSectors: totalSectors, sectorsPerCluster: sectorsPerCluster, reservedSectors: reserved,
            fatSectors: fat, rootEntries: root, clusterCount: clusters)
    }

    /// Chooses a geometry for a volume of `totalSectors` sectors.
    ///
    /// FAT32 uses Microsoft's cluster sizes (512 B up to 260 MiB, 4 KiB up to 8 GiB, 8 KiB up to
    /// 16 GiB, 16 KiB up to 32 GiB, then 32 KiB), shrinking the cluster if the volume would
    /// otherwise have too few clusters. FAT16 uses the smallest cluster that keeps the count
    /// under 65525. `kind == nil` picks FAT32 whenever the volume is big enough for it.
    ///
    /// - Parameter rootEntries: FAT16 root directory capacity (rounded up to whole sectors).
    static func choose(kind: Kind?, totalSectors: UInt32, rootEntries: UInt32) -> FATGeometry? {
        let mib = (UInt64(totalSectors) * 512) >> 20
        if kind != .fat16 {
            let preferred: UInt32 = mib <= 260 ? 1 : mib <= 8192 ? 8 : mib <= 16384 ? 16 : mib <= 32768 ? 32 : 64
            var spc = preferred
            while spc >= 1 {
                if let g = make(kind: .fat32, totalSectors: totalSectors, sectorsPerCluster: spc, rootEntries: 0) {
                    return g
                }
                spc /= 2
            }
            if kind == .fat32 { return nil }
        }
        let entries = max(512, (rootEntries + 15) / 16 * 16)
        var spc: UInt32 = 1
        while spc <= 128 {
            if let g = make(kind: .fat16, totalSectors: totalSectors, sectorsPerCluster: spc, rootEntries: entries) {
                return g
            }
            spc *= 2
        }
        return nil
    }
}
