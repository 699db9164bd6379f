import StampBytes
import StampCompression
import StampIO

/// Writes a qcow2 image (version 3, or version 2 for `compat=0.10`) from an ascending stream.
///
/// This is formats.md §3.3's sequential recipe turned around so that it needs no first pass:
/// data clusters are appended as they arrive (cluster 1 onwards), and once the stream ends
/// the L2 tables, L1 table, refcount table and refcount blocks are appended after them and
/// the header is written into cluster 0 (layout: see ``Qcow2``). Memory holds only the L2
/// tables that received data (64 KiB per 512 MiB of guest space touched).
///
/// All-zero clusters stay unallocated. With ``ContainerOptions/qcow2Compressed`` clusters
/// are compressed on every core as raw deflate with a 4 KiB window (qemu's format; zlib does
/// it, libdeflate cannot) and packed back to back; a cluster that does not shrink is stored.
/// With a ``SharedChunkCompression`` the clusters come compressed from there instead (one
/// compression shared with a VMDK), and the writer is not given the stream itself.
///
/// Because cluster 0 is written last, this writer is not sequential (no observer).
public final class Qcow2Writer: ImageSink, CompressedChunkConsumer {
    public let path: String
    public let virtualSize: UInt64
    public let compat: Qcow2Compat
    private let output: ContainerOutput
    /// The writer's own chunking and compression (nil when fed by a shared compression).
    private var assembler: ChunkAssembler?
    private let compressor: ParallelCompressor?
    private let compressed: Bool
    private var l2Tables: [UInt64: [UInt64]] = [:]
    /// Refcounts of the data region's clusters (compressed mode only; else all are 1).
    private var refcounts: [UInt16] = []
    private static let l2Entries = UInt64(Qcow2.clusterSize / 8)

    /// - Parameter sharedCompression: compressed clusters come from there (the image is
    ///   compressed whatever `options.qcow2Compressed` says).
    public init(
        path: String, virtualSize: UInt64, options: ContainerOptions = .init(),
        sharedCompression: SharedChunkCompression? = nil
    ) throws {
        self.path = path
        self.virtualSize = virtualSize
        self.compat = options.qcow2Compat
        guard virtualSize <= ReaderLimits.maximumVirtualSize else {
            throw ContainerError.tooLarge(path: path, reason: "virtual size above 64 TiB")
        }
        compressed = options.qcow2Compressed || sharedCompression != nil
        if compressed { refcounts = [1] }  // the header cluster
        if sharedCompression != nil {
            compressor = nil
        } else if options.qcow2Compressed {
            compressor = try ParallelCompressor(
                settings: options.compression, format: .deflate(windowBits: 12), chunkCapacity: Qcow2.clusterSize,
                workers: options.workers)
        } else {
            compressor = nil
        }
        output = try ContainerOutput(path: path)
        try output.appendZeros(UInt64(Qcow2.clusterSize))  // cluster 0: the header, written by finish
        if let sharedCompression {
            sharedCompression.register(self)
            return
        }
        assembler = ChunkAssembler(chunkSize: Qcow2.clusterSize, virtualSize: virtualSize, path: path) {
            [unowned self] index, bytes in
            if let compressor {
                try compressor.submit(bytes, tag: index) {
                    try self.writeCompressed(tag: $0.tag, original: $0.original, deflate: $0.compressed)
                }
            } else {
                try setL2(index, output.position | Qcow2.copied)
                try output.append(bytes)
            }
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

    func consume(_ chunk: ParallelCompressor.Chunk) throws {
        try writeCompressed(tag: chunk.tag, original: chunk.original, deflate: ZlibFrame.deflateData(of: chunk.compressed))
    }

    private func setL2(_ cluster: UInt64, _ entry: UInt64) throws {
        let table = cluster / Qcow2Writer.l2Entries
        l2Tables[table, default: [UInt64](repeating: 0, count: Int(Qcow2Writer.l2Entries))][
            Int(cluster % Qcow2Writer.l2Entries)] = entry
    }

    /// Stores cluster `tag`: its raw deflate data (4 KiB window), or `original` when that
    /// did not shrink it.
    private func writeCompressed(tag: UInt64, original: UnsafeRawBufferPointer, deflate: UnsafeRawBufferPointer) throws {
        let cs = UInt64(Qcow2.clusterSize)
        if deflate.count >= Qcow2.clusterSize - 512 {
            // Did not shrink: store it, cluster aligned, like an uncompressed image.
            try output.pad(toMultipleOf: cs)
            try setL2(tag, output.position | Qcow2.copied)
            countReferences(from: output.position, length: cs)
            try output.append(original)
            return
        }
        let offset = output.position
        let length = UInt64(deflate.count)
        let extraSectors = (offset + length - 1) / 512 - offset / 512
        let x = 62 - (UInt64(Qcow2.clusterBits) - 8)  // first bit of the sector count field
        try setL2(tag, Qcow2.compressedFlag | extraSectors << x | offset)
        countReferences(from: offset & ~511, length: (extraSectors + 1) * 512)
        try output.append(deflate)
    }

    /// Adds one reference to every cluster that `[start, start+length)` touches.
    private func countReferences(from start: UInt64, length: UInt64) {
        let cs = UInt64(Qcow2.clusterSize)
        let first = Int(start / cs)
        let last = Int((start + length - 1) / cs)
        if refcounts.count <= last { refcounts += [UInt16](repeating: 0, count: last + 1 - refcounts.count) }
        for c in first...last { refcounts[c] &+= 1 }
    }

    /// Appends the L2 tables, L1, refcount table and blocks, writes the header, renames.
    /// What this writer's own compressor did (empty when uncompressed or fed by a shared one).
    public var compressionStatistics: CompressionStatistics { compressor?.statistics ?? .init() }

    public func finish(size: UInt64) throws {
        guard size == virtualSize else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
        try assembler?.finish()
        try compressor?.drain { try writeCompressed(tag: $0.tag, original: $0.original, deflate: $0.compressed) }
        let cs = UInt64(Qcow2.clusterSize)
        try output.pad(toMultipleOf: cs)
        let dataClusters = output.position / cs
        let tableIndices = l2Tables.keys.sorted()
        let l1Entries = Qcow2.l1Entries(size: virtualSize)
        let l1Clusters = max(1, (l1Entries * 8).dividedRoundingUp(by: cs))
        // Fixed point: the refcount blocks must count themselves and the table that lists them.
        var blocks: UInt64 = 1
        var tableClusters: UInt64 = 1
        while true {
            let total = dataClusters + UInt64(tableIndices.count) + l1Clusters + tableClusters + blocks
            let needBlocks = total.dividedRoundingUp(by: cs / 2)
            let needTable = (needBlocks * 8).dividedRoundingUp(by: cs)
            if needBlocks == blocks && needTable == tableClusters { break }
            blocks = needBlocks
            tableClusters = needTable
        }
        let l2Start = dataClusters * cs
        let l1Offset = l2Start + UInt64(tableIndices.count) * cs
        let refcountTableOffset = l1Offset + l1Clusters * cs
        let blocksOffset = refcountTableOffset + tableClusters * cs
        let total = blocksOffset / cs + blocks

        var cluster = [UInt8](repeating: 0, count: Qcow2.clusterSize)
        func emitBigEndian(_ count: UInt64, _ value: (Int) -> UInt64) throws {
            // `count` u64 values, cluster by cluster.
            var i = 0
            while UInt64(i) < count {
                cluster.withUnsafeMutableBytes { raw in
                    let w = FieldWriter(raw)
                    w.fill(0, at: 0, count: raw.count)
                    var at = 0
                    while at < raw.count && UInt64(i) < count {
                        w.be64(value(i), at: at)
                        at += 8
                        i += 1
                    }
                }
                try output.append(cluster)
            }
        }
        var l1 = [UInt64](repeating: 0, count: Int(l1Entries))
        for (n, index) in tableIndices.enumerated() {
            let table = l2Tables[index] ?? []
            try emitBigEndian(UInt64(table.count)) { table[$0] }
            guard index < l1Entries else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
            l1[Int(index)] = (l2Start + UInt64(n) * cs) | Qcow2.copied
        }
        try emitBigEndian(l1Entries) { l1[$0] }
        try output.pad(toMultipleOf: cs)
        try emitBigEndian(blocks) { blocksOffset + UInt64($0) * cs }
        try output.pad(toMultipleOf: cs)
        let counted = refcounts
        for block in 0..<blocks {
            cluster.withUnsafeMutableBytes { raw in
                let w = FieldWriter(raw)
                w.fill(0, at: 0, count: raw.count)
                for j in 0..<(cs / 2) {
                    let c = block * (cs / 2) + j
                    guard c < total else { break }
                    var count: UInt16 = 1
                    if compressed && c < dataClusters { count = c < counted.count ? counted[Int(c)] : 0 }
                    w.be16(count, at: Int(j * 2))
                }
            }
            try output.append(cluster)
        }
        precondition(output.position == total * cs, "qcow2 layout arithmetic")
        let header = Qcow2.Header(
            version: compat == .v2 ? 2 : 3, size: virtualSize, l1Size: UInt32(l1Entries), l1TableOffset: l1Offset,
            refcountTableOffset: refcountTableOffset, refcountTableClusters: UInt32(tableClusters))
        var headerBytes = [UInt8](repeating: 0, count: header.encodedSize)
        headerBytes.withUnsafeMutableBytes { header.encode(into: FieldWriter($0)) }
        try output.patch(headerBytes, at: 0)
        try output.commit()
    }
}
