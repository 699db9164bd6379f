import Foundation
import StampBytes
import StampContainers
import StampIO
import Testing

/// Each header compared with bytes derived by hand from the format's specification
/// (the specifications listed in docs/formats.md), not from our encoder.
@Suite struct HeaderGoldenTests {
    var options: ContainerOptions {
        var o = ContainerOptions()
        o.identifier = Identifier(bytes: Array(0..<16))
        o.timestamp = 946_684_800 + 0x1234_5678
        o.workers = 2
        return o
    }

    /// One non-zero cluster at 0 of a 1 MiB disk.
    func writeOneCluster(_ sink: any ImageSink, size: UInt64 = 1 << 20) throws {
        let data = [UInt8](repeating: 0xAB, count: 4096)
        try data.withUnsafeBytes { try sink.write($0, at: 0) }
        try sink.finish(size: size)
    }

    @Test func vmdkStreamHeader() throws {
        let dir = TempDir()
        let path = dir.file("a.vmdk")
        try writeOneCluster(try VMDKStreamWriter(path: path, virtualSize: 1 << 20, options: options))
        let bytes = try readAll(path)
        // §1.1: magic "KDMV", version 3, flags 0x30001, capacity 2048 sectors, grain 128,
        // descriptor at 1 (20 sectors), 512 GTEs, rgd 0, gd GD_AT_END, overHead 128,
        // unclean 0, "\n", " ", "\r\n", compress 1 (deflate).
        let expected = hexBytes(
            """
            4b444d56 03000000 01000300 0008000000000000 8000000000000000
            0100000000000000 1400000000000000 00020000 0000000000000000
            ffffffffffffffff 8000000000000000 00 0a 20 0d 0a 0100
            """)
        #expect(Array(bytes[0..<expected.count]) == expected)
        #expect(bytes[expected.count..<512].allSatisfy { $0 == 0 })
        // The file ends: footer marker, footer (= header with the real gdOffset), EOS.
        let n = bytes.count
        #expect(Array(bytes[(n - 1536)..<(n - 1520)]) == hexBytes("0100000000000000 00000000 03000000"))
        #expect(Array(bytes[(n - 1024)..<(n - 1024 + 56)]) == Array(expected[0..<56]))
        #expect(bytes[(n - 512)..<n].allSatisfy { $0 == 0 })
        // The descriptor at sector 1 carries the keys vSphere reads.
        let descriptor = String(decoding: bytes[512..<(512 + 20 * 512)].prefix { $0 != 0 }, as: UTF8.self)
        #expect(descriptor.contains("createType=\"streamOptimized\""))
        #expect(descriptor.contains("CID=00010203"))
        #expect(descriptor.contains("RW 2048 SPARSE \"a.vmdk\""))
        #expect(descriptor.contains("ddb.longContentID = \"000102030405060708090a0b0c0d0e0f\""))
        #expect(descriptor.contains("ddb.adapterType = \"lsilogic\""))
        #expect(descriptor.contains("ddb.virtualHWVersion = \"4\""))
        // The first grain marker at sector 128: lba 0, then a zlib stream (78 xx).
        #expect(Array(bytes[65536..<65544]) == le64(0))
        #expect(bytes[65548] == 0x78)
    }

    @Test func vmdkSparseHeader() throws {
        let dir = TempDir()
        let path = dir.file("s.vmdk")
        try writeOneCluster(try VMDKSparseWriter(path: path, virtualSize: 1 << 20, options: options))
        let bytes = try readAll(path)
        // §1.5: version 1, flags 0x3, rgd at 21, gd at 21 + 1 (RGD) + 4 (one RGT) = 26,
        // overHead = 26 + 1 + 4 = 31 rounded to 128; no compression.
        let expected = hexBytes(
            """
            4b444d56 01000000 03000000 0008000000000000 8000000000000000
            0100000000000000 1400000000000000 00020000 1500000000000000
            1a00000000000000 8000000000000000 00 0a 20 0d 0a 0000
            """)
        #expect(Array(bytes[0..<expected.count]) == expected)
        // GD entries point at the GTs (22 for the redundant copy, 27 for the primary), and
        // GT entry 0 at the first grain (sector 128).
        #expect(Array(bytes[(21 * 512)..<(21 * 512 + 4)]) == le32(22))
        #expect(Array(bytes[(26 * 512)..<(26 * 512 + 4)]) == le32(27))
        #expect(Array(bytes[(27 * 512)..<(27 * 512 + 4)]) == le32(128))
        #expect(bytes.count == 128 * 512 + 65536)
    }

    @Test(arguments: [Qcow2Compat.v3, .v2]) func qcow2Header(compat: Qcow2Compat) throws {
        let dir = TempDir()
        let path = dir.file("a.qcow2")
        var o = options
        o.qcow2Compat = compat
        try writeOneCluster(try Qcow2Writer(path: path, virtualSize: 1 << 20, options: o))
        let bytes = try readAll(path)
        // §3.1 with data streamed first: cluster 0 header, 1 data, 2 L2, 3 L1, 4 refcount
        // table, 5 refcount block.
        var expected = hexBytes(
            """
            514649fb 0000000\(compat == .v3 ? 3 : 2) 0000000000000000 00000000 00000010
            0000000000100000 00000000 00000001 0000000000030000 0000000000040000
            00000001 00000000 0000000000000000
            """)
        if compat == .v3 {
            expected += hexBytes("0000000000000000 0000000000000000 0000000000000000 00000004 00000068")
        }
        #expect(Array(bytes[0..<expected.count]) == expected)
        #expect(bytes[expected.count..<65536].allSatisfy { $0 == 0 })
        #expect(bytes.count == 6 * 65536)
        // L2 entry 0 = cluster 1 | COPIED; L1 entry 0 = cluster 2 | COPIED; refcount table
        // entry 0 = cluster 5; six refcounts of 1.
        #expect(Array(bytes[(2 * 65536)..<(2 * 65536 + 8)]) == be64(1 << 63 | 0x10000))
        #expect(Array(bytes[(3 * 65536)..<(3 * 65536 + 8)]) == be64(1 << 63 | 0x20000))
        #expect(Array(bytes[(4 * 65536)..<(4 * 65536 + 8)]) == be64(0x50000))
        #expect(Array(bytes[(5 * 65536)..<(5 * 65536 + 14)]) == hexBytes("0001 0001 0001 0001 0001 0001 0000"))
    }

    @Test func qcow2CompressedClusterDescriptor() throws {
        let dir = TempDir()
        let path = dir.file("c.qcow2")
        var o = options
        o.qcow2Compressed = true
        try writeOneCluster(try Qcow2Writer(path: path, virtualSize: 1 << 20, options: o))
        let bytes = try readAll(path)
        // §3.2: compressed L2 entry = bit 62 | (sectors touched - 1) << 54 | byte offset,
        // without bit 63; the data starts right after the header cluster.
        let entry = bytes[(2 * 65536)..<(2 * 65536 + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(entry >> 62 == 1)
        #expect(entry & ((1 << 54) - 1) == 65536)
        let sectors = (entry >> 54 & 0xFF) + 1
        // 4096 × 0xAB then zeros compress to a few dozen bytes: one sector.
        #expect(sectors == 1)
        // The refcount block counts the compressed data's cluster once, like every other.
        #expect(Array(bytes[(5 * 65536)..<(5 * 65536 + 14)]) == hexBytes("0001 0001 0001 0001 0001 0001 0000"))
    }

    /// With a fixed identifier and timestamp every format is byte-for-byte reproducible.
    @Test(arguments: [OutputFormat.qcow2, .vmdkStreamOptimized, .vmdkMonolithicSparse, .vhdDynamic, .vhdFixed])
    func outputIsDeterministic(format: OutputFormat) throws {
        let (a, b) = (TempDir(), TempDir())  // same file name: VMDK descriptors name their file
        let disk = SyntheticDisk(large: false)
        for dir in [a, b] {
            try disk.feed(
                try makeImageSink(format: format, path: dir.file("disk"), virtualSize: disk.size, options: options),
                sourceDirectory: dir)
        }
        #expect(same(try readAll(a.file("disk")), try readAll(b.file("disk"))))
    }

    @Test func vhdFooters() throws {
        let dir = TempDir()
        let fixed = dir.file("f.vhd")
        try writeOneCluster(try VHDWriter(path: fixed, virtualSize: 64 << 20, kind: .fixed, options: options), size: 64 << 20)
        let bytes = try readAll(fixed)
        // §4.1: "conectix", features 2, version 1.0, data offset all-ones (fixed),
        // timestamp, creator "qem2" 5.3 "Wi2k", sizes 64 MiB, CHS 963/8/17 (spec appendix),
        // type 2, checksum (ones' complement of the byte sum, computed by hand), unique id.
        let expected = hexBytes(
            """
            636f6e6563746978 00000002 00010000 ffffffffffffffff 12345678
            71656d32 00050003 5769326b 0000000004000000 0000000004000000
            03c3 08 11 00000002 ffffef58 000102030405060708090a0b0c0d0e0f 00
            """)
        #expect(bytes.count == (64 << 20) + 512)
        #expect(Array(bytes[(64 << 20)..<((64 << 20) + expected.count)]) == expected)

        let dynamic = dir.file("d.vhd")
        try writeOneCluster(try VHDWriter(path: dynamic, virtualSize: 64 << 20, kind: .dynamic, options: options), size: 64 << 20)
        let d = try readAll(dynamic)
        // Footer copy at 0 with data offset 512 and disk type 3; "cxsparse" at 512 with
        // table offset 1536, 32 entries of 2 MiB blocks; BAT entry 0 = sector 4 (after the
        // 128-byte BAT padded to 512), the rest 0xFFFFFFFF.
        #expect(Array(d[0..<8]) == Array("conectix".utf8))
        #expect(Array(d[16..<24]) == be64(512))
        #expect(Array(d[60..<64]) == be32(3))
        #expect(Array(d[0..<512]) == Array(d[(d.count - 512)...]))
        #expect(
            Array(d[512..<(512 + 40)])
                == hexBytes("6378737061727365 ffffffffffffffff 0000000000000600 00010000 00000020 00200000 ")
                + Array(d[(512 + 36)..<(512 + 40)]))
        #expect(Array(d[1536..<1544]) == be32(4) + be32(0xFFFF_FFFF))
        #expect(d[2048..<2560].allSatisfy { $0 == 0xFF })  // the block's sector bitmap
        #expect(d.count == 2560 + (2 << 20) + 512)
    }
}
