import StampBytes

/// Extent trees: up to 4 extents live in the inode's `i_block`; more need tree blocks of
/// 340 entries each, as many levels as it takes.
///
/// ```
///  i_block (60 bytes)            index blocks (depth ≥ 2)      leaf blocks (depth 1 from root)
/// ┌────────┬──────────────┐     ┌────────┬─────────────┬────┐ ┌────────┬──────────────┬────┐
/// │ header │ ≤4 entries ──┼────►│ header │ ≤340 index ─┼csum│►│ header │ ≤340 extents │csum│
/// └────────┴──────────────┘     └────────┴─────────────┴────┘ └────────┴──────────────┴────┘
/// ```
/// Headers are `ext4_extent_header` {magic 0xF30A, entries, max, depth, generation}; a leaf
/// entry is {logical u32, length u16, start hi u16, start lo u32}; an index entry is
/// {logical u32, leaf lo u32, leaf hi u16, unused u16}.
enum ExtentTree {
    static let perBlock = Ext4.extentsPerBlock  // 340
    static let inInode = 4

    /// Depth and number of tree blocks for `extentCount` extents.
    static func shape(extentCount n: Int) -> (depth: Int, blocks: Int) {
        guard n > inInode else { return (0, 0) }
        var level = n.dividedRoundingUp(by: perBlock)
        var depth = 1
        var blocks = level
        while level > inInode {
            level = level.dividedRoundingUp(by: perBlock)
            blocks += level
            depth += 1
        }
        return (depth, blocks)
    }

    /// Block counts per level, leaves first.
    static func levels(extentCount n: Int, depth: Int) -> [Int] {
        var out: [Int] = []
        var level = n
        for _ in 0..<depth {
            level = level.dividedRoundingUp(by: perBlock)
            out.append(level)
        }
        return out
    }

    static func writeHeader(_ w: FieldWriter, at offset: Int, entries: Int, max: Int, depth: Int) {
        w.le16(0xF30A, at: offset)
        w.le16(UInt16(entries), at: offset + 2)
        w.le16(UInt16(max), at: offset + 4)
        w.le16(UInt16(depth), at: offset + 6)
        w.le32(0, at: offset + 8)
    }

    static func writeLeafEntry(_ w: FieldWriter, at offset: Int, _ e: Extent) {
        w.le32(e.logical, at: offset)
        w.le16(UInt16(e.length), at: offset + 4)
        w.le16(UInt16(truncatingIfNeeded: e.physical >> 32), at: offset + 6)
        w.le32(UInt32(truncatingIfNeeded: e.physical), at: offset + 8)
    }

    static func writeIndexEntry(_ w: FieldWriter, at offset: Int, logical: UInt32, child: UInt64) {
        w.le32(logical, at: offset)
        w.le32(UInt32(truncatingIfNeeded: child), at: offset + 4)
        w.le16(UInt16(truncatingIfNeeded: child >> 32), at: offset + 8)
        w.le16(0, at: offset + 10)
    }

    /// The first logical block covered by block `index` of tree level `level` (0 = leaves).
    static func firstLogical(_ plan: InodePlan, level: Int, index: Int) -> UInt32 {
        var span = perBlock
        for _ in 0..<level { span *= perBlock }
        return plan.extents[index * span].logical
    }

    /// Writes the 60-byte `i_block` root for an extent-mapped inode.
    static func writeRoot(_ plan: InodePlan, into w: FieldWriter, at offset: Int) {
        let depth = Int(plan.depth)
        if depth == 0 {
            writeHeader(w, at: offset, entries: plan.extents.count, max: inInode, depth: 0)
            for (i, e) in plan.extents.enumerated() { writeLeafEntry(w, at: offset + 12 + 12 * i, e) }
            return
        }
        let counts = levels(extentCount: plan.extents.count, depth: depth)
        let top = counts[depth - 1]
        let topStart = counts.dropLast().reduce(0, +)
        writeHeader(w, at: offset, entries: top, max: inInode, depth: depth)
        for i in 0..<top {
            writeIndexEntry(
                w, at: offset + 12 + 12 * i, logical: firstLogical(plan, level: depth - 1, index: i),
                child: plan.treeBlocks[topStart + i])
        }
    }

    /// Writes tree block `blockIndex` (index into `plan.treeBlocks`) with its checksum.
    static func writeBlock(_ plan: InodePlan, blockIndex: Int, into w: FieldWriter, inodeSeed: UInt32) {
        let counts = levels(extentCount: plan.extents.count, depth: Int(plan.depth))
        var level = 0
        var i = blockIndex
        while i >= counts[level] {
            i -= counts[level]
            level += 1
        }
        if level == 0 {
            let first = i * perBlock
            let last = min(first + perBlock, plan.extents.count)
            writeHeader(w, at: 0, entries: last - first, max: perBlock, depth: 0)
            for k in first..<last { writeLeafEntry(w, at: 12 + 12 * (k - first), plan.extents[k]) }
        } else {
            let childStart = counts[0..<(level - 1)].reduce(0, +)
            let first = i * perBlock
            let last = min(first + perBlock, counts[level - 1])
            writeHeader(w, at: 0, entries: last - first, max: perBlock, depth: level)
            for k in first..<last {
                writeIndexEntry(
                    w, at: 12 + 12 * (k - first), logical: firstLogical(plan, level: level - 1, index: k),
                    child: plan.treeBlocks[childStart + k])
            }
        }
        let tail = 12 + 12 * perBlock
        w.le32(crc32c(inodeSeed, UnsafeRawBufferPointer(rebasing: w.bytes[0..<tail])), at: tail)
    }
}
