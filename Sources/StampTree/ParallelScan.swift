import Dispatch

/// Scans a tree on several threads and yields the very entries a scan on one thread gives,
/// in the same order.
///
/// Every directory is a task: it records its own entries (``ScanState/scanChildren(index:path:relative:)``)
/// into a fragment of its own and queues one task per subdirectory. Once every task is done,
/// the fragments are spliced in the order the one-thread scan visits them (a directory's
/// entries, then each subdirectory's fragment in name order), their local indices turned
/// into global ones; then hard links are resolved over the whole tree, because the first
/// name of an inode may sit in another fragment.
///
/// ```
///  task /      [ / | bin etc usr ]                         fragment: local 0 = the directory
///  task /etc        [ etc | fstab passwd … ]               itself, 1… its entries
///  task /usr        [ usr | bin lib share ]
///  task /usr/bin         [ bin | cat ls … ]
///                   │ splice, depth first, children in name order
///  entries     [ / bin etc usr | fstab passwd … | bin lib share | cat ls … | … ]
/// ```
///
/// An error stops nothing else, but the one reported is the first in the one-thread
/// scan's order: a task's own error before its subdirectories', those in name order.
struct ParallelScan {
    let base: ScanState
    let threads: Int

    init(state: ScanState, threads: Int) {
        self.base = state
        self.threads = threads
    }

    /// Scans beneath the root (`base.entries[0]`) and returns every entry, the root first.
    func run(root: String) throws -> [Entry] {
        let top = ScanTask(state: base, path: root, relative: [])
        let pool = ScanPool(threads: threads)
        pool.run(top) { task in task.scan(pool: pool) }
        var entries = [base.entries[0]]
        entries.reserveCapacity(top.totalEntries)
        try top.splice(at: 0, into: &entries)
        resolveHardLinks(&entries)
        return entries
    }

    /// The one-thread scan's hard links: the first name (in entry order) of an inode with
    /// several names keeps its attributes, every later name points at it
    /// (``Entry/hardLinkOf``) and carries none of its own.
    private func resolveHardLinks(_ entries: inout [Entry]) {
        var first: [ScanState.InodeKey: Int32] = [:]
        for i in entries.indices where entries[i].kind != .directory && entries[i].linkCount > 1 {
            let e = entries[i]
            let key = ScanState.InodeKey(
                major: UInt32(truncatingIfNeeded: e.sourceDevice >> 32), minor: UInt32(truncatingIfNeeded: e.sourceDevice),
                ino: e.sourceInode)
            guard let firstIndex = first[key] else {
                first[key] = Int32(i)
                continue
            }
            if e.hardLinkOf == nil {
                entries[i].xattrs = []
                entries[i].symlinkTarget = nil
                entries[i].dataRegions = nil
            }
            entries[i].hardLinkOf = firstIndex
        }
    }
}

/// One directory of a ``ParallelScan``: its entries (a fragment) and its subdirectories' tasks.
///
/// `@unchecked Sendable`: a task's fields are written only by the thread that runs it, before
/// it queues its subtasks; the splice reads them after the pool has finished (which waits for
/// every thread).
final class ScanTask: @unchecked Sendable {
    /// `entries[0]`: the directory itself (a copy, for its inode check); then what it holds.
    var state: ScanState
    let path: String
    let relative: [UInt8]
    /// (local index of the subdirectory, its task), in name order.
    var subtasks: [(Int, ScanTask)] = []
    var error: (any Error)?

    init(state: ScanState, path: String, relative: [UInt8]) {
        self.state = state
        self.path = path
        self.relative = relative
    }

    /// Records this directory's entries and queues a task per subdirectory.
    func scan(pool: ScanPool) {
        do {
            for (local, path, relative) in try state.scanChildren(index: 0, path: path, relative: relative) {
                var child = ScanState(root: state.root, rootDescriptor: state.rootDescriptor, options: state.options)
                child.entries = [state.entries[local]]
                let task = ScanTask(state: child, path: path, relative: relative)
                subtasks.append((local, task))
            }
            for (_, task) in subtasks { pool.add(task) }
        } catch {
            self.error = error
            subtasks = []
        }
    }

    /// Entries below this directory, over every task beneath it.
    var totalEntries: Int {
        state.entries.count - 1 + subtasks.reduce(0) { $0 + $1.1.totalEntries }
    }

    /// Appends this fragment and its subtasks' to `entries`, this directory being
    /// `entries[index]`, and frees them.
    func splice(at index: Int, into entries: inout [Entry]) throws {
        if let error { throw error }
        let offset = Int32(entries.count - 1)
        let own = Int32(index)
        func global(_ local: Int32) -> Int32 { local == 0 ? own : local + offset }
        for local in 1..<max(1, state.entries.count) {
            var e = state.entries[local]
            e.parent = global(e.parent)
            if !e.children.isEmpty { e.children = e.children.map(global) }
            if let first = e.hardLinkOf { e.hardLinkOf = global(first) }
            entries.append(e)
        }
        entries[index].children = state.entries[0].children.map(global)
        state.entries = []
        for (local, task) in subtasks { try task.splice(at: Int(global(Int32(local))), into: &entries) }
        subtasks = []
    }
}

/// A fixed set of threads that run ``ScanTask``s until none is queued or running.
///
/// `@unchecked Sendable`: `queue` and `pending` are only touched with `lock` held;
/// `available` counts queued tasks (and the stop tokens at the end).
final class ScanPool: @unchecked Sendable {
    private let threads: Int
    private let lock = DispatchSemaphore(value: 1)
    private let available = DispatchSemaphore(value: 0)
    private var queue: [ScanTask?] = []
    /// Tasks queued or running.
    private var pending = 0

    init(threads: Int) { self.threads = max(1, threads) }

    /// Queues `task` (from a task that is running).
    func add(_ task: ScanTask?) {
        lock.wait()
        if task != nil { pending += 1 }
        queue.append(task)
        lock.signal()
        available.signal()
    }

    /// Runs `first` and every task queued from it, and returns when all are done.
    func run(_ first: ScanTask, body: @escaping @Sendable (ScanTask) -> Void) {
        add(first)
        let group = DispatchGroup()
        for i in 0..<threads {
            // Serial queues of their own: each gets a thread, so a thread blocked on the disk
            // does not hold back the others.
            DispatchQueue(label: "stamp.scan.\(i)").async(group: group) { [self] in
                while let task = take() {
                    body(task)
                    finished()
                }
            }
        }
        group.wait()
    }

    private func take() -> ScanTask? {
        available.wait()
        lock.wait()
        defer { lock.signal() }
        // Last in, first out: depth first, as the one-thread scan goes.
        return queue.removeLast()
    }

    private func finished() {
        lock.wait()
        pending -= 1
        let done = pending == 0
        lock.signal()
        if done { for _ in 0..<threads { add(nil) } }
    }
}
