import Dispatch
import Foundation
import StampBytes
import StampIO
import SystemPackage

/// Gathers the emitter's blocks into large writes, in one of two ways.
///
/// Lending (the sink is a ``StagingSink``, e.g. ``StagedWriter`` for `stamp mkfs`): the
/// sink lends regions of its own stages, and the emitter encodes metadata and reads file
/// data straight into them, on its own thread; the sink's queue writes the stages. File
/// data is copied once, from the page cache into the stage.
///
/// ```
///   emitter ── blocks/dataBlocks ──► StagedWriter stage ──► its queue ── pwrite(O_DIRECT)
/// ```
///
/// Buffering (any other sink: the containers' compressing sinks, a tee): blocks are collected
/// in buffers of the stager's own, and full buffers go to a writer thread: while it hands
/// one buffer to the sink, the emitter reads files into the next (two cores busy instead of
/// one). Every sink call then happens on that one thread, in submission order, so the sink
/// still sees strictly ascending offsets.
///
/// ```
///   emitter ── blocks ──► buffer 1/3 ──► writer thread ── sink.write / sink.copy
/// ```
///
/// Either way a region handed out is valid until the next call on the stager.
final class Stager {
    let sink: ImageSink
    let base: UInt64
    let capacity: Int  // blocks per buffer
    /// The sink, when it lends its buffers.
    private let lender: StagingSink?
    /// For a region the lender cannot give (see ``StagingSink/lend(at:count:)``): built here
    /// and written with `sink.write` at the next call.
    private var scratch: IOBuffer?
    private var scratchPending: (offset: UInt64, count: Int)?
    private let buffers: [IOBuffer]
    private let free: [DispatchSemaphore]
    private let writer = OrderedWriter()
    private var current = 0
    private var start: UInt64 = 0
    private var count = 0

    init(sink: ImageSink, base: UInt64, capacityBlocks: Int = 1024, bufferCount: Int = 3) {
        self.sink = sink
        self.base = base
        self.capacity = capacityBlocks
        self.lender = (sink as? StagingSink).flatMap { $0.lendsBuffers ? $0 : nil }
        let buffered = lender == nil
        self.buffers = buffered ? (0..<bufferCount).map { _ in IOBuffer(size: capacityBlocks * Ext4.blockSize) } : []
        self.free = buffered ? (0..<bufferCount).map { _ in DispatchSemaphore(value: 1) } : []
        if buffered { free[0].wait() }
    }

    /// Whether regions are the sink's own memory (no writer thread, no copy).
    var lends: Bool { lender != nil }

    /// A zeroed region for blocks `block..<block+n` (n ≤ capacity).
    func blocks(at block: UInt64, count n: Int) throws -> FieldWriter {
        precondition(n <= capacity)
        if lender != nil {
            let region = try lent(at: block, count: n)
            region.initializeMemory(as: UInt8.self, repeating: 0)
            return FieldWriter(region)
        }
        if count > 0 && (start + UInt64(count) != block || count + n > capacity) { try flush() }
        if count == 0 { start = block }
        let region = FieldWriter(buffers[current].bytes).slice(at: count * Ext4.blockSize, count: n * Ext4.blockSize)
        count += n
        return region
    }

    /// A region for blocks `block..<block+n` (n ≤ capacity) of file data, whose contents are
    /// undefined: the caller writes every byte (the file's, then zeros to the block's end).
    func dataBlocks(at block: UInt64, count n: Int) throws -> UnsafeMutableRawBufferPointer {
        precondition(n <= capacity)
        if lender != nil { return try lent(at: block, count: n) }
        return try blocks(at: block, count: n).bytes
    }

    private func lent(at block: UInt64, count n: Int) throws -> UnsafeMutableRawBufferPointer {
        try writeScratch()
        let offset = base + (block << Ext4.blockShift)
        let length = n * Ext4.blockSize
        if let region = try lender?.lend(at: offset, count: length) { return region }
        let buffer = scratch ?? IOBuffer(size: capacity * Ext4.blockSize)
        scratch = buffer
        scratchPending = (offset, length)
        return UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length])
    }

    private func writeScratch() throws {
        guard let (offset, length) = scratchPending, let scratch else { return }
        scratchPending = nil
        try sink.write(UnsafeRawBufferPointer(rebasing: scratch.bytes[0..<length]), at: offset)
    }

    /// Queues the staged blocks for writing and moves on to the next free buffer (lending:
    /// writes a region built aside, if any).
    func flush() throws {
        if lender != nil { return try writeScratch() }
        try writer.check()
        guard count > 0 else { return }
        let index = current
        let bytes = UnsafeMutableRawBufferPointer(rebasing: buffers[index].bytes[0..<(count * Ext4.blockSize)])
        let offset = base + (start << Ext4.blockShift)
        let job = UncheckedBox((sink, bytes, free[index]))
        writer.submit { failed in
            let (sink, bytes, free) = job.value
            defer {
                bytes.initializeMemory(as: UInt8.self, repeating: 0)
                free.signal()
            }
            if !failed { try sink.write(UnsafeRawBufferPointer(bytes), at: offset) }
        }
        current = (current + 1) % buffers.count
        free[current].wait()
        count = 0
    }

    /// Copies a file range (after everything staged so far): at once when lending, else
    /// queued for the writer thread.
    func copy(_ range: SourceRange, at block: UInt64) throws {
        try flush()
        let offset = base + (block << Ext4.blockShift)
        if lender != nil { return try sink.copy(range, at: offset) }
        let job = UncheckedBox((sink, range))
        writer.submit { failed in if !failed { try job.value.0.copy(job.value.1, at: offset) } }
    }

    /// How many descriptors may wait for their copies to be written before the emitter
    /// waits: bounds the files open at once whatever the tree (a login's limit is 1024).
    static let pendingCloses = 128
    private let closeSlots = DispatchSemaphore(value: Stager.pendingCloses)

    /// Closes a descriptor once the writes before it are done (lending: now, they are).
    func close(_ fd: FileDescriptor) {
        if lender != nil { return (try? fd.close()) ?? () }
        closeSlots.wait()
        let slots = UncheckedBox(closeSlots)
        writer.submit { _ in
            try? fd.close()
            slots.value.signal()
        }
    }

    /// Writes what is staged and waits for the writer; rethrows its first error.
    func finish() throws {
        try flush()
        if lender == nil { try writer.drain() }
    }

    deinit {
        guard lender == nil else { return }
        try? writer.drain()
        free[current].signal()  // balance the wait for the buffer in hand
    }
}

/// Runs jobs one at a time, in order, on a private serial queue, remembering the first error.
/// Every job runs, told whether an earlier one failed, so that it can still release what it
/// holds (buffers, descriptors) without doing its work.
final class OrderedWriter: @unchecked Sendable {
    // @unchecked: `failure` is only read and written under `lock`.
    private let queue = DispatchQueue(label: "stamp.ext4.writer")
    private let lock = NSLock()
    private var failure: Error?

    func submit(_ job: @escaping @Sendable (_ failed: Bool) throws -> Void) {
        queue.async { [self] in
            do { try job(current() != nil) } catch { lock.withLock { if failure == nil { failure = error } } }
        }
    }

    private func current() -> Error? { lock.withLock { failure } }

    func check() throws { if let e = current() { throw e } }

    func drain() throws {
        queue.sync {}
        try check()
    }
}

/// Moves a non-Sendable value to the writer thread. Safe because the emitter hands each
/// value over and never touches it again until the writer signals (see ``Stager``).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
