/// Something that can emit a region of a disk image: a filesystem, a partition table, boot
/// code. The disk assembler places producers at offsets and calls ``emit(into:at:)`` on each
/// in ascending order of their offsets, all into one ``ImageSink``.
public protocol ImageProducer: AnyObject {
    /// The number of bytes this producer covers.
    var size: UInt64 { get }
    /// Emits every non-zero byte of the region, in ascending order, at `base + offset`.
    /// Must not call `sink.finish`.
    func emit(into sink: ImageSink, at base: UInt64) throws
}

/// A view of a sink shifted by `base`: writes at `offset` land at `base + offset`.
/// `finish` is not forwarded (the outer stream finishes the real sink).
public final class OffsetSink: ImageSink {
    public let target: ImageSink
    public let base: UInt64

    public init(_ target: ImageSink, base: UInt64) {
        self.target = target
        self.base = base
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try target.write(data, at: base + offset)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try target.copy(range, at: base + offset)
    }

    public func finish(size: UInt64) throws {}
}

/// A sink that keeps everything in memory: for tests and for small side images.
public final class MemorySink: ImageSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var finishedSize: UInt64?
    private let buffer = IOBuffer(size: 1 << 20)

    public init() {}

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let end = Int(offset) + data.count
        if bytes.count < end { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
        bytes.withUnsafeMutableBytes { raw in
            UnsafeMutableRawBufferPointer(rebasing: raw[Int(offset)..<end]).copyMemory(from: data)
        }
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try range.forEachChunk(buffer: buffer.bytes) { chunk, at in try write(chunk, at: offset + at) }
    }

    public func finish(size: UInt64) throws {
        if bytes.count < Int(size) { bytes.append(contentsOf: repeatElement(0, count: Int(size) - bytes.count)) }
        finishedSize = size
    }
}
