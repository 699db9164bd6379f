import StampBytes

/// A block-device configuration placed on a disk: the layout plus, for each filesystem, the
/// partition it fills and where it is mounted.
public struct DiskPlan: Sendable, Equatable {
    /// Partitions and the table kind.
    public var layout: DiskLayout
    /// One entry per `mkfs` node.
    public var filesystems: [PlannedFilesystem]
    /// The `/etc/fstab` lines, in mount order.
    public var fstabLines: [String]

    /// A filesystem and its place.
    public struct PlannedFilesystem: Sendable, Equatable {
        public var spec: BlockDeviceConfig.Filesystem
        /// The partition it fills (for a bare layout, the pseudo-partition covering the disk).
        public var partition: DiskLayout.Partition
        /// Its mount point, if it has a `mount` node.
        public var mountPoint: String?
    }

    /// The filesystem mounted at `/`.
    public var root: PlannedFilesystem? { filesystems.first { $0.mountPoint == "/" } }
}

extension BlockDeviceConfig {
    /// The partition requests this configuration makes, in table order, with roles: the
    /// partition whose filesystem is mounted at `/` is `.root`, EF00 is `.efiSystem`, EF02 is
    /// `.biosBoot` (on an MBR table, `0xEF` is an ESP).
    public var partitionRequests: [PartitionRequest] {
        guard let table = partitioning else {
            let root = filesystem(mountedAt: "/") != nil
            return [PartitionRequest(name: image.name, size: .percent(100), type: .linuxFilesystem, role: root ? .root : .other)]
        }
        let rootBase = filesystem(mountedAt: "/")?.base
        return table.partitions.map { p in
            var role = DiskLayout.Partition.Role.other
            if p.name == rootBase {
                role = .root
            } else if p.type.guid == PartitionType.efiSystem.guid {
                role = .efiSystem
            } else if p.type.guid == PartitionType.biosBoot.guid && table.scheme == .gpt {
                role = .biosBoot
            }
            return PartitionRequest(
                name: p.name, size: p.size, type: p.type, role: role, primary: table.scheme == .gpt || p.primary,
                bootable: table.scheme == .mbr && p.boot)
        }
    }

    private var scheme: DiskLayout.Scheme { partitioning?.scheme ?? .none }
    private var alignment: UInt64 { partitioning?.alignment ?? (1 << 20) }

    /// Places the configuration on a disk of `diskSize` bytes (the `local_loop` size or the
    /// computed image size).
    /// - Throws: ``DiskLayout.Error`` when the partitions do not fit.
    public func plan(diskSize: UInt64, seed: [UInt8]? = nil) throws -> DiskPlan {
        guard image.blockSize == 512 else { throw DiskLayout.Error.unsupportedSectorSize(image.blockSize) }
        let layout = try DiskLayout.plan(
            scheme: scheme, requests: partitionRequests, diskSize: diskSize, alignment: alignment, seed: seed)
        return finish(layout)
    }

    /// Places the configuration on the smallest whole-MiB disk whose root partition (the one
    /// holding `/`, normally the `100%` one) has at least `rootSize` bytes.
    public func plan(rootSize: UInt64, seed: [UInt8]? = nil) throws -> DiskPlan {
        guard image.blockSize == 512 else { throw DiskLayout.Error.unsupportedSectorSize(image.blockSize) }
        guard partitioning != nil, let root = partitionRequests.first(where: { $0.role == .root }) else {
            let size = rootSize.roundedUp(toMultipleOf: DiskLayout.sectorSize)
            return try plan(diskSize: size, seed: seed)
        }
        let layout = try DiskLayout.smallestDisk(
            scheme: scheme, requests: partitionRequests, partition: root.name, atLeast: rootSize, alignment: alignment,
            seed: seed)
        return finish(layout)
    }

    private func finish(_ layout: DiskLayout) -> DiskPlan {
        let planned = filesystems.compactMap { fs -> DiskPlan.PlannedFilesystem? in
            let partition = partitioning == nil ? layout.partitions.first : layout.partition(named: fs.base)
            guard let partition else { return nil }
            let mount = mounts.first { $0.base == fs.name }
            return DiskPlan.PlannedFilesystem(spec: fs, partition: partition, mountPoint: mount?.mountPoint)
        }
        return DiskPlan(layout: layout, filesystems: planned, fstabLines: fstabLines)
    }
}
