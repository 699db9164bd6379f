import StampBytes
import StampCompression
import StampIO

/// Reads hosted sparse VMDKs: streamOptimized (compressed grains with markers, GD at the
/// end via the footer) and monolithicSparse (uncompressed grains). Layout: see ``VMDK``.
///
/// The grain directory comes from the footer when the header says GD_AT_END. Each grain
/// table is read when its 32 MiB group is reached; absent tables and zero entries read as
/// zeros. Compressed grains must carry a marker naming their own LBA and decompress to
/// exactly one grain.
public final class VMDKReader: DiskImageReader {
    public let format = ImageFormat.vmdk
    public let variant: String
    public let virtualSize: UInt64
    private let file: InputFile
    private let header: VMDK.Header
    private let directory: [UInt32]
    private let directoryOffset: UInt64
    private let grainBytes: UInt64
    private let compressed: Bool
    /// The embedded descriptor's text (NULs dropped), nil when the header names none.
    public let descriptor: String?

    public convenience init(path: String) throws { try self.init(file: InputFile(path: path)) }

    init(file: InputFile) throws {
        self.file = file
        let path = file.path
        let first = try file.read(at: 0, count: VMDK.Header.size)
        var header = try first.withUnsafeBytes { try VMDK.Header(decoding: FieldReader($0), path: path, at: 0) }
        guard header.version >= 1 && header.version <= 3 else {
            throw ContainerError.unsupported(path: path, feature: "vmdk version \(header.version)")
        }
        if header.gdOffset == VMDK.gdAtEnd {
            // streamOptimized: the footer (1024 bytes before the end, after its marker) holds the GD offset.
            guard file.size >= 1536 + 512 else {
                throw ContainerError.truncated(path: path, offset: 0, needed: 2048, fileSize: file.size)
            }
            let tail = try file.read(at: file.size - 1536, count: 1536)
            let footer = try tail.withUnsafeBytes { raw in
                let r = FieldReader(raw)
                guard try r.le32(at: 8) == 0, try r.le32(at: 12) == VMDK.MarkerType.footer.rawValue,
                    try r.le64(at: 1024) == 0, try r.le32(at: 1032) == 0, try r.le32(at: 1036) == 0
                else {
                    throw ContainerError.malformed(
                        path: path, offset: file.size - 1536, reason: "no footer and end-of-stream marker")
                }
                return try VMDK.Header(
                    decoding: FieldReader(UnsafeRawBufferPointer(rebasing: raw[512..<1024])), path: path,
                    at: file.size - 1024)
            }
            guard footer.gdOffset != VMDK.gdAtEnd else {
                throw ContainerError.malformed(path: path, offset: file.size - 1024 + 56, reason: "footer has no grain directory")
            }
            header = footer
        }
        self.header = header
        guard header.capacity <= ReaderLimits.maximumVirtualSize / 512 else {
            throw ContainerError.absurdSize(path: path, offset: 12, field: "capacity", value: header.capacity)
        }
        guard header.grainSize >= 1, header.grainSize <= 2048, header.grainSize & (header.grainSize - 1) == 0 else {
            throw ContainerError.absurdSize(path: path, offset: 20, field: "grain size", value: header.grainSize)
        }
        guard header.numGTEsPerGT >= 1, header.numGTEsPerGT <= 512 else {
            throw ContainerError.absurdSize(
                path: path, offset: 44, field: "grain table entries", value: UInt64(header.numGTEsPerGT))
        }
        compressed = header.flags & VMDK.flagCompressed != 0
        if compressed && header.compressAlgorithm != 1 {
            throw ContainerError.unsupported(path: path, feature: "vmdk compression algorithm \(header.compressAlgorithm)")
        }
        if compressed && header.flags & VMDK.flagMarkers == 0 {
            throw ContainerError.unsupported(path: path, feature: "compressed vmdk grains without markers")
        }
        grainBytes = header.grainSize * 512
        virtualSize = header.capacity * 512
        let entries = header.capacity.dividedRoundingUp(by: header.grainSize)
            .dividedRoundingUp(by: UInt64(header.numGTEsPerGT))
        guard entries * 4 <= ReaderLimits.maximumTableBytes else {
            throw ContainerError.absurdSize(path: path, offset: 12, field: "grain directory size", value: entries * 4)
        }
        guard header.gdOffset <= file.size / 512 else {
            throw ContainerError.pointerPastEnd(path: path, offset: 56, target: header.gdOffset &* 512, fileSize: file.size)
        }
        directoryOffset = header.gdOffset * 512
        let gdBytes = try file.read(at: directoryOffset, count: Int(entries * 4))
        directory = gdBytes.withUnsafeBytes { raw in
            (0..<Int(entries)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
        variant = compressed ? "streamOptimized" : "monolithicSparse"
        descriptor = try VMDKReader.readDescriptor(file, header: first)
        if let text = descriptor, let parent = VMDKDescriptor.value(of: "parentFileNameHint", in: text) {
            throw ContainerError.unsupported(
                path: path, feature: "vmdk delta disk: its parent '\(parent)' is another file (parentFileNameHint)")
        }
        if let text = descriptor, let cid = VMDKDescriptor.value(of: "parentCID", in: text), cid.lowercased() != "ffffffff" {
            throw ContainerError.unsupported(path: path, feature: "vmdk delta disk: parentCID \(cid) names a parent disk")
        }
    }

    /// The descriptor sectors the first header names (at most 1 MiB), as text.
    private static func readDescriptor(_ file: InputFile, header bytes: [UInt8]) throws -> String? {
        let first = try bytes.withUnsafeBytes { try VMDK.Header(decoding: FieldReader($0), path: file.path, at: 0) }
        guard first.descriptorOffset > 0, first.descriptorSize > 0 else { return nil }
        guard first.descriptorSize <= 2048 else {
            throw ContainerError.absurdSize(path: file.path, offset: 36, field: "descriptor size", value: first.descriptorSize)
        }
        let raw = try file.read(at: first.descriptorOffset &* 512, count: Int(first.descriptorSize * 512))
        let text = raw.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of the disk held in allocated grains (vmdk-convert's "used": each grain whose
    /// table entry is not zero, the last one only up to the disk's end). Reads the tables only.
    public func allocatedBytes() throws -> UInt64 {
        let perTable = UInt64(header.numGTEsPerGT)
        var table = [UInt32](repeating: 0, count: Int(perTable))
        var used: UInt64 = 0
        for (g, entry) in directory.enumerated() where entry != 0 {
            let tableOffset = UInt64(entry) * 512
            guard tableOffset + perTable * 4 <= file.size else {
                throw ContainerError.pointerPastEnd(
                    path: file.path, offset: directoryOffset + UInt64(g) * 4, target: tableOffset, fileSize: file.size)
            }
            try table.withUnsafeMutableBytes { try file.read(into: $0, at: tableOffset) }
            for i in 0..<Int(perTable) where UInt32(littleEndian: table[i]) != 0 {
                let at = (UInt64(g) * perTable + UInt64(i)) * grainBytes
                guard at < virtualSize else { break }
                used += min(grainBytes, virtualSize - at)
            }
        }
        return used
    }

    public func forEachExtent(_ body: (DiskExtent) throws -> Void) throws {
        let path = file.path
        let perTable = UInt64(header.numGTEsPerGT)
        let tableSpan = grainBytes * perTable
        var budget = WorkBudget(fileSize: file.size, minimumUnitBytes: compressed ? 512 : grainBytes, path: path)
        var seenTables = Set<UInt32>()
        let grain = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(grainBytes), alignment: 64)
        defer { grain.deallocate() }
        let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(grainBytes) * 2 + 1024, alignment: 64)
        defer { packed.deallocate() }
        let inflater = compressed ? try Decompressor() : nil
        var table = [UInt32](repeating: 0, count: Int(perTable))
        for (g, entry) in directory.enumerated() {
            let base = UInt64(g) * tableSpan
            let span = min(tableSpan, virtualSize - base)
            let entryOffset = directoryOffset + UInt64(g) * 4
            if entry == 0 {
                try body(.zero(offset: base, length: span))
                continue
            }
            guard seenTables.insert(entry).inserted else {
                throw ContainerError.malformed(
                    path: path, offset: entryOffset, reason: "two grain directory entries share a grain table")
            }
            let tableOffset = UInt64(entry) * 512
            guard tableOffset + perTable * 4 <= file.size else {
                throw ContainerError.pointerPastEnd(path: path, offset: entryOffset, target: tableOffset, fileSize: file.size)
            }
            try table.withUnsafeMutableBytes { try file.read(into: $0, at: tableOffset) }
            for i in 0..<Int(perTable) {
                let at = base + UInt64(i) * grainBytes
                guard at < virtualSize else { break }
                let length = min(grainBytes, virtualSize - at)
                let gte = UInt64(UInt32(littleEndian: table[i]))
                let gteOffset = tableOffset + UInt64(i) * 4
                if gte == 0 || (gte == 1 && header.flags & 0x4 != 0) {
                    try body(.zero(offset: at, length: length))
                    continue
                }
                try budget.spend(at: gteOffset, bytes: length)
                if !compressed {
                    try body(.file(try file.range(at: gte * 512, length: length, entryOffset: gteOffset), at: at))
                    continue
                }
                try readCompressedGrain(
                    sector: gte, entryOffset: gteOffset, lba: at / 512, required: Int(length), into: grain, scratch: packed,
                    inflater: inflater)
                try body(.data(offset: at, bytes: UnsafeRawBufferPointer(rebasing: grain[0..<Int(length)])))
            }
        }
    }

    /// Reads the grain record at `sector` (marker + zlib data) and inflates it into `grain`.
    private func readCompressedGrain(
        sector: UInt64, entryOffset: UInt64, lba: UInt64, required: Int, into grain: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer, inflater: Decompressor?
    ) throws {
        let path = file.path
        let offset = sector * 512
        guard offset + 12 <= file.size else {
            throw ContainerError.pointerPastEnd(path: path, offset: entryOffset, target: offset, fileSize: file.size)
        }
        let marker = try file.read(at: offset, count: 12)
        let (markerLBA, size) = marker.withUnsafeBytes { raw in
            (
                UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)),
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            )
        }
        guard markerLBA == lba else {
            throw ContainerError.malformed(
                path: path, offset: offset, reason: "grain marker says lba \(markerLBA), table says \(lba)")
        }
        guard size > 0, Int(size) <= scratch.count else {
            throw ContainerError.absurdSize(path: path, offset: offset + 8, field: "compressed grain size", value: UInt64(size))
        }
        let data = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(size)])
        guard offset + 12 + UInt64(size) <= file.size else {
            throw ContainerError.truncated(path: path, offset: offset + 12, needed: UInt64(size), fileSize: file.size)
        }
        try file.read(into: data, at: offset + 12)
        do {
            let n = try inflater?.decompress(UnsafeRawBufferPointer(data), into: grain, format: .zlib(windowBits: 15)) ?? 0
            // A full grain; only the last one may stop at the end of the disk (vmdk-convert).
            guard n == grain.count || (n >= required && required < grain.count) else {
                throw ContainerError.badCompressedData(
                    path: path, offset: offset + 12, reason: "grain decompresses to \(n) bytes, not \(grain.count)")
            }
        } catch let e as CompressionError {
            throw ContainerError.badCompressedData(path: path, offset: offset + 12, reason: e.description)
        }
    }
}
