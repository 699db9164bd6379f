import StampIO

/// Writes a raw image strictly front to back, so that an ``OutputObserver`` can hash it
/// while it is written (zero regions are holes in the file and zeros to the observer).
///
/// Without an observer prefer `RawFileSink` (StampIO), which copies file ranges inside the
/// kernel with copy_file_range; ``makeImageSink(format:path:virtualSize:options:observer:)``
/// picks between the two.
public final class RawStreamWriter: ImageSink {
    public let path: String
    public let virtualSize: UInt64
    private let output: ContainerOutput
    private let readBuffer = IOBuffer(size: 1 << 20)

    public init(path: String, virtualSize: UInt64, observer: OutputObserver? = nil) throws {
        self.path = path
        self.virtualSize = virtualSize
        output = try ContainerOutput(path: path, observer: observer)
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try output.writeDisk(data, at: offset, virtualSize: virtualSize)
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try range.forEachChunk(buffer: readBuffer.bytes) { piece, at in try write(piece, at: offset + at) }
    }

    public func finish(size: UInt64) throws {
        guard size == virtualSize else { throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: size) }
        try output.appendZeros(virtualSize - output.position)
        try output.commit()
    }
}
