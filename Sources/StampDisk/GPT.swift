import StampBytes

/// The GUID partition table: protective MBR, primary header and entry array at the front,
/// backup entry array and header at the very end.
///
/// ```
///  LBA 0        protective MBR: one entry, type EE, LBA 1 .. min(N-1, 2^32-1), 55 AA
///  LBA 1        primary header ─────────┐  "EFI PART", rev 1.0, size 92, HeaderCRC32,
///  LBA 2..33    entry array (128 × 128) │  MyLBA=1, AlternateLBA=N-1, first/last usable
///  LBA 34..2047 (alignment gap)         │  34 / N-34, DiskGUID, entries at 2, array CRC32
///  LBA 2048..   partitions              │
///  LBA N-33..N-2 backup entry array     │  (byte-identical to the primary array)
///  LBA N-1      backup header ──────────┘  MyLBA=N-1, AlternateLBA=1, entries at N-33
///
///  entry (128 bytes): type GUID @0, unique GUID @16, first LBA @32, last LBA @40 (inclusive),
///                     attributes @48, name @56 (36 UTF-16LE units)
/// ```
///
/// GUIDs are stored mixed-endian (``Identifier/gptBytes``); every integer is little-endian;
/// both CRCs are zlib's CRC-32, the header's computed with its own CRC field zeroed.
public enum GPT {
    /// Number of entries in each array (what every tool writes).
    public static let entryCount = 128
    /// Size of one entry.
    public static let entrySize = 128
    /// Sectors one entry array occupies (128 × 128 / 512).
    public static let arraySectors: UInt64 = 32
    /// The header's own size field (`HeaderSize`).
    public static let headerSize = 92
    /// `First usable LBA`: after PMBR, header and array.
    public static let firstUsableLBA: UInt64 = 34

    /// The last usable LBA of a disk of `sectorCount` sectors (leaves room for the backup).
    public static func lastUsableLBA(sectorCount: UInt64) -> UInt64 { sectorCount - 34 }

    /// The protective MBR sector (formats.md §5.1): status 00, CHS first `00 02 00`, type EE,
    /// CHS last of the covered range (sgdisk's choice), LBA 1, size `min(N-1, 0xFFFFFFFF)`.
    public static func protectiveMBR(sectorCount: UInt64, signature: UInt32 = 0) -> [UInt8] {
        let covered = min(sectorCount - 1, 0xFFFF_FFFF)
        let entry = MBR.Entry(
            status: 0, type: MBR.protectiveType, firstLBA: 1, sectorCount: UInt32(covered), chsFirst: 1,
            chsLast: covered)
        return MBR.sector(signature: signature, entries: [entry])
    }

    /// Encodes one 128-byte entry.
    public static func encodeEntry(_ p: DiskLayout.Partition, into w: FieldWriter, at offset: Int) throws {
        let name = Array(p.name.utf16)
        guard name.count <= 36 else { throw DiskLayout.Error.nameTooLong(partition: p.name) }
        w.bytes(p.type.guid.gptBytes, at: offset + 0)
        w.bytes(p.uniqueGUID.gptBytes, at: offset + 16)
        w.le64(p.start, at: offset + 32)
        w.le64(p.lastSector, at: offset + 40)
        w.le64(p.attributes.rawValue, at: offset + 48)
        for (i, unit) in name.enumerated() { w.le16(unit, at: offset + 56 + 2 * i) }
    }

    /// The whole 16 KiB entry array (unused entries zero).
    public static func entryArray(for layout: DiskLayout) throws -> [UInt8] {
        var array = [UInt8](repeating: 0, count: entryCount * entrySize)
        guard layout.partitions.count <= entryCount else {
            throw DiskLayout.Error.tooManyPrimaries(partition: layout.partitions[entryCount].name)
        }
        try array.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            for (i, p) in layout.partitions.enumerated() { try encodeEntry(p, into: w, at: i * entrySize) }
        }
        return array
    }

    /// One 512-byte header sector.
    ///
    /// - Parameters:
    ///   - primary: true for LBA 1, false for the backup at the last LBA.
    ///   - arrayCRC: the CRC-32 of the entry array.
    public static func header(for layout: DiskLayout, primary: Bool, arrayCRC: UInt32) -> [UInt8] {
        let last = layout.sectorCount - 1
        var sector = [UInt8](repeating: 0, count: 512)
        sector.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.string("EFI PART", at: 0, width: 8)
            w.le32(0x0001_0000, at: 8)  // Revision 1.0
            w.le32(UInt32(headerSize), at: 12)
            w.le32(0, at: 16)  // HeaderCRC32, filled below
            w.le64(primary ? 1 : last, at: 24)  // MyLBA
            w.le64(primary ? last : 1, at: 32)  // AlternateLBA
            w.le64(firstUsableLBA, at: 40)
            w.le64(lastUsableLBA(sectorCount: layout.sectorCount), at: 48)
            w.bytes(layout.diskGUID.gptBytes, at: 56)
            w.le64(primary ? 2 : last - arraySectors, at: 72)  // PartitionEntryLBA
            w.le32(UInt32(entryCount), at: 80)
            w.le32(UInt32(entrySize), at: 84)
            w.le32(arrayCRC, at: 88)
            let crc = crc32(0, UnsafeRawBufferPointer(rebasing: raw[0..<headerSize]))
            w.le32(crc, at: 16)
        }
        return sector
    }

    /// The two runs of sectors a GPT contributes: LBA 0–33 at the front, LBA N-33..N-1 at the end.
    ///
    /// - Throws: ``DiskLayout.Error`` when a partition leaves the usable range or a name is too long.
    public static func blocks(for layout: DiskLayout) throws -> [TableBlock] {
        precondition(layout.scheme == .gpt, "GPT.blocks needs a gpt layout")
        let lastUsable = lastUsableLBA(sectorCount: layout.sectorCount)
        for p in layout.partitions where p.start < firstUsableLBA || p.lastSector > lastUsable {
            throw DiskLayout.Error.doesNotFit(
                partition: p.name, neededSectors: p.sectors,
                availableSectors: lastUsable >= p.start ? lastUsable - p.start + 1 : 0)
        }
        let array = try entryArray(for: layout)
        let arrayCRC = crc32(0, array)
        let head =
            protectiveMBR(sectorCount: layout.sectorCount, signature: layout.mbrSignature)
            + header(for: layout, primary: true, arrayCRC: arrayCRC) + array
        let tail = array + header(for: layout, primary: false, arrayCRC: arrayCRC)
        let tailOffset = (layout.sectorCount - 1 - arraySectors) * DiskLayout.sectorSize
        return [TableBlock(offset: 0, bytes: head), TableBlock(offset: tailOffset, bytes: tail)]
    }
}
