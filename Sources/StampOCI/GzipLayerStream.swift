import Foundation
import StampArchive
import StampCompression

/// A gzip layer decoded on a thread of its own, a few MiB ahead of the tar reader.
///
/// Applying a layer is two jobs of about equal weight: inflating the gzip stream, and
/// parsing the tar and writing its files. Done in turn on one thread (libarchive's own gzip
/// filter, zlib) they leave the second core idle; here ISA-L inflates (about three times
/// zlib's rate) on a producer thread while the applier's thread reads the tar:
///
/// ```
///   layer file ─read 4 MiB─► GzipDecoder ─► slot 0 │ slot 1 │ … │ slot 7 ─► ArchiveReader
///   (producer thread)                        └──── ring of 1 MiB slots ────┘  (applier's thread)
///                                 free: slots the producer may fill   filled: slots to read
/// ```
///
/// Two counting semaphores hand slots back and forth; a slot's bytes are written only by the
/// producer before it signals `filled` and read only by the consumer until it signals `free`,
/// which orders every access. The last slot published carries the end (length 0) or the
/// producer's error.
final class GzipLayerStream: ArchiveByteSource, @unchecked Sendable {
    // @unchecked Sendable: the producer thread and the consumer share `storage`, `lengths` and
    // `failure` only through the semaphore hand-off described above.
    static let slotSize = 1 << 20
    static let slotCount = 8
    static let inputSize = 4 << 20

    let path: String
    private let fd: Int32
    private let storage: UnsafeMutableRawBufferPointer
    private let lengths: UnsafeMutablePointer<Int>
    private var failure: ArchiveError?
    /// Starts at 0 and is signalled once per slot in `init`: libdispatch traps when a semaphore
    /// is freed with a value below the one it was made with, which a stream stopped early
    /// (a corrupt layer, a tar error) leaves behind.
    private let free = DispatchSemaphore(value: 0)
    private let filled = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var cancelledFlag = false
    private var cancelled: Bool {
        get { lock.withLock { cancelledFlag } }
        set { lock.withLock { cancelledFlag = newValue } }
    }
    /// Consumer side: the next slot to read, and whether the previous one is still held.
    private var readIndex = 0
    private var holding = false
    private var ended = false
    /// The producer's life: not started, running, or stopped for good by ``close()`` (a
    /// closed stream never starts a second producer).
    private enum Phase { case idle, running, closed }
    private var phase = Phase.idle

    /// A stream over the layer at `path` if it is gzip (starts with 1f 8b), else nil (the
    /// caller lets libarchive detect zstd, xz or an uncompressed tar).
    static func open(_ path: String) throws -> GzipLayerStream? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIError.system(path: path, operation: "open", message: errnoText()) }
        var magic: [UInt8] = [0, 0]
        let n = pread(fd, &magic, 2, 0)
        guard n == 2, magic == [0x1f, 0x8b] else {
            Glibc.close(fd)
            return nil
        }
        return GzipLayerStream(path: path, fd: fd)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
        storage = .allocate(byteCount: Self.slotSize * Self.slotCount, alignment: 64)
        lengths = .allocate(capacity: Self.slotCount)
        lengths.initialize(repeating: 0, count: Self.slotCount)
        for _ in 0..<Self.slotCount { free.signal() }
    }

    deinit {
        close()
        storage.deallocate()
        lengths.deallocate()
        Glibc.close(fd)
    }

    /// Starts the producer; ``nextBlock()`` starts it on first use too.
    func start() {
        guard phase == .idle else { return }
        phase = .running
        let thread = Thread { [self] in
            produce()
            finished.signal()
        }
        thread.name = "stamp-gunzip"
        thread.start()
    }

    func nextBlock() throws(ArchiveError) -> UnsafeRawBufferPointer? {
        if phase == .closed {
            throw .source(path: path, operation: "read", message: "the layer stream was already closed")
        }
        start()
        if holding {
            free.signal()
            holding = false
        }
        if ended { return nil }
        filled.wait()
        let slot = readIndex % Self.slotCount
        readIndex += 1
        let length = lengths[slot]
        if length < 0 {
            ended = true
            free.signal()
            throw failure ?? .source(path: path, operation: "decompress", message: "unknown error")
        }
        if length == 0 {
            ended = true
            free.signal()
            return nil
        }
        holding = true
        return UnsafeRawBufferPointer(rebasing: storage[slot * Self.slotSize..<(slot * Self.slotSize + length)])
    }

    /// Reads to the end of the stream, so the last member's CRC and length are checked even
    /// when the tar ends before the gzip data does (end-of-archive blocks, padding).
    func drain() throws(ArchiveError) {
        while try nextBlock() != nil {}
    }

    /// Stops the producer (if still running) and waits for it.
    func close() {
        let wasRunning = phase == .running
        phase = .closed
        guard wasRunning else { return }
        cancelled = true
        free.signal()  // wakes a producer waiting for a slot
        finished.wait()
    }

    /// The producer: fills slots until the input ends, an error, or cancellation.
    private func produce() {
        let decoder = GzipDecoder()
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputSize, alignment: 64)
        defer { input.deallocate() }
        var inputStart = 0
        var inputEnd = 0
        var atEOF = false
        var writeIndex = 0
        var slotFill = 0
        var slot = 0
        var haveSlot = false

        func acquire() -> Bool {
            free.wait()
            if cancelled { return false }
            slot = writeIndex % Self.slotCount
            writeIndex += 1
            slotFill = 0
            haveSlot = true
            return true
        }
        func publish(_ length: Int) {
            lengths[slot] = length
            haveSlot = false
            filled.signal()
        }
        func fail(_ error: ArchiveError) {
            if !haveSlot, !acquire() { return }
            failure = error
            publish(-1)
        }
        /// Moves the unread input to the front of the buffer and reads more behind it, once
        /// (a short read is fine: the decoder asks again); sets `atEOF` on a read of 0.
        func refill() throws(ArchiveError) {
            let left = inputEnd - inputStart
            if left > 0 && inputStart > 0 {
                input.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: left)
            }
            inputStart = 0
            inputEnd = left
            while true {
                let n = read(fd, input.baseAddress! + left, input.count - left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.source(path: path, operation: "read", message: errnoText())
                }
                inputEnd += n
                atEOF = n == 0
                return
            }
        }

        do throws(ArchiveError) {
            while true {
                if inputStart == inputEnd && !atEOF { try refill() }
                if inputStart == inputEnd && atEOF {
                    do { try decoder.finish() } catch {
                        throw ArchiveError.source(path: path, operation: "decompress", message: "\(error)")
                    }
                    if haveSlot && slotFill > 0 { publish(slotFill) }
                    if !haveSlot, !acquire() { return }
                    publish(0)
                    return
                }
                if !haveSlot, !acquire() { return }
                let out = UnsafeMutableRawBufferPointer(
                    rebasing: storage[(slot * Self.slotSize + slotFill)..<((slot + 1) * Self.slotSize)])
                let (consumed, produced): (Int, Int)
                do {
                    (consumed, produced) = try decoder.decode(
                        UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd]), into: out)
                } catch {
                    throw ArchiveError.source(path: path, operation: "decompress", message: "\(error)")
                }
                inputStart += consumed
                slotFill += produced
                if consumed == 0 && produced == 0 {
                    // The decoder wants more than the bytes left (a header split by a read):
                    // move them to the front and read more behind them.
                    guard !atEOF else {
                        throw ArchiveError.source(
                            path: path, operation: "decompress", message: "\(CompressionError.truncatedData)")
                    }
                    guard inputEnd - inputStart < input.count else {
                        throw ArchiveError.source(
                            path: path, operation: "decompress",
                            message: "a gzip member header longer than \(Self.inputSize >> 20) MiB")
                    }
                    try refill()
                }
                if slotFill == Self.slotSize { publish(slotFill) }
            }
        } catch {
            fail(error)
        }
    }
}
