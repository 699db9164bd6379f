import StampBytes
import StampIO

/// Reads fixed and dynamic VHDs (layouts: see ``VHD``). The virtual size is the footer's
/// current size (what Hyper-V and Azure use). Dynamic blocks honour their sector bitmaps:
/// sectors whose bit is clear read as zeros. Differencing disks are refused.
public final class VHDReader: DiskImageReader {
    public let format = ImageFormat.vhd
    public let variant: String
    public let virtualSize: UInt64
    private let file: InputFile
    private let footer: VHD.Footer
    private let dynamicHeader: VHD.DynamicHeader?
    private let table: [UInt32]

    public convenience init(path: String) throws { try self.init(file: InputFile(path: path)) }

    init(file: InputFile) throws {
        self.file = file
        let path = file.path
        guard file.size >= 512 else { throw ContainerError.truncated(path: path, offset: 0, needed: 512, fileSize: file.size) }
        let footerOffset = file.size - 512
        let tail = try file.read(at: footerOffset, count: 512)
        do {
            footer = try tail.withUnsafeBytes { try VHD.Footer(decoding: FieldReader($0), path: path, at: footerOffset) }
        } catch ContainerError.badMagic {
            // A dynamic VHD starts with a copy of its footer: if that is there, the end is missing
            // (the footer that should follow the file's last byte).
            if try file.read(at: 0, count: 8) == VHD.footerCookie {
                throw ContainerError.truncated(path: path, offset: file.size, needed: 512, fileSize: file.size)
            }
            throw ContainerError.badMagic(path: path, offset: footerOffset, format: "vhd")
        }
        guard footer.currentSize <= ReaderLimits.maximumVirtualSize else {
            throw ContainerError.absurdSize(
                path: path, offset: footerOffset + 48, field: "current size", value: footer.currentSize)
        }
        virtualSize = footer.currentSize
        switch VHD.DiskType(rawValue: footer.diskType) {
        case .fixed:
            guard footer.currentSize <= footerOffset else {
                throw ContainerError.truncated(path: path, offset: 0, needed: footer.currentSize + 512, fileSize: file.size)
            }
            dynamicHeader = nil
            table = []
            variant = "fixed"
        case .dynamic:
            let at = footer.dataOffset
            guard at <= file.size, at + 1024 <= file.size else {
                throw ContainerError.pointerPastEnd(path: path, offset: footerOffset + 16, target: at, fileSize: file.size)
            }
            let raw = try file.read(at: at, count: 1024)
            let h = try raw.withUnsafeBytes { try VHD.DynamicHeader(decoding: FieldReader($0), path: path, at: at) }
            let block = UInt64(h.blockSize)
            guard block >= 512, block <= 256 << 20, block & (block - 1) == 0 else {
                throw ContainerError.absurdSize(path: path, offset: at + 32, field: "block size", value: block)
            }
            let entries = UInt64(h.maxTableEntries)
            guard entries * 4 <= ReaderLimits.maximumTableBytes else {
                throw ContainerError.absurdSize(path: path, offset: at + 28, field: "max table entries", value: entries)
            }
            guard entries * block >= footer.currentSize else {
                throw ContainerError.malformed(path: path, offset: at + 28, reason: "block table covers less than the disk")
            }
            let needed = footer.currentSize.dividedRoundingUp(by: block)
            guard h.tableOffset <= file.size, needed * 4 <= file.size - h.tableOffset else {
                throw ContainerError.pointerPastEnd(path: path, offset: at + 16, target: h.tableOffset, fileSize: file.size)
            }
            let bat = try file.read(at: h.tableOffset, count: Int(needed * 4))
            table = bat.withUnsafeBytes { r in
                (0..<Int(needed)).map { UInt32(bigEndian: r.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            }
            dynamicHeader = h
            variant = "dynamic"
        case .differencing:
            throw ContainerError.unsupported(path: path, feature: "differencing vhd")
        case nil:
            throw ContainerError.malformed(
                path: path, offset: footerOffset + 60, reason: "unknown vhd disk type \(footer.diskType)")
        }
    }

    public func forEachExtent(_ body: (DiskExtent) throws -> Void) throws {
        guard let h = dynamicHeader else {
            if virtualSize > 0 { try body(.file(try file.range(at: 0, length: virtualSize, entryOffset: 0), at: 0)) }
            return
        }
        let path = file.path
        let block = UInt64(h.blockSize)
        // One bit per sector, padded to whole sectors: a 512-byte block still has a sector of bitmap.
        let bitmapBytes = (block / 512).dividedRoundingUp(by: 8).roundedUp(toMultipleOf: 512)
        var seen = Set<UInt32>()
        for (i, entry) in table.enumerated() {
            let base = UInt64(i) * block
            let length = min(block, virtualSize - base)
            let entryOffset = h.tableOffset + UInt64(i) * 4
            if entry == VHD.noBlock {
                try body(.zero(offset: base, length: length))
                continue
            }
            guard seen.insert(entry).inserted else {
                throw ContainerError.malformed(path: path, offset: entryOffset, reason: "two blocks share one location")
            }
            let bitmapOffset = UInt64(entry) * 512
            guard bitmapOffset + bitmapBytes + length <= file.size else {
                throw ContainerError.pointerPastEnd(path: path, offset: entryOffset, target: bitmapOffset, fileSize: file.size)
            }
            let bitmap = try file.read(at: bitmapOffset, count: Int(bitmapBytes))
            let dataOffset = bitmapOffset + bitmapBytes
            // Runs of sectors with the same bitmap bit (bit 7 of byte 0 is the first sector).
            let sectors = length.dividedRoundingUp(by: 512)
            var s: UInt64 = 0
            while s < sectors {
                let set = bitmap[Int(s / 8)] & (0x80 >> UInt8(s % 8)) != 0
                var e = s + 1
                while e < sectors && (bitmap[Int(e / 8)] & (0x80 >> UInt8(e % 8)) != 0) == set { e += 1 }
                let start = s * 512
                let runLength = min(e * 512, length) - start
                if set {
                    try body(
                        .file(
                            try file.range(at: dataOffset + start, length: runLength, entryOffset: entryOffset), at: base + start)
                    )
                } else {
                    try body(.zero(offset: base + start, length: runLength))
                }
                s = e
            }
        }
    }
}

/// Reads a raw image: its data regions (found with SEEK_DATA/SEEK_HOLE) as file ranges,
/// holes as zeros.
public final class RawReader: DiskImageReader {
    public let format = ImageFormat.raw
    public let variant = "raw"
    public let virtualSize: UInt64
    private let file: InputFile

    public convenience init(path: String) throws { try self.init(file: InputFile(path: path)) }

    init(file: InputFile) throws {
        self.file = file
        virtualSize = file.size
    }

    public func forEachExtent(_ body: (DiskExtent) throws -> Void) throws {
        // Holes are looked for in a whole file; a window into one (an OVA member) is all data.
        let regions =
            file.base != 0
            ? [0..<file.size]
            : try withPath(file.path, "lseek") { try Syscalls.dataRegions(of: file.descriptor, size: file.size) }
        var at: UInt64 = 0
        for region in regions {
            if region.lowerBound > at { try body(.zero(offset: at, length: region.lowerBound - at)) }
            try body(
                .file(try file.range(at: region.lowerBound, length: UInt64(region.count), entryOffset: 0), at: region.lowerBound))
            at = region.upperBound
        }
        if at < virtualSize { try body(.zero(offset: at, length: virtualSize - at)) }
    }
}
