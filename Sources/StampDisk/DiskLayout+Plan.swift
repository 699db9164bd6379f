import StampBytes

/// A partition as a configuration asks for it, before it has a place on the disk.
public struct PartitionRequest: Sendable, Equatable {
    /// How big: a byte count, or a percentage of the space still free when it is placed.
    public enum Size: Sendable, Equatable {
        case bytes(UInt64)
        case percent(Double)
    }

    public var name: String
    public var size: Size
    public var type: PartitionType
    public var role: DiskLayout.Partition.Role
    /// MBR only: a primary partition (otherwise logical).
    public var primary: Bool
    /// MBR only: the active flag.
    public var bootable: Bool
    /// GPT only.
    public var attributes: GPTAttributes

    public init(
        name: String, size: Size, type: PartitionType, role: DiskLayout.Partition.Role = .other,
        primary: Bool = true, bootable: Bool = false, attributes: GPTAttributes = []
    ) {
        self.name = name
        self.size = size
        self.type = type
        self.role = role
        self.primary = primary
        self.bootable = bootable
        self.attributes = attributes
    }
}

extension DiskLayout {
    /// Places `requests` on a disk of `diskSize` bytes with diskimage-builder's arithmetic.
    ///
    /// - MBR (DIB `mbr.py`): the first partition starts at the alignment; each length is exactly
    ///   `size / 512`; the next start is rounded up to the alignment; logicals have their EBR at an
    ///   aligned sector and their data one alignment later. Free space for `%` sizes is
    ///   `disk − (next free sector + alignment) × 512`, so one alignment unit stays unused at the end.
    /// - GPT (DIB's `sgdisk -n i:0:+<MiB>M` calls): free space is `disk − 2 MiB`; each size is
    ///   floored to whole MiB; partitions are contiguous from LBA 2048.
    /// - none: one pseudo-partition covering the disk (the bare filesystem).
    ///
    /// - Parameters:
    ///   - seed: bytes that make GUIDs and the MBR signature deterministic; nil for random ones.
    /// - Throws: ``DiskLayout.Error`` naming the first partition that cannot be placed.
    public static func plan(
        scheme: Scheme, requests: [PartitionRequest], diskSize: UInt64, alignment: UInt64 = 1 << 20,
        seed: [UInt8]? = nil
    ) throws -> DiskLayout {
        let sector = DiskLayout.sectorSize
        let n = diskSize / sector
        let align = max(alignment / sector, 1)
        func guid(_ label: String) -> Identifier {
            seed.map { Identifier.derived(from: $0 + Array(label.utf8)) } ?? Identifier.random()
        }
        let diskGUID = guid("disk")
        let signature = guid("mbr-signature").bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        func part(_ r: PartitionRequest, _ number: Int, _ start: UInt64, _ sectors: UInt64, logical: Bool) throws
            -> Partition
        {
            guard sectors > 0 else { throw DiskLayout.Error.tooSmall(partition: r.name, bytes: sectors * sector) }
            return Partition(
                name: r.name, number: number, start: start, sectors: sectors, type: r.type, role: r.role,
                isLogical: logical, bootable: r.bootable, attributes: r.attributes,
                uniqueGUID: guid("partition-\(number)-\(r.name)"))
        }
        switch scheme {
        case .none:
            guard requests.count == 1 else { throw DiskLayout.Error.bareLayoutNeedsOnePartition(count: requests.count) }
            let p = try part(requests[0], 1, 0, n, logical: false)
            return DiskLayout(
                scheme: .none, sectorCount: n, partitions: [p], alignment: align, diskGUID: diskGUID, mbrSignature: 0)

        case .mbr:
            var partitions: [Partition] = []
            var nextFree = align
            var number = 0
            var logicalSeen = false
            for r in requests {
                let free = n > nextFree + align ? (n - nextFree - align) * sector : 0
                let bytes = resolve(r.size, free: free)
                let length = bytes / sector
                if r.primary {
                    if logicalSeen { throw DiskLayout.Error.primaryAfterLogical(partition: r.name) }
                    if number >= 4 { throw DiskLayout.Error.tooManyPrimaries(partition: r.name) }
                    let start = nextFree.roundedUp(toMultipleOf: align)
                    guard start + length <= n else {
                        throw DiskLayout.Error.doesNotFit(
                            partition: r.name, neededSectors: length, availableSectors: n - min(n, start))
                    }
                    number += 1
                    partitions.append(try part(r, number, start, length, logical: false))
                    nextFree = (start + length).roundedUp(toMultipleOf: align)
                } else {
                    if !logicalSeen {
                        if number >= 4 { throw DiskLayout.Error.tooManyPrimaries(partition: r.name) }
                        logicalSeen = true
                        number = 4
                    }
                    let ebr = nextFree
                    let start = (ebr + 1).roundedUp(toMultipleOf: align)
                    guard start + length <= n else {
                        throw DiskLayout.Error.doesNotFit(
                            partition: r.name, neededSectors: length, availableSectors: n - min(n, start))
                    }
                    number += 1
                    partitions.append(try part(r, number, start, length, logical: true))
                    nextFree = (start + length).roundedUp(toMultipleOf: align)
                }
            }
            return DiskLayout(
                scheme: .mbr, sectorCount: n, partitions: partitions, alignment: align, diskGUID: diskGUID,
                mbrSignature: signature)

        case .gpt:
            let mib: UInt64 = 1 << 20
            var free = diskSize > 2 * mib ? diskSize - 2 * mib : 0
            var start: UInt64 = 2048
            var partitions: [Partition] = []
            let lastUsable = n >= 34 ? GPT.lastUsableLBA(sectorCount: n) : 0
            for (i, r) in requests.enumerated() {
                let bytes = resolve(r.size, free: free) / mib * mib
                guard bytes > 0 else { throw DiskLayout.Error.tooSmall(partition: r.name, bytes: bytes) }
                let sectors = bytes / sector
                guard bytes <= free, start + sectors - 1 <= lastUsable else {
                    throw DiskLayout.Error.doesNotFit(
                        partition: r.name, neededSectors: sectors, availableSectors: lastUsable + 1 - min(lastUsable + 1, start))
                }
                partitions.append(try part(r, i + 1, start, sectors, logical: false))
                start += sectors
                free -= bytes
            }
            return DiskLayout(
                scheme: .gpt, sectorCount: n, partitions: partitions, alignment: 2048, diskGUID: diskGUID, mbrSignature: 0)
        }
    }

    /// DIB's `parse_rel_size_spec`: a percentage of `free`, truncated to whole bytes.
    static func resolve(_ size: PartitionRequest.Size, free: UInt64) -> UInt64 {
        switch size {
        case .bytes(let b): return b
        case .percent(let p): return UInt64((Double(free) * p / 100).rounded(.down))
        }
    }

    /// The smallest disk, in whole MiB, on which the partition named `partition` gets at least
    /// `bytes` bytes (it should be the one with a `%` size; the others keep their sizes).
    ///
    /// Binary search over the forward planner, so the result obeys exactly the same arithmetic.
    /// - Throws: ``DiskLayout.Error/noDiskSizeFits(partition:bytes:)`` if no size up to 2^50 bytes works.
    public static func smallestDisk(
        scheme: Scheme, requests: [PartitionRequest], partition: String, atLeast bytes: UInt64,
        alignment: UInt64 = 1 << 20, seed: [UInt8]? = nil
    ) throws -> DiskLayout {
        let mib: UInt64 = 1 << 20
        func attempt(_ mibs: UInt64) -> DiskLayout? {
            guard
                let layout = try? plan(
                    scheme: scheme, requests: requests, diskSize: mibs * mib, alignment: alignment, seed: seed),
                let p = layout.partition(named: partition), p.size >= bytes
            else { return nil }
            return layout
        }
        var low: UInt64 = 1
        var high: UInt64 = 1 << 30
        guard attempt(high) != nil else { throw DiskLayout.Error.noDiskSizeFits(partition: partition, bytes: bytes) }
        while low < high {
            let mid = (low + high) / 2
            if attempt(mid) != nil { high = mid } else { low = mid + 1 }
        }
        guard let layout = attempt(low) else { throw DiskLayout.Error.noDiskSizeFits(partition: partition, bytes: bytes) }
        return layout
    }
}

/// The layouts of `stamp pack --layout`, each exactly one of diskimage-builder's shipped
/// block-device configurations (dib.md §4.5).
///
/// | layout | table | partitions (name, type, size) |
/// |---|---|---|
/// | none | — | the root filesystem is the disk |
/// | mbr  | mbr | `root` 83, primary, active, 100% |
/// | gpt  | gpt | `BSP` EF02 8 MiB, `root` 8300 100% |
/// | efi  | gpt | `ESP` EF00 550 MiB, `BSP` EF02 8 MiB, `root` 8300 100% |
public enum StandardLayout: String, Sendable, CaseIterable {
    case none, mbr, gpt, efi

    /// The partition table this layout writes.
    public var scheme: DiskLayout.Scheme {
        switch self {
        case .none: return .none
        case .mbr: return .mbr
        case .gpt, .efi: return .gpt
        }
    }

    /// DIB's partition list for this layout.
    public var requests: [PartitionRequest] {
        let mib: UInt64 = 1 << 20
        let root100 = PartitionRequest.Size.percent(100)
        switch self {
        case .none:
            return [PartitionRequest(name: "root", size: root100, type: .linuxFilesystem, role: .root)]
        case .mbr:
            return [
                PartitionRequest(
                    name: "root", size: root100, type: .mbr(code: 0x83), role: .root, primary: true, bootable: true)
            ]
        case .gpt:
            return [
                PartitionRequest(name: "BSP", size: .bytes(8 * mib), type: .biosBoot, role: .biosBoot),
                PartitionRequest(name: "root", size: root100, type: .linuxFilesystem, role: .root),
            ]
        case .efi:
            return [
                PartitionRequest(name: "ESP", size: .bytes(550 * mib), type: .efiSystem, role: .efiSystem),
                PartitionRequest(name: "BSP", size: .bytes(8 * mib), type: .biosBoot, role: .biosBoot),
                PartitionRequest(name: "root", size: root100, type: .linuxFilesystem, role: .root),
            ]
        }
    }

    /// The layout for a disk of exactly `diskSize` bytes (`--size`); the root takes what is left.
    public func plan(diskSize: UInt64, seed: [UInt8]? = nil) throws -> DiskLayout {
        try DiskLayout.plan(scheme: scheme, requests: requests, diskSize: diskSize, seed: seed)
    }

    /// The smallest whole-MiB disk whose root partition holds `rootSize` bytes (`--size auto`).
    /// For `none` the disk is the filesystem itself, rounded up to a sector.
    public func plan(rootSize: UInt64, seed: [UInt8]? = nil) throws -> DiskLayout {
        if self == .none {
            return try plan(diskSize: rootSize.roundedUp(toMultipleOf: DiskLayout.sectorSize), seed: seed)
        }
        return try DiskLayout.smallestDisk(
            scheme: scheme, requests: requests, partition: "root", atLeast: rootSize, seed: seed)
    }
}
