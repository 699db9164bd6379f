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
final class ContainerOutput {
    let path: String
    private let writer: StagedWriter
    /// The offset the next appended byte lands at (the file's logical length so far).
    private(set) var position: UInt64 = 0
    private let observer: OutputObserver?

    /// - Parameter direct: write with `O_DIRECT`; pass false for a file that is read back
    ///   right away (a VMDK packed into an OVA), which the page cache then still holds.
    init(path: String, observer: OutputObserver? = nil, direct: Bool = true) throws {
        self.path = path
        self.writer = try StagedWriter(path: path, direct: direct)
        self.observer = observer
    }

    /// Appends `data`.
    func append(_ data: UnsafeRawBufferPointer) throws {
        observer?(data)
        try writer.write(data, at: position)
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

    /// Appends zeros up to the next multiple of `alignment`.
    func pad(toMultipleOf alignment: UInt64) throws {
        try appendZeros(position.roundedUp(toMultipleOf: alignment) - position)
    }

    /// Overwrites bytes at `offset`, which must already have been appended (or skipped).
    func patch(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        precondition(observer == nil, "a writer with an observer must not patch")
        precondition(offset + UInt64(data.count) <= position, "patch beyond the written part")
        if position > writer.end { writer.skip(position - writer.end) }
        try writer.patch(data, at: offset)
    }

    func patch(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try patch($0, at: offset) }
    }

    /// Writes what is staged, sets the file length to ``position`` and renames the file
    /// into place.
    func commit() throws {
        try writer.finish(size: position)
    }

    /// Removes the temporary file.
    func discard() { writer.discard() }
}

private let zeroPage = [UInt8](repeating: 0, count: 65536)
