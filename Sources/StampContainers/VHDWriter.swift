import StampBytes
import StampIO

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a fixed or dynamic VHD (layouts: see ``VHD``).
///
/// The virtual size is rounded up to a whole sector. A fixed VHD is the raw disk (zero runs
/// left as holes) followed by the footer: strictly sequential, so it takes an observer. A
/// dynamic VHD writes its footer copy, dynamic header and room for the BAT first, then one
/// 2 MiB block (bitmap + data) per block that holds any non-zero byte, then the footer, and
/// finally patches the BAT: not sequential.
public final class VHDWriter: ImageSink {
    public enum Kind: Sendable { case fixed, dynamic }

    public let path: String
    public let virtualSize: UInt64
    public let kind: Kind
    private let diskSize: UInt64
    private let output: ContainerOutput
    private let footer: VHD.Footer
    private var assembler: ChunkAssembler?
    private var table: [UInt32] = []
    private let readBuffer = IOBuffer(size: 1 << 20)

    /// - Parameters:
    ///   - observer: fixed VHDs only (a dynamic VHD patches its BAT).
    public init(
        path: String, virtualSize: UInt64, kind: Kind, options: ContainerOptions = .init(),
        observer: OutputObserver? = nil
    ) throws {
        precondition(observer == nil || kind == .fixed, "a dynamic VHD is not written sequentially")
        self.path = path
        self.virtualSize = virtualSize
        self.kind = kind
        diskSize = virtualSize.roundedUp(toMultipleOf: 512)
        guard diskSize <= 2040 << 30 else { throw ContainerError.tooLarge(path: path, reason: "vhd holds at most 2040 GiB") }
        let now = options.timestamp ?? UInt64(max(0, time(nil)))
        let stamp = UInt32(truncatingIfNeeded: now > VHD.epochOffset ? now - VHD.epochOffset : 0)
        let id = (options.identifier ?? Identifier.random()).bytes
        footer = VHD.Footer(
            dataOffset: kind == .fixed ? UInt64.max : VHD.dynamicHeaderOffset, timestamp: stamp, size: diskSize,
            diskType: kind == .fixed ? .fixed : .dynamic, uniqueID: id)
        output = try ContainerOutput(path: path, observer: observer)
        guard kind == .dynamic else { return }
        let blocks = diskSize.dividedRoundingUp(by: VHD.blockSize)
        table = [UInt32](repeating: VHD.noBlock, count: Int(blocks))
        try output.append(footer.bytes)
        try output.append(VHD.DynamicHeader(maxTableEntries: UInt32(blocks)).bytes)
        try output.appendZeros((blocks * 4).roundedUp(toMultipleOf: 512))
        let bitmap = [UInt8](repeating: 0xFF, count: 512)
        assembler = ChunkAssembler(chunkSize: Int(VHD.blockSize), virtualSize: virtualSize, path: path) {
            [unowned self] index, bytes in
            guard output.position / 512 < UInt64(VHD.noBlock) else {
                throw ContainerError.tooLarge(path: path, reason: "vhd block offsets exceed 2 TiB")
            }
            table[Int(index)] = UInt32(output.position / 512)
            try output.append(bitmap)
            try output.appendSparse(bytes)
        }
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if let assembler { return try assembler.write(data, at: offset) }
        try output.writeDisk(data, at: offset, virtualSize: virtualSize)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        if let assembler { return try assembler.copy(range, at: offset) }
        try range.forEachChunk(buffer: readBuffer.bytes) { piece, at in try write(piece, at: offset + at) }
    }

    /// Writes the footer (and for a dynamic VHD the BAT) and renames the file into place.
    public func finish(size: UInt64) throws {
        guard size == virtualSize else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
        if let assembler {
            try assembler.finish()
            try output.append(footer.bytes)
            var bat = [UInt8](repeating: 0, count: (table.count * 4).roundedUp(toMultipleOf: 512))
            bat.withUnsafeMutableBytes { raw in
                let w = FieldWriter(raw)
                for (i, entry) in table.enumerated() { w.be32(entry, at: i * 4) }
            }
            try output.patch(bat, at: VHD.tableOffset)
        } else {
            try output.appendZeros(diskSize - output.position)
            try output.append(footer.bytes)
        }
        try output.commit()
    }
}
