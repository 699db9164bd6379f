import StampBytes
import StampIO
import StampTree
import SystemPackage
import Dispatch
import Foundation

/// Collects consecutive blocks in large buffers so that the sink sees few, large writes,
/// and hands full buffers to a writer thread: while it writes one buffer, the emitter reads
/// files into the next (two cores busy instead of one). Every sink call happens on that one
/// thread, in submission order, so the sink still sees strictly ascending offsets.
final class Stager {
    let sink: ImageSink
    let base: UInt64
    let capacity: Int  // blocks per buffer
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
        self.buffers = (0..<bufferCount).map { _ in IOBuffer(size: capacityBlocks * Ext4.blockSize) }
        self.free = (0..<bufferCount).map { _ in DispatchSemaphore(value: 1) }
        free[0].wait()
    }

    /// A zeroed region for blocks `block..<block+n` (n ≤ capacity).
    func blocks(at block: UInt64, count n: Int) throws -> FieldWriter {
        precondition(n <= capacity)
        if count > 0 && (start + UInt64(count) != block || count + n > capacity) { try flush() }
        if count == 0 { start = block }
        let region = FieldWriter(buffers[current].bytes).slice(at: count * Ext4.blockSize, count: n * Ext4.blockSize)
        count += n
        return region
    }

    /// Queues the staged blocks for writing and moves on to the next free buffer.
    func flush() throws {
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

    /// Queues a file range copy (after everything staged so far).
    func copy(_ range: SourceRange, at block: UInt64) throws {
        try flush()
        let job = UncheckedBox((sink, range))
        let offset = base + (block << Ext4.blockShift)
        writer.submit { failed in if !failed { try job.value.0.copy(job.value.1, at: offset) } }
    }

    /// How many descriptors may wait for their copies to be written before the emitter
    /// waits: bounds the files open at once whatever the tree (a login's limit is 1024).
    static let pendingCloses = 128
    private let closeSlots = DispatchSemaphore(value: Stager.pendingCloses)

    /// Queues closing a descriptor once the writes before it are done.
    func close(_ fd: FileDescriptor) {
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
        try writer.drain()
    }

    deinit {
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

/// Emits a planned ``Layout`` in ascending block order.
struct Emitter {
    let layout: Layout
    let stager: Stager
    /// Files at most this large are read into the staging buffer; larger ones are handed to
    /// the sink as ranges (copy_file_range for raw outputs).
    static let smallFileLimit: UInt64 = 1 << 20

    /// The file being copied; `queued` once a copy from it waits on the writer thread.
    private var openFile: (inode: UInt32, fd: FileDescriptor, path: String, queued: Bool)?
    private var directory: (inode: UInt32, builder: DirectoryBuilder)?
    private var opener: FileOpener?

    init(layout: Layout, sink: ImageSink, base: UInt64) {
        self.layout = layout
        self.stager = Stager(sink: sink, base: base)
    }

    enum Event {
        case superblock(UInt64)
        case descriptors(UInt64)
        case reservedDescriptors(UInt64)
        case blockBitmap(UInt64)
        case inodeBitmap(UInt64)
        case inodeTable(UInt64)
        case piece(Piece)
    }

    mutating func run() throws {
        let opener = FileOpener(layout: layout)
        self.opener = opener
        defer {
            opener.stop()
            closeFile()
        }
        let g = layout.geometry
        var events: [(UInt64, Event)] = []
        for group in 0..<g.groupCount {
            let start = g.groupStart(group)
            if Geometry.hasSuperblock(group) {
                events.append((start, .superblock(group)))
                events.append((start + 1, .descriptors(group)))
                if group == 0 && g.reservedGDTBlocks > 0 && !g.backupGroups.isEmpty {
                    events.append((start + 1 + g.descriptorBlocks, .reservedDescriptors(group)))
                }
            }
            // Each at its own block: a flex group's tables need not be contiguous (one may
            // sit past a backup superblock, after data placed in the gap before it).
            let (blockBitmap, inodeBitmap, inodeTable) = g.metadata(of: group)
            events.append((blockBitmap, .blockBitmap(group)))
            events.append((inodeBitmap, .inodeBitmap(group)))
            if layout.usedInodes(inGroup: group) > 0 { events.append((inodeTable, .inodeTable(group))) }
        }
        events.sort { $0.0 < $1.0 }
        let table = layout.descriptorTable()
        let freeBlocks = layout.freeBlocks
        var e = 0
        for piece in layout.pieces {
            while e < events.count && events[e].0 < piece.start {
                try emit(events[e].1, table: table, freeBlocks: freeBlocks)
                e += 1
            }
            try emit(.piece(piece), table: table, freeBlocks: freeBlocks)
        }
        while e < events.count {
            try emit(events[e].1, table: table, freeBlocks: freeBlocks)
            e += 1
        }
        try stager.finish()
    }

    private mutating func emit(_ event: Event, table: [UInt8], freeBlocks: UInt64) throws {
        let g = layout.geometry
        switch event {
        case .superblock(let group):
            let block = try stager.blocks(at: g.groupStart(group), count: 1)
            layout.writeSuperblock(
                group: group, freeBlocks: freeBlocks, into: block.slice(at: group == 0 ? 1024 : 0, count: 1024))
        case .descriptors(let group):
            // In pieces of at most the stager's capacity: over 8 TiB the table is longer.
            var done = 0
            while done < Int(g.descriptorBlocks) {
                let n = min(Int(g.descriptorBlocks) - done, stager.capacity)
                let blocks = try stager.blocks(at: g.groupStart(group) + 1 + UInt64(done), count: n)
                blocks.bytes(table[(done * Ext4.blockSize)..<((done + n) * Ext4.blockSize)], at: 0)
                done += n
            }
        case .reservedDescriptors:
            // Each primary reserved GDT block lists where its backups live (resize inode).
            let backups = g.backupGroups
            for j in 0..<g.reservedGDTBlocks {
                let primary = 1 + g.descriptorBlocks + j
                let block = try stager.blocks(at: primary, count: 1)
                for (k, grp) in backups.enumerated() {
                    block.le32(UInt32(truncatingIfNeeded: primary + grp * Ext4.blocksPerGroup), at: 4 * k)
                }
            }
        case .blockBitmap(let group):
            layout.writeBlockBitmap(group, into: try stager.blocks(at: g.metadata(of: group).blockBitmap, count: 1))
        case .inodeBitmap(let group):
            layout.writeInodeBitmap(group, into: try stager.blocks(at: g.metadata(of: group).inodeBitmap, count: 1))
        case .inodeTable(let group):
            try emitInodeTable(group)
        case .piece(let piece):
            try emitPiece(piece)
        }
    }

    /// Group `group`'s inode table, up to its last inode in use (the rest stays zero).
    private mutating func emitInodeTable(_ group: UInt64) throws {
        let g = layout.geometry
        let used = layout.usedInodes(inGroup: group)
        let tableStart = g.metadata(of: group).inodeTable
        let firstInode = group * g.inodesPerGroup + 1
        let blocks = Int(used.dividedRoundingUp(by: UInt64(Ext4.inodesPerBlock)))
        var b = 0
        while b < blocks {
            let n = min(blocks - b, stager.capacity)
            let region = try stager.blocks(at: tableStart + UInt64(b), count: n)
            for k in 0..<(n * Ext4.inodesPerBlock) {
                let number = firstInode + UInt64(b * Ext4.inodesPerBlock + k)
                if number > UInt64(layout.usedInodes) { break }
                layout.encodeInode(UInt32(number), into: region.slice(at: k * Ext4.inodeSize, count: Ext4.inodeSize))
            }
            b += n
        }
    }

    private mutating func emitPiece(_ piece: Piece) throws {
        switch piece.kind {
        case .fileData:
            try emitFileData(piece)
        case .directory:
            for k in 0..<Int(piece.count) {
                let block = try stager.blocks(at: piece.start + UInt64(k), count: 1)
                renderDirectoryBlock(inode: piece.inode, logical: Int(piece.logical) + k, into: block)
            }
        case .extentTree:
            let plan = layout.inode(piece.inode)
            for k in 0..<Int(piece.count) {
                let block = try stager.blocks(at: piece.start + UInt64(k), count: 1)
                ExtentTree.writeBlock(
                    plan, blockIndex: Int(piece.logical) + k, into: block, inodeSeed: layout.inodeSeed(piece.inode))
            }
        case .xattrBlock:
            let shared = layout.sharedXattrBlocks[Int(piece.logical)]
            let block = try stager.blocks(at: piece.start, count: 1)
            block.bytes(shared.bytes, at: 0)
            XattrPlacement.finishBlock(block, refcount: shared.refcount, blockNumber: piece.start, seed: layout.checksumSeed)
        case .symlink:
            let entry = layout.tree.entries[Int(layout.inode(piece.inode).entry)]
            let block = try stager.blocks(at: piece.start, count: 1)
            block.bytes(entry.symlinkTarget ?? [], at: 0)
        case .journal:
            if piece.logical == 0 {
                Journal.writeSuperblock(
                    into: try stager.blocks(at: piece.start, count: 1), blocks: layout.journalBlocks, uuid: layout.uuid)
            }
        case .resizeIndirect:
            let g = layout.geometry
            let block = try stager.blocks(at: piece.start, count: 1)
            for j in 0..<g.reservedGDTBlocks {
                let slot = Int((g.descriptorBlocks + j) % UInt64(Ext4.blockSize / 4))
                block.le32(UInt32(1 + g.descriptorBlocks + j), at: 4 * slot)
            }
        }
    }

    private mutating func renderDirectoryBlock(inode: UInt32, logical: Int, into block: FieldWriter) {
        let seed = layout.inodeSeed(inode)
        if inode == Ext4.InodeNumber.lostAndFound && layout.makesLostAndFound {
            if logical == 0 {
                DirectoryBuilder(selfInode: inode, parentInode: Ext4.InodeNumber.root, entries: [], hash: layout.hasher)
                    .render(block: 0, into: block, seed: seed)
            } else {
                DirectoryBuilder.renderEmpty(block, seed: seed)
            }
            return
        }
        if directory?.inode != inode {
            directory = (inode, layout.directoryBuilder(Int(layout.inode(inode).entry)))
        }
        directory?.builder.render(block: logical, into: block, seed: seed)
    }

    private mutating func closeFile() {
        // A file read into the staging buffer is done with: closed now. One the writer thread
        // still copies from is closed after that copy, and at most `Stager.pendingCloses`
        // wait so (with the opener's window, far below a 1024 open-files limit).
        if let f = openFile {
            if f.queued { stager.close(f.fd) } else { try? f.fd.close() }
        }
        openFile = nil
    }

    private mutating func emitFileData(_ piece: Piece) throws {
        let plan = layout.inode(piece.inode)
        let entryIndex = Int(plan.entry)
        if let position = layout.tree.memberPosition(of: entryIndex) {
            return try emitMemberData(piece, size: plan.size, position: position)
        }
        if openFile?.inode != piece.inode {
            closeFile()
            let path = layout.tree.sourcePath(of: entryIndex)
            let opened =
                opener?.take(inode: piece.inode)
                ?? Result { () throws(IOError) in try layout.tree.openData(of: entryIndex) }
            let fd = try opened.get()
            openFile = (piece.inode, fd, path, false)
            let actual = try withPath(path, "stat") { try Syscalls.size(of: fd) }
            if actual > plan.size { throw IOError.sourceGrew(path: path, expected: plan.size, actual: actual) }
            if actual < plan.size { throw IOError.sourceShrank(path: path, expected: plan.size, actual: actual) }
        }
        guard let file = openFile else { return }
        let offset = UInt64(piece.logical) << Ext4.blockShift
        let length = min(UInt64(piece.count) << Ext4.blockShift, plan.size - offset)
        if length <= Emitter.smallFileLimit {
            let region = try stager.blocks(at: piece.start, count: Int(piece.count))
            var done = 0
            while done < Int(length) {
                let target = UnsafeMutableRawBufferPointer(rebasing: region.bytes[done..<Int(length)])
                let n = try withPath(file.path, "read") {
                    try file.fd.read(fromAbsoluteOffset: Int64(offset) + Int64(done), into: target)
                }
                if n == 0 { throw IOError.sourceShrank(path: file.path, expected: plan.size, actual: offset + UInt64(done)) }
                done += n
            }
        } else {
            let range = SourceRange(descriptor: file.fd, path: file.path, offset: offset, length: length)
            openFile?.queued = true
            try stager.copy(range, at: piece.start)
        }
    }

    /// A piece of a file kept in an image layer: read from the layer's decompressed stream
    /// straight into the staging buffers (no descriptor to copy from), at most a buffer's
    /// worth at a time. The layout orders these files by layer and member, so each call
    /// continues where the previous one stopped.
    private mutating func emitMemberData(_ piece: Piece, size: UInt64, position: (layer: Int32, member: Int32)) throws {
        guard let source = layout.tree.memberData else {
            throw IOError.unreadable(
                path: layout.tree.path(of: Int(layout.inode(piece.inode).entry)), reason: "no layer to read from")
        }
        let path = layout.tree.path(of: Int(layout.inode(piece.inode).entry))
        var block = UInt64(piece.logical)
        let end = UInt64(piece.logical) + UInt64(piece.count)
        while block < end {
            let n = min(end - block, UInt64(stager.capacity))
            let region = try stager.blocks(at: piece.start + (block - UInt64(piece.logical)), count: Int(n))
            let offset = block << Ext4.blockShift
            let length = Int(min(n << Ext4.blockShift, size - min(size, offset)))
            var done = 0
            while done < length {
                let target = UnsafeMutableRawBufferPointer(rebasing: region.bytes[done..<length])
                let got = try source.read(
                    layer: position.layer, member: position.member, offset: offset + UInt64(done), into: target, path: path)
                if got == 0 { throw IOError.sourceShrank(path: path, expected: size, actual: offset + UInt64(done)) }
                done += got
            }
            block += n
        }
    }
}
