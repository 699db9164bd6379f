import StampIO
import SystemPackage

/// Receives the exact bytes of an output file in file order, as they are written.
///
/// Only writers that never go back over what they wrote accept one (``VMDKStreamWriter``,
/// ``VHDWriter`` in fixed mode); the packaging layer uses it to hash an output while it is
/// written, with no second pass. Holes are reported as zero bytes.
public typealias OutputObserver = (UnsafeRawBufferPointer) -> Void

/// The buffered, append-only writer under every container writer.
///
/// Bytes are appended at ``position``; long zero runs are skipped (left as holes) and the
/// file is extended to its final length by ``commit()``. ``patch(_:at:)`` rewrites bytes
/// already written (a header or table at the end), which sequential writers never call.
/// The file is an `OutputFile`: nothing appears under the final name until ``commit()``.
final class ContainerOutput {
    let path: String
    private let file: OutputFile
    private let buffer: IOBuffer
    private var filled = 0
    /// The offset the next appended byte lands at (the file's logical length so far).
    private(set) var position: UInt64 = 0
    private let observer: OutputObserver?
    private var patched = false

    init(path: String, observer: OutputObserver? = nil, bufferSize: Int = 1 << 20) throws {
        self.path = path
        self.file = try OutputFile(path: path)
        self.buffer = IOBuffer(size: bufferSize)
        self.observer = observer
    }

    /// Appends `data`.
    func append(_ data: UnsafeRawBufferPointer) throws {
        observer?(data)
        if data.count >= buffer.bytes.count {
            try flush()
            try pwrite(data, at: position)
            position += UInt64(data.count)
            return
        }
        if filled + data.count > buffer.bytes.count { try flush() }
        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[filled..<(filled + data.count)]).copyMemory(from: data)
        filled += data.count
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
        if count < 65536 && filled + Int(count) <= buffer.bytes.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[filled..<(filled + Int(count))])
                .initializeMemory(as: UInt8.self, repeating: 0)
            filled += Int(count)
            position += count
            return
        }
        try flush()
        position += count  // a hole; commit() sets the final length
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
        patched = true
        try flush()
        try pwrite(data, at: offset)
    }

    func patch(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try patch($0, at: offset) }
    }

    private func flush() throws {
        guard filled > 0 else { return }
        let start = position - UInt64(filled)
        try pwrite(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<filled]), at: start)
        filled = 0
    }

    private func pwrite(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try withPath(path, "write") { _ = try file.descriptor.writeAll(toAbsoluteOffset: Int64(offset), data) }
    }

    /// Writes what is buffered, sets the file length to ``position`` and renames the file
    /// into place.
    func commit() throws {
        try flush()
        try file.commit(size: position)
    }

    /// Removes the temporary file.
    func discard() { file.discard() }
}

private let zeroPage = [UInt8](repeating: 0, count: 65536)
