import Dispatch
import StampBytes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Compresses numbered chunks on every core and hands the results back in submission order.
///
/// ```
///  submit(g0) submit(g1) submit(g2) …            workers (one compressor each)
///     │          │          │                    ┌──────────────┐
///     ▼          ▼          ▼                    │ w0: g0  g3 … │
///  ┌────┬────┬────┬────┬────┬────┐  FIFO ───────►│ w1: g1  g4 … │
///  │ s0 │ s1 │ s2 │ s3 │ s4 │ s5 │  ring of       │ w2: g2  g5 … │
///  └────┴────┴────┴────┴────┴────┘  `window` slots└──────────────┘
///     ▲ head: the oldest chunk; delivered (in order) once its worker is done
/// ```
///
/// Memory is bounded: at most `window` chunks are in flight, each with one input and one
/// output buffer. When the ring is full, ``submit(_:tag:deliver:)`` first waits for the
/// oldest chunk and passes it to `deliver`, so the caller's writer sees chunks strictly in
/// the order they were submitted, whatever order the workers finish in.
///
/// The object itself is used by one thread (the writer); only the workers run elsewhere.
public final class ParallelCompressor {
    /// One compressed chunk, valid only during the `deliver` call.
    public struct Chunk {
        /// The caller's number for this chunk (a grain or cluster index).
        public let tag: UInt64
        /// The bytes that were submitted.
        public let original: UnsafeRawBufferPointer
        /// The compressed bytes, in the compressor's format.
        public let compressed: UnsafeRawBufferPointer
    }

    public let settings: CompressionSettings
    public let format: CompressionFormat
    /// The largest chunk ``submit(_:tag:deliver:)`` accepts.
    public let chunkCapacity: Int
    public let workerCount: Int
    private let shared: Shared
    private let slots: [Slot]
    private var head = 0
    private var inFlight = 0
    private var failed = false
    /// What the workers did for the chunks delivered so far.
    public private(set) var statistics = CompressionStatistics()

    /// Starts `workers` threads, each with its own compressor.
    /// - Parameters:
    ///   - settings: backend and level (adapted to `format`, see ``CompressionSettings/adapted(to:)``).
    ///   - format: zlib framing or raw deflate.
    ///   - chunkCapacity: the largest chunk (64 KiB for grains and clusters).
    ///   - workers: compressing threads; defaults to the number of CPUs.
    ///   - window: chunks in flight at most; defaults to four per worker.
    public init(
        settings: CompressionSettings, format: CompressionFormat, chunkCapacity: Int = 65536,
        workers: Int? = nil, window: Int? = nil
    ) throws(CompressionError) {
        let settings = settings.adapted(to: format)
        let workerCount = max(1, workers ?? ParallelCompressor.cpuCount)
        self.settings = settings
        self.format = format
        self.chunkCapacity = chunkCapacity
        self.workerCount = workerCount
        var compressors: [any Compressor] = []
        for _ in 0..<workerCount { compressors.append(try settings.makeCompressor(format: format)) }
        let outputCapacity = max(
            compressors[0].maximumCompressedSize(for: chunkCapacity), StoredDeflate.size(for: chunkCapacity, format: format))
        let count = max(window ?? workerCount * 4, workerCount + 1)
        slots = (0..<count).map { _ in Slot(inputCapacity: chunkCapacity, outputCapacity: outputCapacity) }
        shared = Shared()
        for (i, compressor) in compressors.enumerated() {
            let box = CompressorBox(compressor)
            let shared = self.shared
            // A private serial queue per worker: such queues get their own thread (they
            // "overcommit"), so long-running workers never starve Dispatch's global pool.
            DispatchQueue(label: "stamp.compressor.\(i)").async { shared.runWorker(box) }
        }
    }

    /// Queues `data` (at most ``chunkCapacity`` bytes; copied) for compression. If the window
    /// is full, first delivers the oldest chunk.
    /// - Throws: the first error from `deliver` or from a worker's compressor.
    public func submit(_ data: UnsafeRawBufferPointer, tag: UInt64, deliver: (Chunk) throws -> Void) throws {
        precondition(data.count <= chunkCapacity, "chunk larger than the compressor's capacity")
        guard !failed else { throw CompressionError.unsupported("compressor used after a failure") }
        if inFlight == slots.count { try deliverOldest(deliver) }
        let slot = slots[(head + inFlight) % slots.count]
        slot.input.copyMemory(from: data)
        slot.count = data.count
        slot.tag = tag
        slot.result = .pending
        slot.stored = false
        inFlight += 1
        shared.enqueue(slot)
    }

    /// Delivers every chunk still in flight, in order.
    public func drain(deliver: (Chunk) throws -> Void) throws {
        while inFlight > 0 { try deliverOldest(deliver) }
    }

    private func deliverOldest(_ deliver: (Chunk) throws -> Void) throws {
        let slot = slots[head]
        slot.done.wait()  // the worker's signal publishes its writes to the slot
        head = (head + 1) % slots.count
        inFlight -= 1
        statistics.chunks += 1
        statistics.inputBytes += UInt64(slot.count)
        statistics.cpuNanoseconds += slot.cpuNanoseconds
        if slot.stored { statistics.storedChunks += 1 }
        do {
            switch slot.result {
            case .compressed(let n):
                statistics.outputBytes += UInt64(n)
                try deliver(
                    Chunk(
                        tag: slot.tag, original: UnsafeRawBufferPointer(rebasing: slot.input[0..<slot.count]),
                        compressed: UnsafeRawBufferPointer(rebasing: slot.output[0..<n])))
            case .failed(let error): throw error
            case .pending: throw CompressionError.unsupported("internal error: chunk delivered before compression")
            }
        } catch {
            failed = true
            throw error
        }
    }

    deinit {
        // Wait for queued work (the workers still hold the slots) and stop the workers.
        for _ in 0..<inFlight {
            slots[head].done.wait()
            head = (head + 1) % slots.count
        }
        shared.stop(workers: workerCount)
    }

    /// The number of CPUs this process may use.
    public static var cpuCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }
}

/// What a ``ParallelCompressor``'s workers did: the benchmark's "compression MB/s per core"
/// is ``inputBytes`` over ``cpuSeconds`` (thread CPU time, so it holds on a busy machine).
public struct CompressionStatistics: Sendable, Equatable {
    public var chunks = 0
    /// Chunks stored without compression (they looked incompressible: ``StoredDeflate``).
    public var storedChunks = 0
    public var inputBytes: UInt64 = 0
    public var outputBytes: UInt64 = 0
    /// The workers' CPU time inside the compressor, summed over workers.
    public var cpuNanoseconds: UInt64 = 0

    public init() {}

    public var cpuSeconds: Double { Double(cpuNanoseconds) / 1e9 }
    /// Input megabytes (10^6) compressed per second of one core.
    public var megabytesPerCoreSecond: Double { cpuNanoseconds == 0 ? 0 : Double(inputBytes) / Double(cpuNanoseconds) * 1e3 }

    public static func + (a: Self, b: Self) -> Self {
        var s = a
        s.chunks += b.chunks
        s.storedChunks += b.storedChunks
        s.inputBytes += b.inputBytes
        s.outputBytes += b.outputBytes
        s.cpuNanoseconds += b.cpuNanoseconds
        return s
    }
}

/// One chunk's buffers and result.
///
/// `@unchecked Sendable`: a slot is owned by exactly one thread at a time. The writer fills
/// it and passes it to a worker through `Shared.enqueue` (lock hand-off); the worker writes
/// `result` and the output, then signals `done`; the writer reads only after `done.wait()`.
private final class Slot: @unchecked Sendable {
    enum Result {
        case pending
        case compressed(Int)
        case failed(CompressionError)
    }

    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    var count = 0
    var tag: UInt64 = 0
    var result = Result.pending
    /// The worker's thread CPU time for this chunk.
    var cpuNanoseconds: UInt64 = 0
    /// Whether the chunk was stored without compressing (``StoredDeflate``).
    var stored = false
    let done = DispatchSemaphore(value: 0)

    init(inputCapacity: Int, outputCapacity: Int) {
        input = .allocate(byteCount: inputCapacity, alignment: 64)
        output = .allocate(byteCount: outputCapacity, alignment: 64)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }
}

/// Moves a compressor to its worker thread.
///
/// `@unchecked Sendable`: the compressor is created on the writer's thread and used only by
/// the one worker it is handed to.
private final class CompressorBox: @unchecked Sendable {
    let compressor: any Compressor
    init(_ compressor: any Compressor) { self.compressor = compressor }
}

/// The FIFO of slots waiting for a worker.
///
/// `@unchecked Sendable`: `queue` is only touched with `lock` held; `available` counts its
/// entries (plus stop tokens) so that idle workers sleep instead of spinning.
private final class Shared: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private let available = DispatchSemaphore(value: 0)
    private var queue: [Slot?] = []
    private var next = 0

    func enqueue(_ slot: Slot?) {
        lock.wait()
        queue.append(slot)
        lock.signal()
        available.signal()
    }

    func stop(workers: Int) {
        for _ in 0..<workers { enqueue(nil) }
    }

    private func dequeue() -> Slot? {
        available.wait()
        lock.wait()
        defer { lock.signal() }
        let slot = queue[next]
        next += 1
        if next > 1024 && next * 2 > queue.count {  // compact now and then
            queue.removeFirst(next)
            next = 0
        }
        return slot
    }

    func runWorker(_ box: CompressorBox) {
        while let slot = dequeue() {
            let input = UnsafeRawBufferPointer(rebasing: slot.input[0..<slot.count])
            let start = Clocks.threadCPU()
            do {
                if StoredDeflate.isIncompressible(input, compressor: box.compressor, scratch: slot.output),
                    let n = StoredDeflate.encode(input, format: box.compressor.format, into: slot.output)
                {
                    slot.result = .compressed(n)
                    slot.stored = true
                } else if let n = try box.compressor.compress(input, into: slot.output) {
                    slot.result = .compressed(n)
                } else {
                    slot.result = .failed(.outputTooLarge(limit: slot.output.count))
                }
            } catch {
                slot.result = .failed(error)
            }
            slot.cpuNanoseconds = Clocks.threadCPU() &- start
            slot.done.signal()
        }
    }
}
