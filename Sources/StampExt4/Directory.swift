import StampBytes

/// One name in a directory.
struct DirectoryEntry {
    var name: [UInt8]
    var inode: UInt32
    var fileType: UInt8
}

/// Builds a directory's blocks: one linear block when everything fits, otherwise an
/// htree (hash-indexed) directory, as e2fsck -D would lay it out.
///
/// ```
///  linear (1 block)                      htree, one level            htree, two levels
/// ┌───┬────┬─────┬─────┬──────┬────┐    block 0: dx_root ──► leaves   block 0: dx_root
/// │ . │ .. │ a   │ b … │ last │tail│    blocks 1…: leaves             blocks 1…n: dx nodes
/// └───┴────┴─────┴─────┴──────┴────┘    (sorted by name hash)         then leaves
/// ```
///
/// Every leaf ends with a 12-byte checksum tail (`ext4_dir_entry_tail`); dx blocks end
/// with an 8-byte `dx_tail` after `limit` entries.
struct DirectoryBuilder {
    static let tailSize = 12
    static let leafCapacity = Ext4.blockSize - tailSize
    static let rootLimit = (Ext4.blockSize - 32) / 8 - 1  // 507: less one entry for dx_tail
    static let nodeLimit = (Ext4.blockSize - 8) / 8 - 1  // 510

    /// Directory entry length for a name of `n` bytes.
    @inline(__always) static func recordLength(_ n: Int) -> Int { (8 + n + 3) & ~3 }

    let selfInode: UInt32
    let parentInode: UInt32
    let entries: [DirectoryEntry]
    /// Entries in hash order with their hashes (htree only).
    private(set) var sorted: [(hash: UInt32, index: Int)] = []
    /// Index into `sorted` where each leaf starts (htree only).
    private(set) var leafStarts: [Int] = []
    private(set) var isIndexed = false
    private(set) var indexNodes = 0

    init(selfInode: UInt32, parentInode: UInt32, entries: [DirectoryEntry], hash: DirectoryHash) {
        self.selfInode = selfInode
        self.parentInode = parentInode
        self.entries = entries
        var linear = 24
        for e in entries { linear += DirectoryBuilder.recordLength(e.name.count) }
        guard linear > DirectoryBuilder.leafCapacity else { return }
        isIndexed = true
        sorted = entries.enumerated().map { (hash.hash($0.element.name), $0.offset) }
        sorted.sort { a, b in
            a.hash != b.hash ? a.hash < b.hash : entries[a.index].name.lexicographicallyPrecedes(entries[b.index].name)
        }
        var used = DirectoryBuilder.leafCapacity
        for (position, item) in sorted.enumerated() {
            let length = DirectoryBuilder.recordLength(entries[item.index].name.count)
            if used + length > DirectoryBuilder.leafCapacity {
                leafStarts.append(position)
                used = 0
            }
            used += length
        }
        if leafStarts.count > DirectoryBuilder.rootLimit {
            indexNodes = leafStarts.count.dividedRoundingUp(by: DirectoryBuilder.nodeLimit)
        }
    }

    /// True when the directory needs more index blocks than two levels provide.
    var tooLarge: Bool { indexNodes > DirectoryBuilder.rootLimit }

    /// Number of blocks the directory occupies.
    var blockCount: Int { isIndexed ? 1 + indexNodes + leafStarts.count : 1 }

    /// Writes block `n` (logical) into `block` (4096 zeroed bytes) with checksums.
    /// - Parameter seed: the directory inode's checksum seed (fs seed + inode + generation).
    func render(block n: Int, into block: FieldWriter, seed: UInt32) {
        if !isIndexed {
            var offset = writeDots(block, dotDotLength: 12)
            for (i, e) in entries.enumerated() {
                let last = i == entries.count - 1
                offset = writeEntry(block, at: offset, e, fill: last)
            }
            if entries.isEmpty {  // ".." takes the rest of the block
                block.le16(UInt16(DirectoryBuilder.leafCapacity - 12), at: 16)
            }
            writeTail(block, seed: seed)
            return
        }
        if n == 0 {
            renderRoot(block, seed: seed)
        } else if n <= indexNodes {
            renderNode(n - 1, block, seed: seed)
        } else {
            renderLeaf(n - 1 - indexNodes, block, seed: seed)
        }
    }

    // MARK: - pieces

    private func writeDots(_ block: FieldWriter, dotDotLength: Int) -> Int {
        block.le32(selfInode, at: 0)
        block.le16(12, at: 4)
        block.u8(1, at: 6)
        block.u8(Ext4.FileType.directory, at: 7)
        block.u8(0x2E, at: 8)
        block.le32(parentInode, at: 12)
        block.le16(UInt16(dotDotLength), at: 16)
        block.u8(2, at: 18)
        block.u8(Ext4.FileType.directory, at: 19)
        block.u8(0x2E, at: 20)
        block.u8(0x2E, at: 21)
        return 24
    }

    private func writeEntry(_ block: FieldWriter, at offset: Int, _ e: DirectoryEntry, fill: Bool) -> Int {
        let length = fill ? DirectoryBuilder.leafCapacity - offset : DirectoryBuilder.recordLength(e.name.count)
        block.le32(e.inode, at: offset)
        block.le16(UInt16(length), at: offset + 4)
        block.u8(UInt8(e.name.count), at: offset + 6)
        block.u8(e.fileType, at: offset + 7)
        block.bytes(e.name, at: offset + 8)
        return offset + length
    }

    private func writeTail(_ block: FieldWriter, seed: UInt32) {
        let t = DirectoryBuilder.leafCapacity
        block.le32(0, at: t)
        block.le16(12, at: t + 4)
        block.u8(0, at: t + 6)
        block.u8(0xDE, at: t + 7)
        let csum = crc32c(seed, UnsafeRawBufferPointer(rebasing: block.bytes[0..<t]))
        block.le32(csum, at: t + 8)
    }

    /// The hash recorded in the index for leaf `i`, with bit 0 set when the leaf continues
    /// a run of equal hashes from the previous leaf.
    private func leafHash(_ i: Int) -> UInt32 {
        let start = leafStarts[i]
        let h = sorted[start].hash
        if i > 0 && sorted[start - 1].hash == h { return h | 1 }
        return h
    }

    private func renderLeaf(_ i: Int, _ block: FieldWriter, seed: UInt32) {
        let start = leafStarts[i]
        let end = i + 1 < leafStarts.count ? leafStarts[i + 1] : sorted.count
        var offset = 0
        for p in start..<end {
            offset = writeEntry(block, at: offset, entries[sorted[p].index], fill: p == end - 1)
        }
        writeTail(block, seed: seed)
    }

    private func renderRoot(_ block: FieldWriter, seed: UInt32) {
        _ = writeDots(block, dotDotLength: Ext4.blockSize - 12)
        block.le32(0, at: 24)  // reserved_zero
        block.u8(1, at: 28)  // hash_version: half_md4
        block.u8(8, at: 29)  // info_length
        block.u8(indexNodes > 0 ? 1 : 0, at: 30)  // indirect_levels
        if indexNodes > 0 {
            let targets = (0..<indexNodes).map { (hash: leafHash($0 * DirectoryBuilder.nodeLimit), block: UInt32(1 + $0)) }
            writeIndex(block, at: 32, limit: DirectoryBuilder.rootLimit, targets, seed: seed)
        } else {
            let targets = (0..<leafStarts.count).map { (hash: leafHash($0), block: UInt32(1 + $0)) }
            writeIndex(block, at: 32, limit: DirectoryBuilder.rootLimit, targets, seed: seed)
        }
    }

    private func renderNode(_ k: Int, _ block: FieldWriter, seed: UInt32) {
        block.le32(0, at: 0)
        block.le16(UInt16(Ext4.blockSize), at: 4)
        let first = k * DirectoryBuilder.nodeLimit
        let last = min(first + DirectoryBuilder.nodeLimit, leafStarts.count)
        let targets = (first..<last).map { (hash: leafHash($0), block: UInt32(1 + indexNodes + $0)) }
        writeIndex(block, at: 8, limit: DirectoryBuilder.nodeLimit, targets, seed: seed)
    }

    /// `dx_countlimit` + `dx_entry`s at `offset`, then the `dx_tail` checksum.
    private func writeIndex(
        _ block: FieldWriter, at offset: Int, limit: Int, _ targets: [(hash: UInt32, block: UInt32)], seed: UInt32
    ) {
        block.le16(UInt16(limit), at: offset)
        block.le16(UInt16(targets.count), at: offset + 2)
        for (i, t) in targets.enumerated() {
            if i > 0 { block.le32(t.hash, at: offset + 8 * i) }
            block.le32(t.block, at: offset + 8 * i + 4)
        }
        let tail = offset + limit * 8
        var csum = crc32c(seed, UnsafeRawBufferPointer(rebasing: block.bytes[0..<(offset + targets.count * 8)]))
        csum = crc32c(csum, le32: 0)  // dt_reserved
        csum = crc32c(csum, le32: 0)  // dt_checksum itself, as zero
        block.le32(0, at: tail)
        block.le32(csum, at: tail + 4)
    }

    /// An empty leaf block (used for lost+found's preallocated blocks).
    static func renderEmpty(_ block: FieldWriter, seed: UInt32) {
        block.le32(0, at: 0)
        block.le16(UInt16(leafCapacity), at: 4)
        let t = leafCapacity
        block.le16(12, at: t + 4)
        block.u8(0xDE, at: t + 7)
        block.le32(crc32c(seed, UnsafeRawBufferPointer(rebasing: block.bytes[0..<t])), at: t + 8)
    }
}
