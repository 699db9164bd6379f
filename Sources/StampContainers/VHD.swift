import StampBytes

/// VHD (Virtual PC / Hyper-V generation 1): the footer and dynamic header shared by
/// ``VHDWriter`` and ``VHDReader``. Big-endian; a sector is 512 bytes.
///
/// Fixed VHD (sequential; the raw disk plus one sector):
/// ```
///  0 … size-1    the disk, byte for byte (zero runs left as holes)
///  size          footer (512): cookie "conectix", disk type 2, data offset all-ones
/// ```
/// Dynamic VHD (BAT patched at the end):
/// ```
///  0             footer copy (512), disk type 3, data offset 512
///  512           dynamic header (1024): cookie "cxsparse", table offset 1536, block 2 MiB
///  1536          BAT: u32 per 2 MiB block = sector of its bitmap, 0xFFFFFFFF = absent
///                (padded to 512)
///  …             blocks: sector bitmap (512 bytes, all 0xFF) + 2 MiB of data, in order
///  end - 512     footer
/// ```
/// Sizing: qemu takes the virtual size from the footer's current size only for some
/// creators (`qem2`, `win `, …), and from the CHS geometry otherwise; stamp writes creator
/// `qem2`, so qemu, Hyper-V and Azure all see exactly ``Footer/currentSize``.
enum VHD {
    static let footerCookie = Array("conectix".utf8)
    static let dynamicCookie = Array("cxsparse".utf8)
    static let blockSize: UInt64 = 2 << 20
    static let noBlock: UInt32 = 0xFFFF_FFFF
    static let dynamicHeaderOffset: UInt64 = 512
    static let tableOffset: UInt64 = 1536
    /// Seconds between the Unix epoch and the VHD epoch (2000-01-01 00:00:00 UTC).
    static let epochOffset: UInt64 = 946_684_800

    enum DiskType: UInt32 {
        case fixed = 2
        case dynamic = 3
        case differencing = 4
    }

    /// The 512-byte hard disk footer.
    struct Footer: Equatable {
        static let size = 512
        var dataOffset: UInt64  // data offset: all-ones (fixed) or 512 (dynamic header)
        var timestamp: UInt32  // time stamp, seconds since 2000
        var creatorApplication: [UInt8] = Array("qem2".utf8)  // creator application
        var creatorVersion: UInt32 = 0x0005_0003  // creator version
        var creatorHostOS: UInt32 = 0x5769_326B  // creator host OS: "Wi2k"
        var originalSize: UInt64  // original size
        var currentSize: UInt64  // current size
        var geometry: UInt32  // disk geometry: cylinders u16, heads u8, sectors u8
        var diskType: UInt32  // disk type
        var uniqueID: [UInt8]  // unique id, 16 bytes

        func encode(into w: FieldWriter) {
            w.fill(0, at: 0, count: Footer.size)
            w.bytes(footerCookie, at: 0)
            w.be32(2, at: 8)  // features: the reserved bit that must be set
            w.be32(0x0001_0000, at: 12)  // file format version
            w.be64(dataOffset, at: 16)
            w.be32(timestamp, at: 24)
            w.bytes(creatorApplication, at: 28)
            w.be32(creatorVersion, at: 32)
            w.be32(creatorHostOS, at: 36)
            w.be64(originalSize, at: 40)
            w.be64(currentSize, at: 48)
            w.be32(geometry, at: 56)
            w.be32(diskType, at: 60)
            w.bytes(uniqueID, at: 68)
            w.be32(VHD.checksum(UnsafeRawBufferPointer(rebasing: w.bytes[0..<Footer.size]), skipping: 64), at: 64)
        }

        var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: Footer.size)
            out.withUnsafeMutableBytes { encode(into: FieldWriter($0)) }
            return out
        }

        init(dataOffset: UInt64, timestamp: UInt32, size: UInt64, diskType: DiskType, uniqueID: [UInt8]) {
            self.dataOffset = dataOffset
            self.timestamp = timestamp
            self.originalSize = size
            self.currentSize = size
            self.geometry = VHD.geometry(sectors: size / 512)
            self.diskType = diskType.rawValue
            self.uniqueID = uniqueID
        }

        /// Decodes and verifies a footer (cookie, checksum) read at `offset`.
        init(decoding r: FieldReader, path: String, at offset: UInt64) throws {
            do {
                guard try r.bytes(at: 0, count: 8) == footerCookie else {
                    throw ContainerError.badMagic(path: path, offset: offset, format: "vhd")
                }
                let stored = try r.be32(at: 64)
                let computed = VHD.checksum(UnsafeRawBufferPointer(rebasing: r.bytes[0..<Footer.size]), skipping: 64)
                guard stored == computed else {
                    throw ContainerError.malformed(path: path, offset: offset + 64, reason: "vhd footer checksum mismatch")
                }
                dataOffset = try r.be64(at: 16)
                timestamp = try r.be32(at: 24)
                creatorApplication = try r.bytes(at: 28, count: 4)
                creatorVersion = try r.be32(at: 32)
                creatorHostOS = try r.be32(at: 36)
                originalSize = try r.be64(at: 40)
                currentSize = try r.be64(at: 48)
                geometry = try r.be32(at: 56)
                diskType = try r.be32(at: 60)
                uniqueID = try r.bytes(at: 68, count: 16)
            } catch is FieldError {
                throw ContainerError.truncated(path: path, offset: offset, needed: 512, fileSize: UInt64(r.bytes.count))
            }
        }
    }

    /// The 1024-byte dynamic disk header (`cxsparse`), without parent locators.
    struct DynamicHeader: Equatable {
        static let size = 1024
        var tableOffset: UInt64 = VHD.tableOffset  // table offset (BAT)
        var maxTableEntries: UInt32  // max table entries
        var blockSize: UInt32 = UInt32(VHD.blockSize)  // block size

        func encode(into w: FieldWriter) {
            w.fill(0, at: 0, count: DynamicHeader.size)
            w.bytes(dynamicCookie, at: 0)
            w.be64(UInt64.max, at: 8)  // data offset: unused, all-ones
            w.be64(tableOffset, at: 16)
            w.be32(0x0001_0000, at: 24)  // header version
            w.be32(maxTableEntries, at: 28)
            w.be32(blockSize, at: 32)
            w.be32(VHD.checksum(UnsafeRawBufferPointer(rebasing: w.bytes[0..<DynamicHeader.size]), skipping: 36), at: 36)
        }

        var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: DynamicHeader.size)
            out.withUnsafeMutableBytes { encode(into: FieldWriter($0)) }
            return out
        }

        init(maxTableEntries: UInt32) { self.maxTableEntries = maxTableEntries }

        init(decoding r: FieldReader, path: String, at offset: UInt64) throws {
            do {
                guard try r.bytes(at: 0, count: 8) == dynamicCookie else {
                    throw ContainerError.badMagic(path: path, offset: offset, format: "dynamic vhd")
                }
                let stored = try r.be32(at: 36)
                let computed = VHD.checksum(UnsafeRawBufferPointer(rebasing: r.bytes[0..<DynamicHeader.size]), skipping: 36)
                guard stored == computed else {
                    throw ContainerError.malformed(
                        path: path, offset: offset + 36, reason: "vhd dynamic header checksum mismatch")
                }
                tableOffset = try r.be64(at: 16)
                maxTableEntries = try r.be32(at: 28)
                blockSize = try r.be32(at: 32)
            } catch is FieldError {
                throw ContainerError.truncated(path: path, offset: offset, needed: 1024, fileSize: UInt64(r.bytes.count))
            }
        }
    }

    /// Ones' complement of the byte sum, with the 4-byte checksum field at `skipping` as zero.
    static func checksum(_ bytes: UnsafeRawBufferPointer, skipping field: Int) -> UInt32 {
        var sum: UInt32 = 0
        for (i, b) in bytes.enumerated() where i < field || i >= field + 4 { sum &+= UInt32(b) }
        return ~sum
    }

    /// CHS geometry from the VHD specification's appendix, packed as the footer stores it.
    static func geometry(sectors: UInt64) -> UInt32 {
        let total = min(sectors, 65535 * 16 * 255)
        var spt: UInt64
        var heads: UInt64
        var cth: UInt64
        if total >= 65535 * 16 * 63 {
            spt = 255
            heads = 16
            cth = total / spt
        } else {
            spt = 17
            cth = total / spt
            heads = max(4, (cth + 1023) / 1024)
            if cth >= heads * 1024 || heads > 16 {
                spt = 31
                heads = 16
                cth = total / spt
            }
            if cth >= heads * 1024 {
                spt = 63
                heads = 16
                cth = total / spt
            }
        }
        let cylinders = cth / heads
        return UInt32(cylinders) << 16 | UInt32(heads) << 8 | UInt32(spt)
    }
}
