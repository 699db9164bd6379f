import StampBytes
import StampIO
import SystemPackage
import Glibc

/// One piece of a virtual disk, as a reader presents it.
public enum DiskExtent {
    /// `length` bytes of zeros at `offset` (unallocated grains, clusters, blocks).
    case zero(offset: UInt64, length: UInt64)
    /// Bytes held in memory (a decompressed grain), valid only during the callback.
    case data(offset: UInt64, bytes: UnsafeRawBufferPointer)
    /// Bytes stored verbatim in the image file (raw data, uncompressed grains and clusters).
    case file(SourceRange, at: UInt64)
}

/// A container image opened for reading: its virtual disk as an ordered sequence of extents.
///
/// Every reader treats its file as untrusted: fields are bounds-checked, tables that point
/// past the end, absurd sizes and corrupt compressed data throw ``ContainerError`` naming the
/// offset at fault, and work is bounded by the file's size.
public protocol DiskImageReader: AnyObject {
    /// The container format.
    var format: ImageFormat { get }
    /// A more precise name ("streamOptimized", "compat 0.10", "dynamic", …).
    var variant: String { get }
    /// The size of the virtual disk in bytes.
    var virtualSize: UInt64 { get }
    /// Calls `body` with extents covering `[0, virtualSize)` exactly once, in ascending order.
    func forEachExtent(_ body: (DiskExtent) throws -> Void) throws
}

extension DiskImageReader {
    /// Replays the disk into `sink` (data and file ranges in order, zeros skipped) and
    /// finishes it at ``virtualSize``. This is `stamp convert`.
    public func replay(into sink: any ImageSink) throws {
        var pending: SourceRange?
        var pendingAt: UInt64 = 0
        func flush() throws {
            if let range = pending { try sink.copy(range, at: pendingAt) }
            pending = nil
        }
        try forEachExtent { extent in
            switch extent {
            case .zero: break
            case .data(let offset, let bytes):
                try flush()
                try sink.write(bytes, at: offset)
            case .file(let range, let at):
                // Merge ranges contiguous in both the image and the disk into one copy.
                if var p = pending, p.descriptor == range.descriptor, p.offset + p.length == range.offset,
                    pendingAt + p.length == at
                {
                    p.length += range.length
                    pending = p
                } else {
                    try flush()
                    pending = range
                    pendingAt = at
                }
            }
        }
        try flush()
        try sink.finish(size: virtualSize)
    }
}

/// An image file opened read-only, with bounds-checked reads.
final class InputFile {
    let path: String
    let descriptor: FileDescriptor
    let size: UInt64
    /// Where the image starts in the file (a member of an OVA's tar), 0 for a whole file.
    let base: UInt64

    convenience init(path: String) throws { try self.init(path: path, window: nil) }

    /// With `window`, the bytes `offset ..< offset + size` of the file, as if they were a
    /// file of their own (an OVA member); they must lie inside it.
    init(path: String, window: (offset: UInt64, size: UInt64)?) throws {
        self.path = path
        // Non-blocking: opening a FIFO for reading would otherwise wait for a writer; the
        // type check below refuses it (regular files and block devices ignore the flag).
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking]) }
        let whole: UInt64
        do {
            whole = try InputFile.size(of: fd, path: path)
        } catch {
            try? fd.close()
            throw error
        }
        descriptor = fd
        base = window?.offset ?? 0
        size = window?.size ?? whole
        guard base <= whole, size <= whole - base else {
            throw ContainerError.truncated(path: path, offset: base, needed: size, fileSize: whole)
        }
    }

    /// A regular file's size, or a block device's (`st_size` is 0 for one: its end is
    /// found by seeking); anything else (a pipe, a character device) has no size to read
    /// a disk from and is refused rather than taken for an empty disk.
    static func size(of fd: FileDescriptor, path: String) throws -> UInt64 {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else {
            throw IOError.system(path: path, operation: "stat", errno: Errno(rawValue: errno))
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            return UInt64(st.st_size)
        case S_IFBLK:
            let end = lseek(fd.rawValue, 0, SEEK_END)
            guard end >= 0 else { throw IOError.system(path: path, operation: "seek", errno: Errno(rawValue: errno)) }
            return UInt64(end)
        default:
            throw ContainerError.unsupported(path: path, feature: "an input that is neither a regular file nor a block device")
        }
    }

    deinit { try? descriptor.close() }

    /// Reads exactly `buffer.count` bytes at `offset`.
    /// - Throws: ``ContainerError/truncated(path:offset:needed:fileSize:)`` past the end.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ContainerError.truncated(path: path, offset: offset, needed: UInt64(buffer.count), fileSize: size)
        }
        var done = 0
        while done < buffer.count {
            let n = try withPath(path, "read") {
                try descriptor.read(
                    fromAbsoluteOffset: Int64(base + offset) + Int64(done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), retryOnInterrupt: true)
            }
            if n == 0 {
                throw ContainerError.truncated(path: path, offset: offset, needed: UInt64(buffer.count), fileSize: size)
            }
            done += n
        }
    }

    /// Reads exactly `count` bytes at `offset` into a new array. The bounds are checked before
    /// allocating, so an absurd size field costs nothing but the error.
    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw ContainerError.truncated(path: path, offset: offset, needed: UInt64(max(count, 0)), fileSize: size)
        }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return out
    }

    /// A range of this file as a ``SourceRange`` (checked to lie inside it).
    func range(at offset: UInt64, length: UInt64, entryOffset: UInt64) throws -> SourceRange {
        guard offset <= size, length <= size - offset else {
            throw ContainerError.pointerPastEnd(path: path, offset: entryOffset, target: offset, fileSize: size)
        }
        return SourceRange(descriptor: descriptor, path: path, offset: base + offset, length: length)
    }
}

/// Counts allocated units (grains, clusters, blocks) against what the file can hold, and the
/// bytes of data they produce against the file's size, so a crafted image whose tables all
/// point at the same few bytes cannot make a reader spin.
///
/// The data budget is in bytes of output per byte of input: at most
/// ``outputBytesPerInputByte`` (1032) × the file's size, plus ``outputAllowance`` (64 MiB).
/// Deflate cannot expand data more than 1032:1, so an image whose compressed grains or
/// clusters are each used once always fits; one whose 8 MiB of tables all point at one
/// compressed cluster (which kept `stamp inspect` busy for 14 minutes) stops after about
/// 8 GiB of output instead of 1 TiB.
struct WorkBudget {
    private var left: UInt64
    private var bytesLeft: UInt64
    let path: String

    /// Deflate's largest expansion (its format's limit, 258 bytes from 2 bits, rounded).
    static let outputBytesPerInputByte: UInt64 = 1032
    /// Output any file may produce whatever its size (small images with big clusters).
    static let outputAllowance: UInt64 = 64 << 20

    /// - Parameter minimumUnitBytes: the fewest file bytes one allocated unit can occupy.
    init(fileSize: UInt64, minimumUnitBytes: UInt64, path: String) {
        left = fileSize / max(1, minimumUnitBytes) + 16
        let (product, overflow) = fileSize.multipliedReportingOverflow(by: Self.outputBytesPerInputByte)
        bytesLeft = overflow ? .max : product &+ Self.outputAllowance
        if bytesLeft < product { bytesLeft = .max }
        self.path = path
    }

    /// Spends one allocated unit that produces `bytes` bytes of data.
    mutating func spend(at offset: UInt64, bytes: UInt64 = 0) throws {
        guard left > 0 else {
            throw ContainerError.malformed(path: path, offset: offset, reason: "tables reference more data than the file holds")
        }
        guard bytes <= bytesLeft else {
            throw ContainerError.malformed(
                path: path, offset: offset,
                reason:
                    "tables make more than \(Self.outputBytesPerInputByte) bytes of data per byte of the file (the same data referenced over and over)"
            )
        }
        left -= 1
        bytesLeft -= bytes
    }
}
