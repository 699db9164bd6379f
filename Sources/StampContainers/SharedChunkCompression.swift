import StampCompression
import StampIO

/// One compression for a compressed qcow2 and a streamOptimized VMDK (or OVA) written in the
/// same pass.
///
/// ```
///  disk stream ─► ChunkAssembler (64 KiB) ─► ParallelCompressor: zlib, 4 KiB window
///                                                     │ each chunk, in disk order
///                      ┌──────────────────────────────┴───────────────────────────┐
///                      ▼                                                          ▼
///   Qcow2Writer: the raw deflate inside (2-byte header   VMDKStreamWriter: the whole zlib
///   and Adler-32 dropped), qcow2's 4 KiB-window format   stream as a grain
/// ```
///
/// qcow2 clusters and VMDK grains are both 64 KiB. A qcow2 cluster must be raw deflate with
/// a window of at most 4 KiB (qemu inflates it so); a VMDK grain is a zlib stream whose
/// window readers take from its header (qemu, VMware and zlib itself inflate any window up
/// to 32 KiB). So one zlib stream with a 4 KiB window serves both: the CPU time of the pair
/// halves, and the VMDK comes out a little larger than with its own 32 KiB-window
/// compression (3% on pack.sh's bootable root, 5% on Benchmarks/dib.sh's image); the qcow2 is
/// byte-identical to one compressed on its own.
///
/// The writers are created with `sharedCompression:` and register here; only this sink goes
/// into the tee, and its ``finish(size:)`` finishes them after the last chunk.
public final class SharedChunkCompression: ImageSink {
    public let virtualSize: UInt64
    /// The window of the shared stream: qcow2's.
    public static let windowBits = 12
    private let compressor: ParallelCompressor
    private var assembler: ChunkAssembler!
    private var consumers: [any CompressedChunkConsumer] = []

    /// - Parameter options: the compression setting (adapted to a 4 KiB window: zlib at the
    ///   same level by default, ISA-L with `--fast`) and the worker count.
    public init(virtualSize: UInt64, options: ContainerOptions) throws {
        precondition(Qcow2.clusterSize == VMDK.grainBytes, "qcow2 clusters and VMDK grains must be the same size")
        self.virtualSize = virtualSize
        compressor = try ParallelCompressor(
            settings: options.compression, format: .zlib(windowBits: Self.windowBits), chunkCapacity: Qcow2.clusterSize,
            workers: options.workers)
        assembler = ChunkAssembler(chunkSize: Qcow2.clusterSize, virtualSize: virtualSize, path: "shared compression") {
            [unowned self] index, bytes in
            try compressor.submit(bytes, tag: index) { try self.deliver($0) }
        }
    }

    /// What the shared compressor did.
    public var compressionStatistics: CompressionStatistics { compressor.statistics }

    /// Whether `sink` is fed by this compression (and so must not be given the stream itself).
    public func feeds(_ sink: any ImageSink) -> Bool {
        consumers.contains { $0 === sink }
    }

    func register(_ consumer: any CompressedChunkConsumer) {
        precondition(consumer.virtualSize == virtualSize, "a shared compression feeds disks of one size")
        consumers.append(consumer)
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try assembler.write(data, at: offset)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try assembler.copy(range, at: offset)
    }

    /// Compresses the last chunks, hands them on, and finishes every writer fed from here.
    public func finish(size: UInt64) throws {
        try assembler.finish()
        try compressor.drain { try deliver($0) }
        for consumer in consumers { try consumer.finish(size: size) }
    }

    private func deliver(_ chunk: ParallelCompressor.Chunk) throws {
        for consumer in consumers { try consumer.consume(chunk) }
    }
}

/// A writer that stores chunks compressed by a ``SharedChunkCompression``.
protocol CompressedChunkConsumer: ImageSink {
    var virtualSize: UInt64 { get }
    /// Stores one chunk. `chunk.compressed` is a zlib stream with a 4 KiB window; chunks
    /// arrive in ascending order, all-zero ones never.
    func consume(_ chunk: ParallelCompressor.Chunk) throws
}
