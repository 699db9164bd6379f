import SystemPackage

/// A consumer of a disk image, fed front to back exactly once.
///
/// Every producer in stamp (the ext4 and FAT writers, the partition tables, the boot code)
/// emits its bytes in strictly ascending offset order, and every container writer (raw,
/// qcow2, VMDK, VHD) is a sink. Bytes that are never written are zero: producers skip
/// zero regions, and sinks turn them into holes or unallocated grains/clusters.
///
/// ```
///   producer ──write(bytes, at: 0)──────────────►┐
///            ──copy(file range, at: 1 MiB)───────►│ sink (raw file, qcow2, VMDK, tee of several)
///            ──write(bytes, at: 9 MiB)───────────►│
///            ──finish(size: 2 GiB)───────────────►┘
/// ```
public protocol ImageSink: AnyObject {
    /// Writes `data` at `offset`. Offsets ascend and never overlap a previous call.
    func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws
    /// Writes `range.length` bytes of a source file at `offset`. Sinks that cannot copy in the
    /// kernel call ``SourceRange/forEachChunk(buffer:_:)`` to read it through a buffer.
    func copy(_ range: SourceRange, at offset: UInt64) throws
    /// Ends the image at `size` bytes (its virtual size) and completes the output.
    func finish(size: UInt64) throws
}

/// A sink whose bytes pass through buffers of its own, which it can lend to a producer: the
/// producer builds its blocks (or reads file data) straight into the sink's memory instead of
/// into a buffer of its own that the sink would then copy.
///
/// ```
///   producer ──lend(at: 1 MiB, count: 64 KiB)──► sink's stage [ … | region | … ]
///            ◄── region (fill it now) ─────────┘      written out with the stage
/// ```
public protocol StagingSink: ImageSink {
    /// Whether ``lend(at:count:)`` gives regions (a wrapper lends only when what it wraps does).
    var lendsBuffers: Bool { get }
    /// `count` bytes of the sink's own memory for file offset `offset` (at or after the end
    /// of everything written so far), counted as written. The caller fills all of it (its
    /// contents are undefined) before the next call on the sink, which may write it out.
    /// Nil when the sink cannot lend a region there (too long, or starting inside a block it
    /// has partly written): the caller then uses ``ImageSink/write(_:at:)``.
    func lend(at offset: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer?
}

/// A byte range of an open source file, with its path for error messages.
public struct SourceRange {
    public var descriptor: FileDescriptor
    public var path: String
    public var offset: UInt64
    public var length: UInt64

    public init(descriptor: FileDescriptor, path: String, offset: UInt64, length: UInt64) {
        self.descriptor = descriptor
        self.path = path
        self.offset = offset
        self.length = length
    }

    /// Reads the range through `buffer` and calls `body(chunk, offsetWithinRange)` for each
    /// filled piece. Throws ``IOError/sourceShrank(path:expected:actual:)`` if the file ends early.
    public func forEachChunk(
        buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeRawBufferPointer, UInt64) throws -> Void
    ) throws {
        var done: UInt64 = 0
        while done < length {
            let want = Int(min(UInt64(buffer.count), length - done))
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])
            let n = try withPath(path, "read") {
                try descriptor.read(fromAbsoluteOffset: Int64(offset + done), into: slice, retryOnInterrupt: true)
            }
            if n == 0 { throw IOError.sourceShrank(path: path, expected: offset + length, actual: offset + done) }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), done)
            done += UInt64(n)
        }
    }
}

/// A reusable, page-aligned I/O buffer owned by one stream.
public final class IOBuffer {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(size: Int) {
        bytes = .allocate(byteCount: size, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }
}

/// True when every byte of `data` is zero (word at a time).
public func isAllZero(_ data: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = data.count
    while i + 8 <= n {
        if data.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
        i += 8
    }
    while i < n {
        if data[i] != 0 { return false }
        i += 1
    }
    return true
}
