import StampBytes

/// VMDK hosted sparse extents: the header, descriptor and markers shared by the
/// streamOptimized and monolithicSparse writers and the reader.
///
/// Everything is little-endian; a sector is 512 bytes; table entries are sector numbers.
///
/// streamOptimized (what ``VMDKStreamWriter`` writes; one forward pass, no seeks):
/// ```
///  sector 0     SparseExtentHeader  version 3, flags 0x30001, gdOffset = GD_AT_END
///  sector 1     descriptor (20 sectors, NUL padded), zeros up to overHead = 128
///  sector 128   [grain marker: lba u64 | size u32 | zlib data …  pad to 512]  ascending LBA,
///               …                                                 all-zero grains omitted
///               [GT marker: 4 | 0 | type 1 | pad] [GT: 512 × u32 = 4 sectors]  after each
///               …                                  32 MiB group that has grains
///               [GD marker: n | 0 | type 2 | pad] [GD: one u32 per group, sector of its GT]
///               [footer marker: 1 | 0 | type 3]   [footer = header with the real gdOffset]
///  last sector  [EOS marker: all zero]
/// ```
///
/// monolithicSparse (``VMDKSparseWriter``; tables preallocated, filled in at the end):
/// ```
///  sector 0  header (version 1, flags 0x3)   sector 1  descriptor (20 sectors)
///  sector 21 redundant GD, redundant GTs, GD, GTs   (all GTs preallocated, 4 sectors each)
///  overHead  grains, 128 sectors each, uncompressed, in the order they were written
/// ```
/// A GT covers 512 grains of 64 KiB = 32 MiB; GTE 0 means "reads as zeros".
enum VMDK {
    static let magic: UInt32 = 0x564D_444B  // "KDMV" on disk
    static let sector: UInt64 = 512
    static let grainSectors: UInt64 = 128
    static let grainBytes = 65536
    static let gtEntries: UInt64 = 512
    static let descriptorOffset: UInt64 = 1
    static let descriptorSectors: UInt64 = 20
    static let streamOverhead: UInt64 = 128
    static let gdAtEnd = UInt64.max

    static let flagNewlineTest: UInt32 = 0x1
    static let flagRedundantGD: UInt32 = 0x2
    static let flagCompressed: UInt32 = 0x1_0000
    static let flagMarkers: UInt32 = 0x2_0000

    enum MarkerType: UInt32 {
        case endOfStream = 0
        case grainTable = 1
        case grainDirectory = 2
        case footer = 3
    }

    /// The 512-byte SparseExtentHeader (the spec's names in each field's comment).
    struct Header: Equatable {
        static let size = 512
        var version: UInt32  // version
        var flags: UInt32  // flags
        var capacity: UInt64  // capacity, sectors
        var grainSize: UInt64 = grainSectors  // grainSize, sectors
        var descriptorOffset: UInt64 = VMDK.descriptorOffset  // descriptorOffset
        var descriptorSize: UInt64 = descriptorSectors  // descriptorSize
        var numGTEsPerGT: UInt32 = UInt32(gtEntries)  // numGTEsPerGT
        var rgdOffset: UInt64 = 0  // rgdOffset
        var gdOffset: UInt64  // gdOffset
        var overHead: UInt64  // overHead
        var uncleanShutdown: UInt8 = 0  // uncleanShutdown
        var compressAlgorithm: UInt16  // compressAlgorithm (1 = deflate)

        func encode(into w: FieldWriter) {
            w.fill(0, at: 0, count: Header.size)
            w.le32(magic, at: 0)
            w.le32(version, at: 4)
            w.le32(flags, at: 8)
            w.le64(capacity, at: 12)
            w.le64(grainSize, at: 20)
            w.le64(descriptorOffset, at: 28)
            w.le64(descriptorSize, at: 36)
            w.le32(numGTEsPerGT, at: 44)
            w.le64(rgdOffset, at: 48)
            w.le64(gdOffset, at: 56)
            w.le64(overHead, at: 64)
            w.u8(uncleanShutdown, at: 72)
            w.u8(0x0A, at: 73)  // singleEndLineChar
            w.u8(0x20, at: 74)  // nonEndLineChar
            w.u8(0x0D, at: 75)  // doubleEndLineChar1
            w.u8(0x0A, at: 76)  // doubleEndLineChar2
            w.le16(compressAlgorithm, at: 77)
        }

        var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: Header.size)
            out.withUnsafeMutableBytes { encode(into: FieldWriter($0)) }
            return out
        }

        /// Decodes a header; checks only the magic (the reader validates the rest).
        init(decoding r: FieldReader, path: String, at offset: UInt64) throws {
            do {
                guard try r.le32(at: 0) == magic else {
                    throw ContainerError.badMagic(path: path, offset: offset, format: "vmdk")
                }
                version = try r.le32(at: 4)
                flags = try r.le32(at: 8)
                capacity = try r.le64(at: 12)
                grainSize = try r.le64(at: 20)
                descriptorOffset = try r.le64(at: 28)
                descriptorSize = try r.le64(at: 36)
                numGTEsPerGT = try r.le32(at: 44)
                rgdOffset = try r.le64(at: 48)
                gdOffset = try r.le64(at: 56)
                overHead = try r.le64(at: 64)
                uncleanShutdown = try r.u8(at: 72)
                compressAlgorithm = try r.le16(at: 77)
            } catch let e as FieldError {
                throw ContainerError.malformed(path: path, offset: offset, reason: e.description)
            }
        }

        init(
            version: UInt32, flags: UInt32, capacity: UInt64, rgdOffset: UInt64 = 0, gdOffset: UInt64,
            overHead: UInt64, compressAlgorithm: UInt16
        ) {
            self.version = version
            self.flags = flags
            self.capacity = capacity
            self.rgdOffset = rgdOffset
            self.gdOffset = gdOffset
            self.overHead = overHead
            self.compressAlgorithm = compressAlgorithm
        }
    }

    /// A 512-byte metadata marker: `{u64 numSectors; u32 size = 0; u32 type; zero pad}`.
    static func marker(_ type: MarkerType, sectors: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 512)
        out.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.le64(sectors, at: 0)
            w.le32(0, at: 8)
            w.le32(type.rawValue, at: 12)
        }
        return out
    }

    /// The number of GD entries (= GTs) for a capacity in sectors.
    static func directoryEntries(capacity: UInt64) -> UInt64 {
        capacity.dividedRoundingUp(by: grainSectors).dividedRoundingUp(by: gtEntries)
    }

    /// The embedded descriptor text, NUL padded to ``descriptorSectors`` sectors.
    ///
    /// Keys follow open-vmdk's set (formats.md §1.3): adapter type, SCSI/IDE geometry,
    /// longContentID, tools keys and virtualHWVersion, which vSphere reads on import.
    static func descriptor(
        createType: String, capacity: UInt64, fileName: String, cid: UInt32, longContentID: String,
        adapterType: String
    ) -> [UInt8] {
        let ide = adapterType == "ide"
        let heads: UInt64 = ide ? 16 : 255
        let cylinders = min(ide ? 16383 : 65535, capacity.dividedRoundingUp(by: heads * 63))
        let cidHex = hex(UInt64(cid), digits: 8)
        let text = """
            # Disk DescriptorFile
            version=1
            encoding="UTF-8"
            CID=\(cidHex)
            parentCID=ffffffff
            createType="\(createType)"

            # Extent description
            RW \(capacity) SPARSE "\(fileName)"

            # The Disk Data Base
            #DDB

            ddb.adapterType = "\(adapterType)"
            ddb.geometry.cylinders = "\(cylinders)"
            ddb.geometry.heads = "\(heads)"
            ddb.geometry.sectors = "63"
            ddb.longContentID = "\(longContentID)"
            ddb.toolsInstallType = "4"
            ddb.toolsVersion = "2147483647"
            ddb.virtualHWVersion = "4"

            """
        var bytes = Array(text.utf8)
        let size = Int(descriptorSectors * sector)
        precondition(bytes.count <= size, "descriptor longer than its sectors")
        bytes += [UInt8](repeating: 0, count: size - bytes.count)
        return bytes
    }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    /// A file name safe for the descriptor's extent line (no path, no quotes).
    static func extentName(for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? "disk.vmdk"
        let safe = name.filter { $0 != "\"" && $0.isASCII && !$0.isNewline }
        return safe.isEmpty ? "disk.vmdk" : safe
    }
}
