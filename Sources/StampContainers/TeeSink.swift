import StampIO

/// Feeds one image stream to several sinks (`-t raw,qcow2,vmdk,vhd`): the producer runs
/// once, and each source file range is read once into a buffer whose bytes every sink gets.
///
/// ```
///  producer ──► TeeSink ──┬──► RawFileSink      (raw)
///                         ├──► Qcow2Writer      (qcow2)
///                         └──► VMDKStreamWriter (vmdk)
/// ```
/// Sinks run one after another on the calling thread; the compressing writers overlap
/// anyway, because their workers keep compressing while the other sinks write.
public final class TeeSink: ImageSink {
    public let sinks: [any ImageSink]
    private let buffer: IOBuffer

    /// - Parameter bufferSize: bytes read from a source range at a time (default 4 MiB).
    public init(_ sinks: [any ImageSink], bufferSize: Int = 4 << 20) {
        self.sinks = sinks
        self.buffer = IOBuffer(size: bufferSize)
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        for sink in sinks { try sink.write(data, at: offset) }
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        if sinks.count == 1 { return try sinks[0].copy(range, at: offset) }
        try range.forEachChunk(buffer: buffer.bytes) { chunk, at in
            for sink in sinks { try sink.write(chunk, at: offset + at) }
        }
    }

    public func finish(size: UInt64) throws {
        for sink in sinks { try sink.finish(size: size) }
    }
}
