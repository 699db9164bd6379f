import StampBytes
import StampCompression
import StampIO

/// Writes a streamOptimized VMDK (the disk inside an OVA) in one forward pass.
///
/// Layout and markers: see ``VMDK``. Grains are compressed on every core by a
/// ``ParallelCompressor`` and written in ascending LBA order as they come back; after each
/// 32 MiB group of grains its grain table follows, and the grain directory, footer and
/// end-of-stream marker close the file. Nothing is ever rewritten, so the output is strictly
/// sequential and an ``OutputObserver`` sees every byte in file order (use it to hash the
/// VMDK while it is written). With a ``SharedChunkCompression`` the grains come compressed
/// from there (the stream a compressed qcow2 is made from too), and the writer is not given
/// the disk stream itself.
///
/// ```swift
/// let vmdk = try VMDKStreamWriter(path: "disk.vmdk", virtualSize: size)
/// try producer.emit(into: vmdk, at: 0)
/// try vmdk.finish(size: size)
/// ```
public final class VMDKStreamWriter: ImageSink, CompressedChunkConsumer {
    public let path: String
    public let virtualSize: UInt64
    private let output: ContainerOutput
    /// The writer's own chunking and compression (nil when fed by a shared compression).
    private let compressor: ParallelCompressor?
    private var assembler: ChunkAssembler?
    private let header: VMDK.Header
    private var directory: [UInt32]
    private var table = [UInt32](repeating: 0, count: Int(VMDK.gtEntries))
    private var tableGroup: UInt64?
    private let padding = [UInt8](repeating: 0, count: 512)

    /// Creates the output (under a temporary name) and writes the header and descriptor.
    /// - Parameters:
    ///   - virtualSize: the disk size in bytes (rounded up to a sector in the header).
    ///   - options: compression setting, adapter type, identifier (CID, longContentID).
    ///   - observer: sees the file's bytes in order.
    ///   - embedded: other files the same bytes go into (an OVA being streamed); with these,
    ///     `path` may be nil (no `.vmdk` of its own).
    ///   - extentName: the file name the descriptor's extent line gives (default: `path`'s).
    ///   - sharedCompression: the grains come compressed from there.
    public init(
        path: String?, virtualSize: UInt64, options: ContainerOptions = .init(), observer: OutputObserver? = nil,
        embedded: [EmbeddedOutput] = [], extentName: String? = nil, sharedCompression: SharedChunkCompression? = nil
    ) throws {
        let ownPath = path
        let path = path ?? embedded.first?.writer.path ?? ""
        self.path = path
        self.virtualSize = virtualSize
        let capacity = virtualSize.dividedRoundingUp(by: VMDK.sector)
        guard capacity <= ReaderLimits.maximumVirtualSize / VMDK.sector else {
            throw ContainerError.tooLarge(path: path, reason: "capacity above 64 TiB")
        }
        header = VMDK.Header(
            version: 3, flags: VMDK.flagNewlineTest | VMDK.flagCompressed | VMDK.flagMarkers, capacity: capacity,
            gdOffset: VMDK.gdAtEnd, overHead: VMDK.streamOverhead, compressAlgorithm: 1)
        directory = [UInt32](repeating: 0, count: Int(VMDK.directoryEntries(capacity: capacity)))
        compressor =
            sharedCompression != nil
            ? nil
            : try ParallelCompressor(
                settings: options.compression, format: .zlib(windowBits: 15), chunkCapacity: VMDK.grainBytes,
                workers: options.workers)
        output = try ContainerOutput(path: ownPath, observer: observer, embedded: embedded)
        let id = options.identifier ?? Identifier.random()
        try output.append(header.bytes)
        try output.append(
            VMDK.descriptor(
                createType: "streamOptimized", capacity: capacity, fileName: extentName ?? VMDK.extentName(for: path),
                cid: options.cid, longContentID: id.bytes.map { VMDK.hex(UInt64($0), digits: 2) }.joined(),
                adapterType: options.vmdkAdapterType))
        try output.appendZeros(VMDK.streamOverhead * VMDK.sector - output.position)
        guard let compressor else {
            sharedCompression?.register(self)
            return
        }
        assembler = ChunkAssembler(chunkSize: VMDK.grainBytes, virtualSize: virtualSize, path: path) {
            [unowned self] index, bytes in
            try compressor.submit(bytes, tag: index) { try self.writeGrain($0) }
        }
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try ownAssembler().write(data, at: offset)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try ownAssembler().copy(range, at: offset)
    }

    private func ownAssembler() throws -> ChunkAssembler {
        guard let assembler else { throw ContainerError.invalidOption("\(path) is fed by a shared compression, not the stream") }
        return assembler
    }

    func consume(_ chunk: ParallelCompressor.Chunk) throws { try writeGrain(chunk) }

    /// Writes the last grains, the last grain table, the GD, the footer and the EOS marker,
    /// and renames the file into place.
    public func finish(size: UInt64) throws {
        guard size == virtualSize else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
        try assembler?.finish()
        try compressor?.drain { try writeGrain($0) }
        try flushTable()
        let gdSectors = (UInt64(directory.count) * 4).dividedRoundingUp(by: VMDK.sector)
        try output.append(VMDK.marker(.grainDirectory, sectors: gdSectors))
        let gdOffset = try sectorNumber(output.position)
        try directory.withUnsafeBytes { raw in try output.append(encodeLE32(raw)) }
        try output.pad(toMultipleOf: VMDK.sector)
        var footer = header
        footer.gdOffset = UInt64(gdOffset)
        try output.append(VMDK.marker(.footer, sectors: 1))
        try output.append(footer.bytes)
        try output.append(VMDK.marker(.endOfStream, sectors: 0))
        try output.commit()
    }

    /// What this writer's own compressor did (empty when fed by a shared compression).
    public var compressionStatistics: CompressionStatistics { compressor?.statistics ?? .init() }

    /// The disk bytes the grains written so far cover (`vmdk-convert -i`'s "used", as
    /// ``VMDKReader/allocatedBytes()`` reads it back).
    public private(set) var allocatedBytes: UInt64 = 0

    /// Bytes written so far (the file's length once finished).
    public var bytesWritten: UInt64 { output.position }

    private func writeGrain(_ chunk: ParallelCompressor.Chunk) throws {
        let group = chunk.tag / VMDK.gtEntries
        if group != tableGroup {
            try flushTable()
            tableGroup = group
        }
        let markerSector = try sectorNumber(output.position)
        table[Int(chunk.tag % VMDK.gtEntries)] = markerSector
        let grain = UInt64(VMDK.grainBytes)
        allocatedBytes += min(grain, virtualSize - min(virtualSize, chunk.tag * grain))
        var marker = [UInt8](repeating: 0, count: 12)
        marker.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.le64(chunk.tag * VMDK.grainSectors, at: 0)  // lba of the grain's first sector
            w.le32(UInt32(chunk.compressed.count), at: 8)
        }
        try output.append(marker)
        try output.append(chunk.compressed)
        let used = (12 + chunk.compressed.count) % 512
        if used != 0 { try padding.withUnsafeBytes { try output.append(UnsafeRawBufferPointer(rebasing: $0[0..<(512 - used)])) } }
    }

    /// Writes the GT marker and table of the group being filled, and points the GD at it.
    private func flushTable() throws {
        guard let group = tableGroup else { return }
        try output.append(VMDK.marker(.grainTable, sectors: 4))
        directory[Int(group)] = try sectorNumber(output.position)
        try table.withUnsafeBytes { raw in try output.append(encodeLE32(raw)) }
        for i in table.indices { table[i] = 0 }
        tableGroup = nil
    }

    private func sectorNumber(_ offset: UInt64) throws -> UInt32 {
        let sector = offset / VMDK.sector
        guard sector <= UInt64(UInt32.max) else {
            throw ContainerError.tooLarge(path: path, reason: "vmdk grain offsets exceed 2 TiB")
        }
        return UInt32(sector)
    }
}

/// Host `UInt32`s as little-endian bytes.
func encodeLE32(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: raw.count)
    out.withUnsafeMutableBytes { dst in
        let w = FieldWriter(dst)
        for i in stride(from: 0, to: raw.count, by: 4) { w.le32(raw.loadUnaligned(fromByteOffset: i, as: UInt32.self), at: i) }
    }
    return out
}
