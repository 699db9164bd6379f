import StampIO
import SystemPackage

/// Receives the exact bytes of an output file in file order, as they are written.
///
/// Only writers that never go back over what they wrote accept one (``VMDKStreamWriter``,
/// ``VHDWriter`` in fixed mode); the packaging layer uses it to hash an output while it is
/// written, with no second pass. Holes are reported as zero bytes.
public typealias OutputObserver = (UnsafeRawBufferPointer) -> Void

/// The append-only writer under every container writer, over a ``StagedWriter``
/// (aligned stages written with `O_DIRECT` off the caller's thread).
///
/// Bytes are appended at ``position``; zero runs of 64 KiB or more are left as holes and the
/// file is extended to its final length by ``commit()``. ``patch(_:at:)`` rewrites bytes
/// already written (a header or table at the end), which sequential writers never call.
/// The file is an `OutputFile`: nothing appears under the final name until ``commit()``.
///
/// The same bytes can also go into other files at an offset (``EmbeddedOutput``: the VMDK
/// inside an OVA), so a stream is compressed once for every file that holds it.
final class ContainerOutput {
    let path: String
    /// The file's own writer (nil when the bytes only go into embedding files).
    private let writer: StagedWriter?
    private let embedded: [EmbeddedOutput]
    /// The offset the next appended byte lands at (the file's logical length so far).
    private(set) var position: UInt64 = 0
    private let observer: OutputObserver?

    /// - Parameters:
    ///   - path: the file to write, or nil to write only into `embedded`.
    ///   - embedded: other files that hold these bytes too, each at its offset.
    init(path: String?, observer: OutputObserver? = nil, embedded: [EmbeddedOutput] = []) throws {
        precondition(path != nil || !embedded.isEmpty, "a container output needs somewhere to go")
        self.path = path ?? embedded[0].writer.path
        self.writer = try path.map { try StagedWriter(path: $0) }
        self.embedded = embedded
        self.observer = observer
    }

    /// Appends `data`.
    func append(_ data: UnsafeRawBufferPointer) throws {
        observer?(data)
        try writer?.write(data, at: position)
        for e in embedded { try e.writer.write(data, at: e.offset + position) }
        position += UInt64(data.count)
    }

    /// Appends an array's bytes.
    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Appends `count` zero bytes; runs of 64 KiB or more become a hole.
    func appendZeros(_ count: UInt64) throws {
        guard count > 0 else { return }
        if let observer {
            var left = count
            while left > 0 {
                let n = Int(min(left, UInt64(zeroPage.count)))
                zeroPage.withUnsafeBytes { observer(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                left -= UInt64(n)
            }
        }
        position += count  // the writer writes short gaps as zeros and leaves long ones as holes
    }

    /// Appends `data`, leaving its all-zero 64 KiB pieces as holes.
    func appendSparse(_ data: UnsafeRawBufferPointer) throws {
        var i = 0
        while i < data.count {
            let n = min(65536, data.count - i)
            let piece = UnsafeRawBufferPointer(rebasing: data[i..<(i + n)])
            if n == 65536 && isAllZero(piece) { try appendZeros(UInt64(n)) } else { try append(piece) }
            i += n
        }
    }

    /// Writes disk bytes into a file whose byte N is disk byte N (raw, fixed VHD's data):
    /// offsets must grow and stay within `virtualSize`; the gap before `offset` reads as zeros
    /// (a hole when long) and all-zero 64 KiB pieces of `data` become holes.
    func writeDisk(_ data: UnsafeRawBufferPointer, at offset: UInt64, virtualSize: UInt64) throws {
        guard offset >= position else { throw IOError.outOfOrder(offset: offset, previousEnd: position) }
        guard offset + UInt64(data.count) <= virtualSize else {
            throw ContainerError.sizeMismatch(path: path, expected: virtualSize, actual: offset + UInt64(data.count))
        }
        try appendZeros(offset - position)
        try appendSparse(data)
    }

    /// Appends zeros up to the next multiple of `alignment`.
    func pad(toMultipleOf alignment: UInt64) throws {
        try appendZeros(position.roundedUp(toMultipleOf: alignment) - position)
    }

    /// Overwrites bytes at `offset`, which must already have been appended (or skipped).
    func patch(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        precondition(observer == nil, "a writer with an observer must not patch")
        precondition(embedded.isEmpty, "an embedded stream must not patch")
        precondition(offset + UInt64(data.count) <= position, "patch beyond the written part")
        guard let writer else { return }
        if position > writer.end { writer.skip(position - writer.end) }
        try writer.patch(data, at: offset)
    }

    func patch(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try patch($0, at: offset) }
    }

    /// Writes what is staged, sets the file length to ``position`` and renames the file
    /// into place.
    /// Embedding files are left open for their owner, with their write front at the end of
    /// these bytes.
    func commit() throws {
        for e in embedded where e.writer.end < e.offset + position { e.writer.skip(e.offset + position - e.writer.end) }
        try writer?.finish(size: position)
    }

    /// Removes the temporary file (embedding files belong to their owner).
    func discard() { writer?.discard() }
}

/// A place in another file where a container's bytes go too: `writer`, from `offset` on.
/// The owner of `writer` finishes it after the container is complete.
public struct EmbeddedOutput {
    public let writer: StagedWriter
    public let offset: UInt64
    public init(writer: StagedWriter, offset: UInt64) {
        self.writer = writer
        self.offset = offset
    }
}

private let zeroPage = [UInt8](repeating: 0, count: 65536)
