import StampBytes
import StampCompression
import StampIO

/// Reads qcow2 version 2 and 3 images: standard, zero and compressed clusters, any cluster
/// size from 512 bytes to 2 MiB, extended L2 entries (128 bits: the entry, then a bitmap of 32
/// subclusters, bit i allocated and bit 32 + i reading as zeros; qemu's docs/interop/qcow2.txt).
/// Backing files, encryption, external data files and zstd-compressed clusters (an image whose
/// compression type is zstd reads until one is met) are refused with
/// ``ContainerError/unsupported(path:feature:)``. Layout: see ``Qcow2``.
public final class Qcow2Reader: DiskImageReader {
    public let format = ImageFormat.qcow2
    public let variant: String
    public let virtualSize: UInt64
    private let file: InputFile
    private let header: Qcow2.Header
    private let clusterSize: UInt64
    private let l1: [UInt64]
    /// Extended L2 entries (incompatible bit 4): 16 bytes each, with a subcluster bitmap.
    private let extendedL2: Bool
    /// The header's compression type (byte 104): 0 zlib, 1 zstd.
    private let compressionType: UInt8

    public convenience init(path: String) throws { try self.init(file: InputFile(path: path)) }

    init(file: InputFile) throws {
        self.file = file
        let path = file.path
        let count = Int(min(file.size, 112))
        let first = try file.read(at: 0, count: count)
        guard count >= 72 else {
            if count >= 4, first.withUnsafeBytes({ UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }) != Qcow2.magic {
                throw ContainerError.badMagic(path: path, offset: 0, format: "qcow2")
            }
            throw ContainerError.truncated(path: path, offset: 0, needed: 72, fileSize: file.size)
        }
        header = try first.withUnsafeBytes { try Qcow2.Header(decoding: FieldReader($0), path: path) }
        guard header.clusterBits >= 9 && header.clusterBits <= 21 else {
            throw ContainerError.absurdSize(path: path, offset: 20, field: "cluster bits", value: UInt64(header.clusterBits))
        }
        guard header.size <= ReaderLimits.maximumVirtualSize else {
            throw ContainerError.absurdSize(path: path, offset: 24, field: "virtual size", value: header.size)
        }
        guard header.backingFileOffset == 0 else { throw ContainerError.unsupported(path: path, feature: "qcow2 backing file") }
        guard header.cryptMethod == 0 else { throw ContainerError.unsupported(path: path, feature: "qcow2 encryption") }
        compressionType = header.version >= 3 && header.headerLength > 104 && first.count > 104 ? first[104] : 0
        guard compressionType <= 1 else {
            throw ContainerError.unsupported(path: path, feature: "qcow2 compression type \(compressionType)")
        }
        extendedL2 = header.version >= 3 && header.incompatibleFeatures & 0x10 != 0
        if header.version >= 3 {
            // dirty (refcounts may be stale, the data is fine), compression type, extended L2
            let known: UInt64 = 0x1 | 0x8 | 0x10
            if header.incompatibleFeatures & 0x2 != 0 {
                throw ContainerError.malformed(path: path, offset: 72, reason: "qcow2 image is marked corrupt")
            }
            if header.incompatibleFeatures & 0x4 != 0 {
                throw ContainerError.unsupported(
                    path: path, feature: "qcow2 external data file (the disk's data is another file, which stamp does not open)")
            }
            if header.incompatibleFeatures & ~known != 0 {
                throw ContainerError.unsupported(
                    path: path, feature: "qcow2 incompatible features 0x\(String(header.incompatibleFeatures, radix: 16))")
            }
        }
        clusterSize = 1 << UInt64(header.clusterBits)
        virtualSize = header.size
        let needed = header.size.dividedRoundingUp(by: clusterSize * (clusterSize / (extendedL2 ? 16 : 8)))
        guard UInt64(header.l1Size) >= needed else {
            throw ContainerError.malformed(
                path: path, offset: 36, reason: "l1 table has \(header.l1Size) entries, needs \(needed)")
        }
        guard UInt64(header.l1Size) * 8 <= ReaderLimits.maximumTableBytes else {
            throw ContainerError.absurdSize(path: path, offset: 36, field: "l1 size", value: UInt64(header.l1Size))
        }
        guard header.l1TableOffset % clusterSize == 0 else {
            throw ContainerError.malformed(path: path, offset: 40, reason: "l1 table offset not cluster aligned")
        }
        guard header.l1TableOffset <= file.size, needed * 8 <= file.size - header.l1TableOffset else {
            throw ContainerError.pointerPastEnd(path: path, offset: 40, target: header.l1TableOffset, fileSize: file.size)
        }
        let raw = try file.read(at: header.l1TableOffset, count: Int(needed * 8))
        l1 = raw.withUnsafeBytes { r in
            (0..<Int(needed)).map { UInt64(bigEndian: r.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
        variant = header.version == 2 ? "compat 0.10" : "compat 1.1"
    }

    public func forEachExtent(_ body: (DiskExtent) throws -> Void) throws {
        let path = file.path
        let entryBytes: UInt64 = extendedL2 ? 16 : 8
        let l2Entries = clusterSize / entryBytes
        let span = clusterSize * l2Entries
        var budget = WorkBudget(fileSize: file.size, minimumUnitBytes: 16, path: path)
        var seenTables = Set<UInt64>()
        let table = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(clusterSize), alignment: 64)
        defer { table.deallocate() }
        let cluster = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(clusterSize), alignment: 64)
        defer { cluster.deallocate() }
        let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(clusterSize) * 2 + 512, alignment: 64)
        defer { packed.deallocate() }
        var inflater: Decompressor?
        let x = 62 - (UInt64(header.clusterBits) - 8)  // compressed descriptor: first bit of the sector count

        for (i, entry) in l1.enumerated() {
            let base = UInt64(i) * span
            let length = min(span, virtualSize - base)
            let entryOffset = header.l1TableOffset + UInt64(i) * 8
            let l2Offset = entry & Qcow2.offsetMask
            if l2Offset == 0 {
                try body(.zero(offset: base, length: length))
                continue
            }
            guard l2Offset % clusterSize == 0 else {
                throw ContainerError.malformed(path: path, offset: entryOffset, reason: "l2 table offset not cluster aligned")
            }
            guard l2Offset <= file.size, clusterSize <= file.size - l2Offset else {
                throw ContainerError.pointerPastEnd(path: path, offset: entryOffset, target: l2Offset, fileSize: file.size)
            }
            guard seenTables.insert(l2Offset).inserted else {
                throw ContainerError.malformed(path: path, offset: entryOffset, reason: "two l1 entries share an l2 table")
            }
            try file.read(into: table, at: l2Offset)
            for j in 0..<l2Entries {
                let at = base + j * clusterSize
                guard at < virtualSize else { break }
                let want = min(clusterSize, virtualSize - at)
                let l2 = UInt64(bigEndian: table.loadUnaligned(fromByteOffset: Int(j * entryBytes), as: UInt64.self))
                let l2EntryOffset = l2Offset + j * entryBytes
                if l2 & Qcow2.compressedFlag != 0 {
                    if compressionType != 0 {
                        throw ContainerError.unsupported(path: path, feature: "qcow2 zstd-compressed cluster at \(l2EntryOffset)")
                    }
                    try budget.spend(at: l2EntryOffset, bytes: clusterSize)
                    let offset = l2 & ((1 << x) - 1)
                    let sectors = ((l2 >> x) & ((1 << (62 - x)) - 1)) + 1
                    let size = sectors * 512 - (offset & 511)
                    guard offset < file.size else {
                        throw ContainerError.pointerPastEnd(
                            path: path, offset: l2EntryOffset, target: offset, fileSize: file.size)
                    }
                    // The last sector may run past the end of the file: read what is there.
                    let available = Int(min(size, file.size - offset, UInt64(packed.count)))
                    let data = UnsafeMutableRawBufferPointer(rebasing: packed[0..<available])
                    try file.read(into: data, at: offset)
                    if inflater == nil { inflater = try Decompressor() }
                    do {
                        let n =
                            try inflater?.decompress(
                                UnsafeRawBufferPointer(data), into: cluster, format: .deflate(windowBits: 15)) ?? 0
                        guard n == cluster.count else {
                            throw ContainerError.badCompressedData(
                                path: path, offset: offset, reason: "cluster decompresses to \(n) bytes, not \(cluster.count)")
                        }
                    } catch let e as CompressionError {
                        throw ContainerError.badCompressedData(path: path, offset: offset, reason: e.description)
                    }
                    try body(.data(offset: at, bytes: UnsafeRawBufferPointer(rebasing: cluster[0..<Int(want)])))
                    continue
                }
                let offset = l2 & Qcow2.offsetMask
                if extendedL2 {
                    let bitmap = UInt64(bigEndian: table.loadUnaligned(fromByteOffset: Int(j * 16 + 8), as: UInt64.self))
                    try subclusters(
                        bitmap: bitmap, offset: offset, at: at, want: want, entryOffset: l2EntryOffset, budget: &budget, body)
                    continue
                }
                if offset == 0 || (header.version >= 3 && l2 & Qcow2.zeroFlag != 0) {
                    try body(.zero(offset: at, length: want))
                    continue
                }
                try budget.spend(at: l2EntryOffset, bytes: want)
                guard offset % clusterSize == 0 else {
                    throw ContainerError.malformed(path: path, offset: l2EntryOffset, reason: "data cluster not aligned")
                }
                try body(.file(try file.range(at: offset, length: want, entryOffset: l2EntryOffset), at: at))
            }
        }
    }

    /// One cluster of an extended-L2 image: its 32 subclusters in runs, data where the bitmap's
    /// bit i is set (at `offset` + i × subcluster), zeros elsewhere (bit 32 + i, or unallocated:
    /// there is no backing file).
    private func subclusters(
        bitmap: UInt64, offset: UInt64, at: UInt64, want: UInt64, entryOffset: UInt64, budget: inout WorkBudget,
        _ body: (DiskExtent) throws -> Void
    ) throws {
        let path = file.path
        let allocated = bitmap & 0xFFFF_FFFF
        guard allocated & (bitmap >> 32) == 0 else {
            throw ContainerError.malformed(path: path, offset: entryOffset + 8, reason: "a subcluster both allocated and zero")
        }
        if allocated != 0 {
            guard offset != 0, offset % clusterSize == 0 else {
                throw ContainerError.malformed(path: path, offset: entryOffset, reason: "data cluster missing or not aligned")
            }
        }
        let sub = clusterSize / 32
        var i: UInt64 = 0
        while i < 32, i * sub < want {
            let isData = (allocated >> i) & 1
            var end = i + 1
            while end < 32, end * sub < want, (allocated >> end) & 1 == isData { end += 1 }
            let start = i * sub
            let length = min(end * sub, want) - start
            if isData == 1 {
                try budget.spend(at: entryOffset, bytes: length)
                try body(.file(try file.range(at: offset + start, length: length, entryOffset: entryOffset), at: at + start))
            } else {
                try body(.zero(offset: at + start, length: length))
            }
            i = end
        }
    }
}
