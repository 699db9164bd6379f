import StampBytes
import StampIO

/// Writes a hosted monolithicSparse VMDK (qemu-img's default VMDK subformat).
///
/// Header and descriptor go out first; the redundant and primary grain directories and all
/// grain tables are preallocated behind them (layout: see ``VMDK``) and filled in by
/// ``finish(size:)``, so this writer patches its front and takes no observer. Grains are
/// stored uncompressed, 64 KiB each, grain-aligned, in the order they arrive; all-zero
/// grains stay unallocated. Only the grain tables that received grains are kept in memory.
public final class VMDKSparseWriter: ImageSink {
    public let path: String
    public let virtualSize: UInt64
    private let output: ContainerOutput
    private var assembler: ChunkAssembler!
    private let directoryEntries: UInt64
    private let directorySectors: UInt64
    private let rgdOffset: UInt64
    private let gdOffset: UInt64
    private var tables: [UInt64: [UInt32]] = [:]

    public init(path: String, virtualSize: UInt64, options: ContainerOptions = .init()) throws {
        self.path = path
        self.virtualSize = virtualSize
        let capacity = virtualSize.dividedRoundingUp(by: VMDK.sector)
        // Sector numbers are u32: the whole file must stay below 2 TiB.
        guard capacity < (1 << 32) - (1 << 24) else {
            throw ContainerError.tooLarge(path: path, reason: "monolithicSparse vmdk holds less than 2 TiB")
        }
        directoryEntries = VMDK.directoryEntries(capacity: capacity)
        directorySectors = (directoryEntries * 4).dividedRoundingUp(by: VMDK.sector)
        let tableSectors = directoryEntries * 4
        rgdOffset = VMDK.descriptorOffset + VMDK.descriptorSectors
        gdOffset = rgdOffset + directorySectors + tableSectors
        let overHead = (gdOffset + directorySectors + tableSectors).roundedUp(toMultipleOf: VMDK.grainSectors)
        let header = VMDK.Header(
            version: 1, flags: VMDK.flagNewlineTest | VMDK.flagRedundantGD, capacity: capacity, rgdOffset: rgdOffset,
            gdOffset: gdOffset, overHead: overHead, compressAlgorithm: 0)
        output = try ContainerOutput(path: path)
        let id = options.identifier ?? Identifier.random()
        try output.append(header.bytes)
        try output.append(
            VMDK.descriptor(
                createType: "monolithicSparse", capacity: capacity, fileName: VMDK.extentName(for: path),
                cid: options.cid, longContentID: id.bytes.map { VMDK.hex(UInt64($0), digits: 2) }.joined(),
                adapterType: options.vmdkAdapterType))
        try output.appendZeros(overHead * VMDK.sector - output.position)
        assembler = ChunkAssembler(chunkSize: VMDK.grainBytes, virtualSize: virtualSize, path: path) {
            [unowned self] index, bytes in
            let group = index / VMDK.gtEntries
            tables[group, default: [UInt32](repeating: 0, count: Int(VMDK.gtEntries))][Int(index % VMDK.gtEntries)] =
                UInt32(output.position / VMDK.sector)
            try output.append(bytes)
        }
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try assembler.write(data, at: offset)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try assembler.copy(range, at: offset)
    }

    /// Fills in both directories and every non-empty grain table, and renames the file.
    public func finish(size: UInt64) throws {
        guard size == virtualSize else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
        try assembler.finish()
        guard output.position / VMDK.sector <= UInt64(UInt32.max) else {
            throw ContainerError.tooLarge(path: path, reason: "vmdk grain offsets exceed 2 TiB")
        }
        for (directory, tablesStart) in [(rgdOffset, rgdOffset + directorySectors), (gdOffset, gdOffset + directorySectors)] {
            // GD entry g points at GT g; every GT is preallocated, 4 sectors each.
            let entries = (0..<directoryEntries).map { UInt32(tablesStart + $0 * 4) }
            try entries.withUnsafeBytes { try output.patch(encodeLE32($0), at: directory * VMDK.sector) }
            for (group, table) in tables {
                try table.withUnsafeBytes { try output.patch(encodeLE32($0), at: (tablesStart + group * 4) * VMDK.sector) }
            }
        }
        try output.commit()
    }
}
