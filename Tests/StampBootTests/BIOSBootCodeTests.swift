import StampIO
import Testing

@testable import StampBoot

/// Golden bytes for the BIOS embedding, derived by hand from the fields GRUB
/// 2.06 patches (its `util/setup.c`, `include/grub/i386/pc/boot.h`, `diskboot.S`).
///
/// The inputs are synthetic so every byte's origin is visible: boot.img byte i is
/// `0xB0 ^ (i & 0x3F)` (differs from every value patched in), sector 0 is 0xC3 everywhere outside a protective
/// MBR entry, and core.img is 0x5D-filled with grub-mkimage's blocklist defaults.
struct BIOSBootCodeTests {
    static func bootImage() -> [UInt8] {
        var b = (0..<512).map { UInt8(0xB0 ^ ($0 & 0x3F)) }
        b[510] = 0x55
        b[511] = 0xAA
        return b
    }

    /// A protective MBR as sgdisk writes it for a 2 GiB disk, on a 0xC3 background (so a
    /// byte copied from it is recognisable).
    static func sector0() -> [UInt8] {
        var s = [UInt8](repeating: 0xC3, count: 512)
        // disk signature (0x1B8) + 2 reserved bytes
        s.replaceSubrange(0x1B8..<0x1BE, with: [0x11, 0x22, 0x33, 0x44, 0x00, 0x00])
        // entry 1: status 0, CHS 00 02 00, type EE, CHS FF FF FF, LBA 1, size 0x3FFFFF
        s.replaceSubrange(
            0x1BE..<0x1CE, with: [0x00, 0x00, 0x02, 0x00, 0xEE, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 0xFF, 0xFF, 0x3F, 0])
        s.replaceSubrange(0x1CE..<0x1FE, with: [UInt8](repeating: 0, count: 48))
        s[510] = 0x55
        s[511] = 0xAA
        return s
    }

    /// 300 sectors minus 100 bytes, with diskboot's defaults at 0x1F4: start 2, len 299, seg 0x820.
    static func coreImage() -> [UInt8] {
        var c = [UInt8](repeating: 0x5D, count: 300 * 512 - 100)
        c.replaceSubrange(0x1E8..<0x1F4, with: [UInt8](repeating: 0, count: 12))
        c.replaceSubrange(0x1F4..<0x200, with: [0x02, 0, 0, 0, 0, 0, 0, 0, 0x2B, 0x01, 0x20, 0x08])
        return c
    }

    @Test func mbrKeepsBPBAndTableAndPatchesFields() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        let mbr = try code.patchedMBR(sector0: Self.sector0(), coreLBA: 2048)
        let boot = Self.bootImage()
        let s0 = Self.sector0()
        #expect(mbr.count == 512)
        #expect(Array(mbr[0x00..<0x03]) == Array(boot[0x00..<0x03]))  // jmp + nop: boot.img
        #expect(Array(mbr[0x03..<0x5A]) == [UInt8](repeating: 0xC3, count: 87))  // BPB: sector 0
        #expect(Array(mbr[0x5A..<0x5C]) == Array(boot[0x5A..<0x5C]))
        #expect(Array(mbr[0x5C..<0x64]) == [0x00, 0x08, 0, 0, 0, 0, 0, 0])  // kernel sector 2048 LE
        #expect(mbr[0x64] == 0xFF)  // boot drive: from DL
        #expect(mbr[0x65] == boot[0x65])
        #expect(Array(mbr[0x66..<0x68]) == [0x90, 0x90])  // drive check NOPed
        #expect(Array(mbr[0x68..<0x1B8]) == Array(boot[0x68..<0x1B8]))  // code: boot.img
        #expect(Array(mbr[0x1B8..<0x1FE]) == Array(s0[0x1B8..<0x1FE]))  // signature + table
        #expect(Array(mbr[0x1BE..<0x1C2]) == [0x00, 0x00, 0x02, 0x00])
        #expect(Array(mbr[0x1FE..<0x200]) == [0x55, 0xAA])
    }

    /// The whole 512 bytes against a literal: any change in the rules shows up here.
    @Test func mbrGoldenBytes() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        let mbr = try code.patchedMBR(sector0: Self.sector0(), coreLBA: 0x0102_0304_0506_0708)
        var expected = Self.bootImage()
        for i in 0x03..<0x5A { expected[i] = 0xC3 }
        for (i, b) in [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01].enumerated() { expected[0x5C + i] = UInt8(b) }
        expected[0x64] = 0xFF
        expected[0x66] = 0x90
        expected[0x67] = 0x90
        let table: [UInt8] =
            [
                0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0xEE, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 0xFF, 0xFF,
                0x3F, 0,
            ]
            + [UInt8](repeating: 0, count: 48)
        expected.replaceSubrange(0x1B8..<0x1FE, with: table)
        #expect(mbr == expected)
    }

    @Test func allowFloppyKeepsDriveCheckJump() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        let mbr = try code.patchedMBR(sector0: Self.sector0(), coreLBA: 1, allowFloppy: true)
        #expect(Array(mbr[0x66..<0x68]) == Array(Self.bootImage()[0x66..<0x68]))
    }

    @Test func coreBlocklistForGPTBIOSBootPartition() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        #expect(code.coreSectors == 300)
        let (_, core, lba) = try code.sectors(
            sector0: Self.sector0(), placement: .biosBootPartition(startLBA: 2048, sectors: 2048))
        #expect(lba == 2048)
        #expect(core.count == 300 * 512)
        // start = 2049 (0x801), len = 299 (0x12B), segment 0x820
        #expect(Array(core[0x1F4..<0x200]) == [0x01, 0x08, 0, 0, 0, 0, 0, 0, 0x2B, 0x01, 0x20, 0x08])
        #expect(Array(core[0x1E8..<0x1F4]) == [UInt8](repeating: 0, count: 12))
        #expect(Array(core[0..<0x1E8]) == [UInt8](repeating: 0x5D, count: 0x1E8))
        #expect(Array(core[(300 * 512 - 100)...]) == [UInt8](repeating: 0, count: 100))  // padding
    }

    @Test func coreBlocklistForPostMBRGap() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        let (mbr, core, lba) = try code.sectors(sector0: Self.sector0(), placement: .postMBRGap(firstPartitionLBA: 2048))
        #expect(lba == 1)
        #expect(Array(mbr[0x5C..<0x64]) == [0x01, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(core[0x1F4..<0x200]) == [0x02, 0, 0, 0, 0, 0, 0, 0, 0x2B, 0x01, 0x20, 0x08])
    }

    @Test func terminatorIsClearedEvenIfCoreHadBytesThere() throws {
        var core = Self.coreImage()
        for i in 0x1E8..<0x1F4 { core[i] = 0xEE }
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: core)
        #expect(Array(try code.patchedCore(lba: 34)[0x1E8..<0x1F4]) == [UInt8](repeating: 0, count: 12))
    }

    @Test(arguments: [
        (BIOSPlacement.postMBRGap(firstPartitionLBA: 300), UInt64(299)),
        (BIOSPlacement.biosBootPartition(startLBA: 2048, sectors: 299), UInt64(299)),
    ])
    func coreThatDoesNotFitIsRejected(placement: BIOSPlacement, capacity: UInt64) throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage(), source: "/t")
        #expect(
            throws: BootError.coreImageDoesNotFit(
                path: "/t/core.img", sectors: 300, capacity: capacity, region: placement.description)
        ) {
            try code.sectors(sector0: Self.sector0(), placement: placement)
        }
        let error = BootError.coreImageDoesNotFit(
            path: "/t/core.img", sectors: 300, capacity: 299, region: "the post-mbr gap before lba 300")
        #expect(error.description == "/t/core.img: core.img needs 300 sectors but the post-mbr gap before lba 300 holds only 299")
    }

    @Test func exactFitIsAccepted() throws {
        let code = try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
        _ = try code.sectors(sector0: Self.sector0(), placement: .postMBRGap(firstPartitionLBA: 301))
        _ = try code.sectors(sector0: Self.sector0(), placement: .biosBootPartition(startLBA: 34, sectors: 300))
    }

    @Test func malformedInputsAreRejected() {
        #expect(throws: BootError.bootImageSize(path: "g/boot.img", size: 511)) {
            try BIOSBootCode(bootImage: [UInt8](repeating: 0, count: 511), coreImage: Self.coreImage(), source: "g")
        }
        #expect(throws: BootError.bootImageSignature(path: "g/boot.img")) {
            try BIOSBootCode(bootImage: [UInt8](repeating: 0, count: 512), coreImage: Self.coreImage(), source: "g")
        }
        #expect(throws: BootError.coreImageTooSmall(path: "g/core.img", size: 10)) {
            try BIOSBootCode(bootImage: Self.bootImage(), coreImage: [UInt8](repeating: 0, count: 10), source: "g")
        }
        #expect(throws: BootError.invalidPlacement("first partition at lba 1 leaves no post-mbr gap")) {
            try BIOSPlacement.postMBRGap(firstPartitionLBA: 1).capacity()
        }
        #expect(throws: BootError.sectorSize(what: "sector 0", size: 4096)) {
            try BIOSBootCode(bootImage: Self.bootImage(), coreImage: Self.coreImage())
                .patchedMBR(sector0: [UInt8](repeating: 0, count: 4096), coreLBA: 1)
        }
    }
}

struct BootRegionProducerTests {
    @Test func emitsBytesAtTheBase() throws {
        let code = try BIOSBootCode(bootImage: BIOSBootCodeTests.bootImage(), coreImage: BIOSBootCodeTests.coreImage())
        let core = try code.patchedCore(lba: 2048)
        let sink = MemorySink()
        try BootRegionProducer(core).emit(into: sink, at: 2048 * 512)
        #expect(sink.bytes.count == 2048 * 512 + core.count)
        #expect(Array(sink.bytes[(2048 * 512)...]) == core)
        #expect(BootRegionProducer(core).size == 300 * 512)
    }
}
