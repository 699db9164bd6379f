/// Hands out data blocks in ascending order, skipping the metadata regions.
///
/// Allocation is strictly sequential: the image is emitted in block order, and files laid
/// out in the order they are visited give the emitter one forward sweep. A request may come
/// back as several ranges when it straddles a group's superblock backup or a flex group's
/// metadata; each range becomes its own extent.
struct BlockAllocator {
    private let reserved: [Range<UInt64>]
    private var nextReserved = 0
    /// The next free block.
    private(set) var cursor: UInt64
    let limit: UInt64
    /// Blocks handed out so far.
    private(set) var allocated: UInt64 = 0

    init(reserved: [Range<UInt64>], limit: UInt64) {
        self.reserved = reserved
        self.limit = limit
        self.cursor = 0
        skipReserved()
    }

    private mutating func skipReserved() {
        while nextReserved < reserved.count {
            let r = reserved[nextReserved]
            if cursor >= r.upperBound {
                nextReserved += 1
            } else if cursor >= r.lowerBound {
                cursor = r.upperBound
                nextReserved += 1
            } else {
                break
            }
        }
    }

    /// Allocates `count` blocks; past the limit they are still counted so that the planner
    /// can report how much space the tree needs.
    mutating func allocate(_ count: UInt64) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        var remaining = count
        while remaining > 0 {
            skipReserved()
            let stop = nextReserved < reserved.count ? reserved[nextReserved].lowerBound : UInt64.max
            let n = min(remaining, stop - cursor)
            if let last = ranges.last, last.upperBound == cursor {
                ranges[ranges.count - 1] = last.lowerBound..<(cursor + n)
            } else {
                ranges.append(cursor..<(cursor + n))
            }
            cursor += n
            remaining -= n
        }
        allocated += count
        return ranges
    }

    /// Allocates one block.
    mutating func allocateOne() -> UInt64 { allocate(1)[0].lowerBound }
}
