import StampBytes
import StampIO
import StampTree
import SystemPackage
import Foundation

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
            // The file's bytes, then zeros to the end of its last block (lending, the region
            // holds whatever the sink's stage held before).
            let region = try stager.dataBlocks(at: piece.start, count: Int(piece.count))
            var done = 0
            while done < Int(length) {
                let target = UnsafeMutableRawBufferPointer(rebasing: region[done..<Int(length)])
                let n = try withPath(file.path, "read") {
                    try file.fd.read(fromAbsoluteOffset: Int64(offset) + Int64(done), into: target)
                }
                if n == 0 { throw IOError.sourceShrank(path: file.path, expected: plan.size, actual: offset + UInt64(done)) }
                done += n
            }
            UnsafeMutableRawBufferPointer(rebasing: region[Int(length)...]).initializeMemory(as: UInt8.self, repeating: 0)
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
            let region = try stager.blocks(at: piece.start + (block - UInt64(piece.logical)), count: Int(n)).bytes
            let offset = block << Ext4.blockShift
            let length = Int(min(n << Ext4.blockShift, size - min(size, offset)))
            var done = 0
            while done < length {
                let target = UnsafeMutableRawBufferPointer(rebasing: region[done..<length])
                let got = try source.read(
                    layer: position.layer, member: position.member, offset: offset + UInt64(done), into: target, path: path)
                if got == 0 { throw IOError.sourceShrank(path: path, expected: size, actual: offset + UInt64(done)) }
                done += got
            }
            block += n
        }
    }
}
