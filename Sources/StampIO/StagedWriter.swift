import CStampSupport
import Dispatch
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Writes an output file front to back through aligned staging buffers that a background
/// queue writes with `O_DIRECT`, so that a big image costs the CPU one `memcpy` instead of a
/// trip through the page cache (allocation, dirty accounting, then writeback by the kernel's
/// flusher threads, all on the cores the compressors need).
///
/// ```
///  write(data, at:) ──► stage (4 MiB, 4 KiB-aligned, starts on a 4 KiB boundary)
///                         │ full, or a hole of 64 KiB or more follows
///                         ▼
///                  serial queue ── pwrite(O_DIRECT fd) ──► file        (up to 3 stages in flight)
///                         │
///                         └── free stage back to the pool
///
///  file:  [stage][stage][st]pad···hole···[pfx|stage][stage]…[tail]pad ── ftruncate(size)
/// ```
///
/// - Offsets only grow. A gap shorter than ``holeThreshold`` is written as zeros; a longer
///   one ends the stage (padded with zeros to 4 KiB) and stays a hole.
/// - ``patch(_:at:)`` rewrites bytes before ``end`` (a header or table written last): the part
///   still in the stage is copied into it, the rest is written with a buffered `pwrite` once
///   the queue is idle. The kernel keeps the page cache and direct writes coherent.
/// - Where the filesystem refuses `O_DIRECT` (tmpfs on older kernels, some network
///   filesystems), or a direct write fails with `EINVAL`, the same stages are written with
///   plain `pwrite`, still off the caller's thread.
/// - ``finish(size:)`` sets the exact length (cutting the last padding) and renames the file
///   into place (``OutputFile``).
public final class StagedWriter: StagingSink {
    /// Alignment of every direct write's memory, offset and length.
    public static let alignment = 4096
    /// Zero gaps at least this long are left as holes.
    public static let holeThreshold: UInt64 = 65536

    public var path: String { file.path }
    /// One past the last byte written so far.
    public private(set) var end: UInt64 = 0
    /// Whether the data goes out with `O_DIRECT` (false after a fallback).
    public var isDirect: Bool { shared.isDirect }

    private let file: OutputFile
    private let shared: Shared
    private let stageSize: Int
    /// The stage being filled: its buffer, file offset (aligned) and bytes filled.
    private var stage: UnsafeMutableRawBufferPointer?
    private var stageStart: UInt64 = 0
    private var stageFill = 0
    /// One past the highest byte written by ``patch(_:at:)`` outside a stage.
    private var patchedEnd: UInt64 = 0
    /// The file offset the stage's next byte lands at.
    private var fillPoint: UInt64 { stageStart + UInt64(stageFill) }

    /// - Parameters:
    ///   - direct: try `O_DIRECT` (default true).
    ///   - stageSize: bytes per stage, a multiple of ``alignment``.
    ///   - stages: stages in the pool (one filling, the rest queued or being written).
    public init(path: String, direct: Bool = true, stageSize: Int = 4 << 20, stages: Int = 3) throws {
        precondition(stageSize > 0 && stageSize % StagedWriter.alignment == 0 && stages >= 2)
        file = try OutputFile(path: path)
        var directFD: FileDescriptor?
        if direct {
            let fd = stamp_open_direct(file.temporaryPath)
            if fd >= 0 { directFD = FileDescriptor(rawValue: fd) }
        }
        self.stageSize = stageSize
        shared = Shared(path: path, buffered: file.descriptor, direct: directFD, stageSize: stageSize, stages: stages)
    }

    /// The buffered descriptor of the temporary file (tests use it to inject write failures).
    public var descriptor: FileDescriptor { file.descriptor }

    /// Writes `data` at `offset`, which must be at or after ``end``.
    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        try shared.check()
        if stage != nil && offset - fillPoint >= StagedWriter.holeThreshold { try submit() }
        if stage == nil { try begin(at: offset & ~UInt64(StagedWriter.alignment - 1)) }
        try fill(zerosUpTo: offset)
        var done = 0
        while done < data.count {
            let n = min(data.count - done, stageSize - stageFill)
            UnsafeMutableRawBufferPointer(rebasing: stage![stageFill..<(stageFill + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: data[done..<(done + n)]))
            stageFill += n
            done += n
            if stageFill == stageSize {
                try submit()
                try begin(at: stageStart + UInt64(stageSize))
            }
        }
        end = offset + UInt64(data.count)
    }

    /// Writes `range` of a source file at `offset` (at or after ``end``), read straight into
    /// the stages: one copy from the page cache, none through a bounce buffer.
    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        try shared.check()
        if stage != nil && offset - fillPoint >= StagedWriter.holeThreshold { try submit() }
        if stage == nil { try begin(at: offset & ~UInt64(StagedWriter.alignment - 1)) }
        try fill(zerosUpTo: offset)
        var done: UInt64 = 0
        while done < range.length {
            let n = min(Int(min(range.length - done, UInt64(Int.max))), stageSize - stageFill)
            let target = UnsafeMutableRawBufferPointer(rebasing: stage![stageFill..<(stageFill + n)])
            var got = 0
            while got < n {
                let r = try withPath(range.path, "read") {
                    try range.descriptor.read(
                        fromAbsoluteOffset: Int64(range.offset + done) + Int64(got),
                        into: UnsafeMutableRawBufferPointer(rebasing: target[got...]))
                }
                if r == 0 {
                    throw IOError.sourceShrank(
                        path: range.path, expected: range.offset + range.length, actual: range.offset + done + UInt64(got))
                }
                got += r
            }
            stageFill += n
            done += UInt64(n)
            if stageFill == stageSize {
                try submit()
                try begin(at: stageStart + UInt64(stageSize))
            }
        }
        end = offset + range.length
    }

    public var lendsBuffers: Bool { true }

    /// A region of the stage for `count` bytes at `offset` (``StagingSink``): the producer
    /// fills it in place, and the stage goes to the queue as ``write(_:at:)`` would send it,
    /// without the copy. A region that does not fit in what is left of the stage starts a new
    /// one, at `offset` rounded down to ``alignment`` (the stage before is cut there, so that
    /// point must not lie below what it holds already).
    public func lend(at offset: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer? {
        guard offset >= end else { throw IOError.outOfOrder(offset: offset, previousEnd: end) }
        let cut = offset & ~UInt64(StagedWriter.alignment - 1)
        guard count > 0, Int(offset - cut) + count <= stageSize else { return nil }
        try shared.check()
        if stage != nil && offset - fillPoint >= StagedWriter.holeThreshold { try submit() }
        if stage != nil && Int(offset - stageStart) + count > stageSize {
            guard cut >= fillPoint else { return nil }
            try fill(zerosUpTo: cut)  // may go on into the next stage, which may then hold it
            if stage != nil && Int(offset - stageStart) + count > stageSize { try submit() }
        }
        if stage == nil { try begin(at: cut) }
        try fill(zerosUpTo: offset)
        let region = UnsafeMutableRawBufferPointer(rebasing: stage![stageFill..<(stageFill + count)])
        stageFill += count
        end = offset + UInt64(count)
        return region
    }

    /// Leaves `[end, end+count)` as zeros (a hole when long enough).
    public func skip(_ count: UInt64) { end += count }

    /// Rewrites bytes that lie before ``end`` (written or skipped).
    public func patch(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let high = offset + UInt64(data.count)
        precondition(high <= end, "patch beyond the written part")
        try shared.check()
        // Make the stage reach the patch's end, so the part at or above stageStart is in memory.
        if stage != nil && high > stageStart { try fill(zerosUpTo: high) }
        var below = data.count
        if let stage, high > stageStart {
            let from = max(offset, stageStart)
            let skipped = Int(from - offset)
            let at = Int(from - stageStart)
            UnsafeMutableRawBufferPointer(rebasing: stage[at..<(at + data.count - skipped)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: data[skipped...]))
            below = skipped
        }
        guard below > 0 else { return }
        try shared.drain()
        try withPath(path, "write") {
            _ = try file.descriptor.writeAll(toAbsoluteOffset: Int64(offset), UnsafeRawBufferPointer(rebasing: data[0..<below]))
        }
        patchedEnd = max(patchedEnd, offset + UInt64(below))
    }

    /// Writes the stage being filled and waits for every queued write: afterwards the bytes
    /// before ``end`` can be read back through ``descriptor``. Change them only with
    /// ``patch(_:at:)`` from then on (a new stage would start over the last block with zeros).
    public func flush() throws {
        if stage != nil { try submit() }
        try shared.drain()
    }

    /// Writes what is staged, waits for the queue, sets the length to `size` (at least
    /// ``end``) and renames the file into place.
    public func finish(size: UInt64) throws {
        precondition(size >= end)
        if stage != nil { try submit() }
        try shared.drain()
        shared.closeDirect()
        try file.commit(size: size)
    }

    /// Abandons the file: waits for queued writes and removes the temporary file.
    public func discard() {
        if let s = stage {
            shared.recycle(s)
            stage = nil
        }
        try? shared.drain()
        shared.closeDirect()
        file.discard()
    }

    deinit { if stage != nil || !shared.idle { discard() } }

    // MARK: Stages

    /// Takes a free stage for the file range starting at `start` (aligned). Bytes of it below
    /// ``end`` that a patch wrote are read back, so the stage's zero prefix cannot undo them.
    private func begin(at start: UInt64) throws {
        let s = try shared.take()
        stage = s
        stageStart = start
        stageFill = 0
        if start < patchedEnd && start < end {
            let n = Int(min(patchedEnd, end, start + UInt64(stageSize)) - start)
            try shared.drain()
            let got = try withPath(path, "read") {
                try file.descriptor.read(
                    fromAbsoluteOffset: Int64(start), into: UnsafeMutableRawBufferPointer(rebasing: s[0..<n]))
            }
            if got < n { UnsafeMutableRawBufferPointer(rebasing: s[got..<n]).initializeMemory(as: UInt8.self, repeating: 0) }
            stageFill = n
        }
    }

    /// Zero-fills the stage from its fill point to file offset `offset`, submitting full stages.
    private func fill(zerosUpTo offset: UInt64) throws {
        while stage != nil && fillPoint < offset {
            let n = min(Int(offset - stageStart) - stageFill, stageSize - stageFill)
            UnsafeMutableRawBufferPointer(rebasing: stage![stageFill..<(stageFill + n)]).initializeMemory(
                as: UInt8.self, repeating: 0)
            stageFill += n
            if stageFill == stageSize {
                try submit()
                try begin(at: stageStart + UInt64(stageSize))
            }
        }
    }

    /// Hands the stage, padded with zeros to the alignment, to the queue.
    private func submit() throws {
        guard let s = stage else { return }
        stage = nil
        if stageFill == 0 {
            shared.recycle(s)
            return
        }
        let length = (stageFill + StagedWriter.alignment - 1) & ~(StagedWriter.alignment - 1)
        UnsafeMutableRawBufferPointer(rebasing: s[stageFill..<length]).initializeMemory(as: UInt8.self, repeating: 0)
        shared.enqueue(s, length: length, at: stageStart)
    }
}

/// The state the caller and the write queue share: the free stages, the descriptors and the
/// first error. `@unchecked Sendable`: every mutable field is guarded by `lock`.
private final class Shared: @unchecked Sendable {
    let path: String
    let buffered: FileDescriptor
    private var direct: FileDescriptor?
    private let queue: DispatchQueue
    private let lock = NSLockLike()
    private let available: DispatchSemaphore
    private var free: [UnsafeMutableRawBufferPointer] = []
    private var all: [UnsafeMutableRawBufferPointer] = []
    private var failure: Error?
    private var inFlight = 0

    init(path: String, buffered: FileDescriptor, direct: FileDescriptor?, stageSize: Int, stages: Int) {
        self.path = path
        self.buffered = buffered
        self.direct = direct
        self.queue = DispatchQueue(label: "stamp.staged-writer")
        self.available = DispatchSemaphore(value: stages)
        for _ in 0..<stages {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: stageSize, alignment: StagedWriter.alignment)
            all.append(b)
            free.append(b)
        }
    }

    deinit {
        closeDirect()
        for b in all { b.deallocate() }
    }

    var isDirect: Bool { lock.withLock { direct != nil } }
    var idle: Bool { lock.withLock { inFlight == 0 } }

    func check() throws { if let e = lock.withLock({ failure }) { throw e } }

    func take() throws -> UnsafeMutableRawBufferPointer {
        available.wait()
        return lock.withLock { free.removeLast() }
    }

    func recycle(_ b: UnsafeMutableRawBufferPointer) {
        lock.withLock { free.append(b) }
        available.signal()
    }

    func enqueue(_ b: UnsafeMutableRawBufferPointer, length: Int, at offset: UInt64) {
        lock.withLock { inFlight += 1 }
        let job = Stage(buffer: b, length: length)
        queue.async { [self] in
            if lock.withLock({ failure == nil }) {
                do { try write(UnsafeRawBufferPointer(rebasing: job.buffer[0..<job.length]), at: offset) } catch {
                    lock.withLock { if failure == nil { failure = error } }
                }
            }
            lock.withLock { inFlight -= 1 }
            recycle(job.buffer)
        }
    }

    /// Waits until every queued stage is written; throws the first write error.
    func drain() throws {
        queue.sync {}
        try check()
    }

    func closeDirect() {
        lock.withLock {
            try? direct?.close()
            direct = nil
        }
    }

    private func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if let fd = lock.withLock({ direct }) {
            do {
                _ = try fd.writeAll(toAbsoluteOffset: Int64(offset), data)
                return
            } catch Errno.invalidArgument {
                // The filesystem wants another alignment: write buffered from now on.
                closeDirect()
            } catch {
                throw IOError.system(path: path, operation: "write", errno: error as? Errno ?? .ioError)
            }
        }
        try withPath(path, "write") { _ = try buffered.writeAll(toAbsoluteOffset: Int64(offset), data) }
    }
}

/// A stage on its way to the queue. `@unchecked Sendable`: the caller gives the buffer up
/// until the queue recycles it.
private struct Stage: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    let length: Int
}

/// A tiny mutex over `pthread_mutex_t` (Foundation's NSLock without Foundation).
private final class NSLockLike: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
