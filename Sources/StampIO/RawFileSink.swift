import SystemPackage

/// A sink that writes a plain (raw) image file: data with `pwrite`, file ranges with
/// `copy_file_range`, and never-written regions left as holes. The file is an
/// ``OutputFile``, renamed into place by ``finish(size:)``.
///
/// Written bytes sit in the page cache until the final fsync, which on a big image would then
/// wait for all of them at once; so every ``writebackStep`` bytes the sink starts their
/// writeback (`sync_file_range`, not waiting), and the disk works while the image is built.
public final class RawFileSink: ImageSink {
    private let file: OutputFile
    private var end: UInt64 = 0
    /// The end of the part whose writeback has been started.
    private var writebackStart: UInt64 = 0
    /// Bytes between writeback starts.
    public static let writebackStep: UInt64 = 32 << 20
    private let buffer = IOBuffer(size: 1 << 20)
    /// Bytes actually written (holes excluded).
    public private(set) var bytesWritten: UInt64 = 0

    public init(path: String) throws {
        file = try OutputFile(path: path)
    }

    /// The descriptor being written (for sinks layered on top of a raw image).
    public var descriptor: FileDescriptor { file.descriptor }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        try withPath(file.path, "write") {
            _ = try file.descriptor.writeAll(toAbsoluteOffset: Int64(offset), data)
        }
        end = offset + UInt64(data.count)
        bytesWritten += UInt64(data.count)
        startWriteback()
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        var done: UInt64 = 0
        while done < range.length {
            let want = Int(min(range.length - done, 1 << 30))
            let n: Int
            do {
                n = try Syscalls.copyFileRange(
                    from: range.descriptor, at: range.offset + done, to: file.descriptor, at: offset + done, length: want)
            } catch let e where e == .improperLink || e == .invalidArgument || e == .notSupported || e == .badFileDescriptor {
                // No in-kernel copy between these files: fall back to read/write.
                let rest = SourceRange(
                    descriptor: range.descriptor, path: range.path, offset: range.offset + done, length: range.length - done)
                let base = offset + done
                try rest.forEachChunk(buffer: buffer.bytes) { chunk, at in
                    try withPath(file.path, "write") {
                        _ = try file.descriptor.writeAll(toAbsoluteOffset: Int64(base + at), chunk)
                    }
                }
                done = range.length
                break
            } catch {
                throw IOError.system(path: range.path, operation: "copy_file_range", errno: error)
            }
            if n == 0 {
                throw IOError.sourceShrank(path: range.path, expected: range.offset + range.length, actual: range.offset + done)
            }
            done += UInt64(n)
        }
        end = offset + range.length
        bytesWritten += range.length
        startWriteback()
    }

    private func startWriteback() {
        guard end - writebackStart >= RawFileSink.writebackStep else { return }
        Syscalls.startWriteback(file.descriptor, offset: writebackStart, length: end - writebackStart)
        writebackStart = end
    }

    public func finish(size: UInt64) throws {
        try file.commit(size: size)
    }

    /// Abandons the output: the temporary file is removed.
    public func discard() { file.discard() }
}
