import StampBytes

/// The DOS partition table (MBR), with logical partitions chained through EBRs.
///
/// ```
///  sector 0 (MBR)                                   each EBR (one sector, 1 MiB before its logical)
///  ┌──────────────────────────────┐ 0               ┌──────────────────────────────┐
///  │ boot code (GRUB boot.img)    │                 │ unused (zeros)               │
///  ├──────────────────────────────┤ 440             │                              │
///  │ disk signature (le32), 0000  │                 │                              │
///  ├──────────────────────────────┤ 446             ├──────────────────────────────┤ 446
///  │ entry 1 ┐ 16 bytes each:     │                 │ entry 1: this logical,       │
///  │ entry 2 │  status, CHS first,│                 │   start relative to the EBR  │
///  │ entry 3 │  type, CHS last,   │                 │ entry 2: next EBR (type 05), │
///  │ entry 4 ┘  LBA first, count  │                 │   start relative to extended │
///  ├──────────────────────────────┤ 510             ├──────────────────────────────┤ 510
///  │ 55 AA                        │                 │ 55 AA                        │
///  └──────────────────────────────┘ 512             └──────────────────────────────┘
/// ```
///
/// The layout follows diskimage-builder's `mbr.py`: primaries first; the first logical opens an
/// extended partition (type `0F`) spanning to the end of the disk; every logical has its EBR
/// one alignment unit before its data. CHS fields are what sfdisk writes: 255 heads, 63 sectors
/// per track, `FE FF FF` beyond cylinder 1023.
public enum MBR {
    /// Offset of the disk signature (`UniqueMBRDiskSignature`).
    public static let signatureOffset = 440
    /// Offset of the first partition entry.
    public static let entriesOffset = 446
    /// Bytes 0..<440 hold boot code; the rest of the sector belongs to the table.
    public static let bootCodeSize = 440
    /// Extended partition, LBA-addressed (the MBR entry DIB and sfdisk write).
    public static let extendedLBAType: UInt8 = 0x0F
    /// Extended partition, CHS-addressed (the EBR link entries).
    public static let extendedType: UInt8 = 0x05
    /// GPT protective type.
    public static let protectiveType: UInt8 = 0xEE

    /// Encodes a CHS address the way sfdisk does (255 heads, 63 sectors/track).
    ///
    /// Returns the three on-disk bytes: head, sector | (cylinder bits 8–9) << 6, cylinder bits 0–7.
    /// Addresses past cylinder 1023 become `FE FF FF` (1023/254/63).
    public static func chs(_ lba: UInt64) -> [UInt8] {
        let heads: UInt64 = 255
        let sectorsPerTrack: UInt64 = 63
        let cylinder = lba / (heads * sectorsPerTrack)
        if cylinder > 1023 { return [0xFE, 0xFF, 0xFF] }
        let head = (lba / sectorsPerTrack) % heads
        let sector = lba % sectorsPerTrack + 1
        return [UInt8(head), UInt8(sector | ((cylinder >> 8) & 3) << 6), UInt8(cylinder & 0xFF)]
    }

    /// One 16-byte partition entry.
    public struct Entry: Sendable, Equatable {
        public static let size = 16
        /// `0x80` active / bootable, `0x00` otherwise.
        public var status: UInt8
        /// System ID.
        public var type: UInt8
        /// First sector (absolute or relative, depending on where the entry lives).
        public var firstLBA: UInt32
        /// Number of sectors.
        public var sectorCount: UInt32
        /// The absolute first sector, used for the CHS fields (EBR entries store relative LBAs
        /// but absolute CHS).
        public var chsFirst: UInt64
        /// The absolute last sector, for the CHS end field.
        public var chsLast: UInt64

        public init(status: UInt8, type: UInt8, firstLBA: UInt32, sectorCount: UInt32, chsFirst: UInt64, chsLast: UInt64) {
            self.status = status
            self.type = type
            self.firstLBA = firstLBA
            self.sectorCount = sectorCount
            self.chsFirst = chsFirst
            self.chsLast = chsLast
        }

        /// Writes the entry's 16 bytes at `offset`.
        public func encode(into w: FieldWriter, at offset: Int) {
            w.u8(status, at: offset + 0)
            w.bytes(MBR.chs(chsFirst), at: offset + 1)
            w.u8(type, at: offset + 4)
            w.bytes(MBR.chs(chsLast), at: offset + 5)
            w.le32(firstLBA, at: offset + 8)
            w.le32(sectorCount, at: offset + 12)
        }
    }

    /// An empty 512-byte sector with the `55 AA` signature and up to four entries.
    static func sector(signature: UInt32?, entries: [Entry]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        bytes.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            if let signature { w.le32(signature, at: signatureOffset) }
            for (i, e) in entries.enumerated() { e.encode(into: w, at: entriesOffset + Entry.size * i) }
            w.u8(0x55, at: 510)
            w.u8(0xAA, at: 511)
        }
        return bytes
    }

    /// The MBR and every EBR of an MBR layout, in ascending order.
    ///
    /// - Throws: ``DiskLayout.Error`` if a partition cannot be addressed with 32-bit LBAs or the
    ///   primaries and logicals are out of order.
    public static func blocks(for layout: DiskLayout) throws -> [TableBlock] {
        precondition(layout.scheme == .mbr, "MBR.blocks needs an mbr layout")
        let primaries = layout.partitions.filter { !$0.isLogical }
        let logicals = layout.partitions.filter(\.isLogical)
        for p in layout.partitions where p.start + p.sectors > 0xFFFF_FFFF {
            throw DiskLayout.Error.beyondMBRLimit(partition: p.name)
        }
        if primaries.count + (logicals.isEmpty ? 0 : 1) > 4 {
            throw DiskLayout.Error.tooManyPrimaries(partition: primaries.last?.name ?? "extended")
        }
        var entries = primaries.map { p in
            Entry(
                status: p.bootable ? 0x80 : 0, type: p.type.mbrCode, firstLBA: UInt32(p.start),
                sectorCount: UInt32(p.sectors), chsFirst: p.start, chsLast: p.lastSector)
        }
        var blocks: [TableBlock] = []
        if let first = logicals.first {
            let extendedStart = first.start - layout.alignment
            let extendedSectors = layout.sectorCount - extendedStart
            guard extendedStart + extendedSectors <= 0xFFFF_FFFF else {
                throw DiskLayout.Error.beyondMBRLimit(partition: "extended")
            }
            entries.append(
                Entry(
                    status: 0, type: extendedLBAType, firstLBA: UInt32(extendedStart),
                    sectorCount: UInt32(extendedSectors), chsFirst: extendedStart,
                    chsLast: extendedStart + extendedSectors - 1))
            for (i, p) in logicals.enumerated() {
                let ebr = p.start - layout.alignment
                var chain = [
                    Entry(
                        status: p.bootable ? 0x80 : 0, type: p.type.mbrCode, firstLBA: UInt32(p.start - ebr),
                        sectorCount: UInt32(p.sectors), chsFirst: p.start, chsLast: p.lastSector)
                ]
                if i + 1 < logicals.count {
                    let next = logicals[i + 1]
                    let nextEBR = next.start - layout.alignment
                    // DIB: the link covers the next EBR up to its partition's aligned end.
                    let end = (next.start + next.sectors).roundedUp(toMultipleOf: layout.alignment)
                    chain.append(
                        Entry(
                            status: 0, type: extendedType, firstLBA: UInt32(nextEBR - extendedStart),
                            sectorCount: UInt32(end - nextEBR), chsFirst: nextEBR, chsLast: end - 1))
                }
                blocks.append(TableBlock(offset: ebr * DiskLayout.sectorSize, bytes: sector(signature: nil, entries: chain)))
            }
        }
        blocks.insert(TableBlock(offset: 0, bytes: sector(signature: layout.mbrSignature, entries: entries)), at: 0)
        return blocks
    }
}
