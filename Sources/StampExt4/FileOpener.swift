import Foundation
import StampIO
import StampTree
import SystemPackage

/// Opens the source files a little before the emitter needs them, and asks the kernel for
/// their contents as it does.
///
/// The emitter reads files one at a time, in block order. On a cold page cache each small
/// file is then one disk round trip with nothing else in flight, which is all `mke2fs -d`
/// does too: both wait on the disk's latency, not its bandwidth. This thread walks the same
/// file order ahead of the emitter and, for each file, opens it and calls
/// `posix_fadvise(WILLNEED)`, which queues the reads and returns: the disk sees many requests
/// at once and the emitter finds the data in the page cache. With a warm cache the open is
/// still work the emitter no longer does on its own thread.
///
/// ```
///   emitter   take(k) ─ pread ─ take(k+1) ─ pread ─▶
///   opener        open+advise k+1 … k+n ─────────▶   (n ≤ `windowFiles`, ≤ `windowBytes` ahead)
/// ```
///
/// ``take(inode:)`` hands over the descriptor (the caller closes it) or the open's error,
/// which the emitter reports as if it had opened the file itself. Descriptors never taken
/// are closed by ``stop()``.
final class FileOpener: @unchecked Sendable {
    // @unchecked: every mutable field is only touched under `condition`.
    private let files: [(inode: UInt32, entry: Int, size: UInt64)]
    private let tree: RootTree
    private let windowBytes: UInt64
    private let windowFiles: Int
    private let condition = NSCondition()
    /// Opened and not yet taken, by position in `files`.
    private var ready: [Int: Result<FileDescriptor, IOError>] = [:]
    /// How many of `files` have been opened (or failed to).
    private var produced = 0
    /// The position of the next file the emitter will take.
    private var next = 0
    private var consumedBytes: UInt64 = 0
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    /// Starts opening the data files of `layout` in the order the emitter reads them.
    init(layout: Layout, windowBytes: UInt64 = 64 << 20, windowFiles: Int = 128) {
        var files: [(inode: UInt32, entry: Int, size: UInt64)] = []
        var last: UInt32 = 0
        for piece in layout.pieces where piece.kind == .fileData && piece.inode != last {
            last = piece.inode
            let plan = layout.inode(piece.inode)
            // Data kept in an image layer is read by the emitter from the layer's stream.
            if layout.tree.memberPosition(of: Int(plan.entry)) != nil { continue }
            files.append((piece.inode, Int(plan.entry), plan.size))
        }
        self.files = files
        self.tree = layout.tree
        self.windowBytes = windowBytes
        self.windowFiles = windowFiles
        let thread = Thread { [self] in run() }
        thread.name = "stamp.ext4.opener"
        thread.start()
    }

    /// The opened file of `inode` if it is the next one in the emitter's order (waiting for
    /// it when needed); nil when it is not, or after ``stop()``: the caller opens it itself.
    func take(inode: UInt32) -> Result<FileDescriptor, IOError>? {
        condition.lock()
        defer { condition.unlock() }
        guard next < files.count, files[next].inode == inode else { return nil }
        while produced <= next && !stopped { condition.wait() }
        guard let opened = ready.removeValue(forKey: next) else { return nil }
        consumedBytes += files[next].size
        next += 1
        condition.broadcast()
        return opened
    }

    /// Stops the thread, waits for it and closes what was opened but not taken (idempotent).
    func stop() {
        condition.lock()
        let first = !stopped
        stopped = true
        condition.broadcast()
        condition.unlock()
        guard first else { return }
        done.wait()
        condition.lock()
        for case .success(let fd) in ready.values { try? fd.close() }
        ready.removeAll()
        condition.unlock()
    }

    deinit { stop() }

    private func run() {
        defer { done.signal() }
        var issuedBytes: UInt64 = 0
        for (index, file) in files.enumerated() {
            condition.lock()
            while !stopped && (index - next >= windowFiles || issuedBytes > consumedBytes + windowBytes) {
                condition.wait()
            }
            let stop = stopped
            condition.unlock()
            if stop { return }
            let opened: Result<FileDescriptor, IOError>
            do {
                let fd = try tree.openData(of: file.entry)
                if file.size > 0 { Syscalls.adviseWillNeed(fd, offset: 0, length: file.size) }
                opened = .success(fd)
            } catch {
                opened = .failure(error)
            }
            issuedBytes += file.size
            condition.lock()
            ready[index] = opened
            produced = index + 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
