import StampTestSupport
import StampBytes
import StampDisk
import StampIO
import Testing

@Suite struct MBRTests {
    let mib: UInt64 = 1 << 20

    @Test func chsMatchesSfdisk() {
        #expect(MBR.chs(2048) == [0x20, 0x21, 0x00])
        #expect(MBR.chs(22527) == [0x66, 0x25, 0x01])
        #expect(MBR.chs(2_097_151) == [0x8A, 0x08, 0x82])
        #expect(MBR.chs(1) == [0x00, 0x02, 0x00])
        #expect(MBR.chs(1023 * 16065 + 16064) == [0xFE, 0xFF, 0xFF])
        #expect(MBR.chs(5_000_000_000) == [0xFE, 0xFF, 0xFF])
    }

    @Test func entryGoldenBytes() {
        var bytes = [UInt8](repeating: 0, count: 16)
        let entry = MBR.Entry(status: 0x80, type: 0x83, firstLBA: 2048, sectorCount: 20480, chsFirst: 2048, chsLast: 22527)
        bytes.withUnsafeMutableBytes { entry.encode(into: FieldWriter($0), at: 0) }
        #expect(bytes == hex("80 202100 83 662501 00080000 00500000"))
    }

    /// The layout of dib.md §4.6 planned on a 1 GiB disk, written, and read back by partx.
    func partx(_ requests: [PartitionRequest]) throws -> [String] {
        let dir = try TemporaryDirectory()
        let layout = try DiskLayout.plan(scheme: .mbr, requests: requests, diskSize: 1 << 30, seed: [1])
        let path = try writeDisk(DiskAssembler(layout: layout), to: dir.file("mbr.img"))
        let result = try run("partx", ["--raw", "-o", "NR,START,END,TYPE,FLAGS,SCHEME", "-g", "-b", path])
        #expect(result.status == 0, "\(result.stderr)")
        let verify = try run("sfdisk", ["--verify", path])
        // sfdisk lists at most 60 partitions and says so; that is its limit, not a problem found.
        let stderr = verify.stderr.split(separator: "\n").filter { !$0.hasPrefix("Omitting partitions after #60") }
        #expect(stderr.isEmpty && verify.stdout.contains("No errors detected"), "\(verify.stdout)\(verify.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    func request(_ name: String, primary: Bool, type: UInt8 = 0x83) -> PartitionRequest {
        PartitionRequest(name: name, size: .bytes(10 * mib), type: .mbr(code: type), primary: primary)
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorOneLogical() throws {
        #expect(try partx([request("a", primary: false)]) == ["1 2048 2097151 0xf 0x0 dos", "5 4096 24575 0x83 0x0 dos"])
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorOnePrimary() throws {
        #expect(try partx([request("a", primary: true)]) == ["1 2048 22527 0x83 0x0 dos"])
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorThreePrimaries() throws {
        let lines = try partx((1...3).map { request("p\($0)", primary: true) })
        #expect(lines == ["1 2048 22527 0x83 0x0 dos", "2 22528 43007 0x83 0x0 dos", "3 43008 63487 0x83 0x0 dos"])
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorThreePrimariesSevenLogicals() throws {
        let lines = try partx(
            (1...3).map { request("p\($0)", primary: true) } + (1...7).map { request("l\($0)", primary: false) })
        var expected = [
            "1 2048 22527 0x83 0x0 dos", "2 22528 43007 0x83 0x0 dos", "3 43008 63487 0x83 0x0 dos",
            "4 63488 2097151 0xf 0x0 dos",
        ]
        for k in 0..<7 {
            let start = 65536 + k * 22528
            expected.append("\(5 + k) \(start) \(start + 20479) 0x83 0x0 dos")
        }
        #expect(lines == expected)
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorSixtyFourLogicals() throws {
        let lines = try partx((1...64).map { request("l\($0)", primary: false) })
        var expected = ["1 2048 2097151 0xf 0x0 dos"]
        for k in 0..<64 {
            let start = 4096 + k * 22528
            expected.append("\(5 + k) \(start) \(start + 20479) 0x83 0x0 dos")
        }
        #expect(lines == expected)
    }

    @Test(.enabled(if: toolAvailable("partx"))) func dibVectorTypeOverride() throws {
        #expect(try partx([request("a", primary: true, type: 0x0C)]) == ["1 2048 22527 0xc 0x0 dos"])
    }

    /// Sector 0 and both EBRs are byte-identical to what sfdisk writes for the same table.
    @Test(.enabled(if: toolAvailable("sfdisk"))) func identicalToSfdisk() throws {
        let dir = try TemporaryDirectory()
        let reference = dir.file("sfdisk.img")
        #expect(FileManagerTruncate(reference, size: 1 << 30))
        let script = """
            label: dos
            label-id: 0x12345678
            unit: sectors

            start=2048, size=20480, type=83, bootable
            start=22528, size=20480, type=83
            start=43008, size=20480, type=c
            start=63488, type=f
            start=65536, size=20480, type=83
            start=88064, size=20480, type=83

            """
        try runWithInput("sfdisk", ["-q", reference], input: script)
        let requests = [
            PartitionRequest(name: "a", size: .bytes(10 * mib), type: .mbr(code: 0x83), bootable: true),
            request("b", primary: true), request("c", primary: true, type: 0x0C),
            request("d", primary: false), request("e", primary: false),
        ]
        var layout = try DiskLayout.plan(scheme: .mbr, requests: requests, diskSize: 1 << 30, seed: [2])
        layout.mbrSignature = 0x1234_5678
        let ours = try writeDisk(DiskAssembler(layout: layout), to: dir.file("ours.img"))
        for sector: UInt64 in [0, 63488, 86016] {
            #expect(
                try readBytes(ours, offset: sector * 512, count: 512) == readBytes(reference, offset: sector * 512, count: 512),
                "sector \(sector)")
        }
    }

    @Test func dibObservedFullDisk() throws {
        let layout = try StandardLayout.mbr.plan(diskSize: 1_769_013_248, seed: [3])
        #expect(layout.partitions.map { [$0.start, $0.sectors] } == [[2048, 3_451_008]])
        #expect(layout.partitions[0].bootable)
    }

    @Test func refusals() {
        let mib = self.mib
        #expect(throws: DiskLayout.Error.primaryAfterLogical(partition: "b")) {
            try DiskLayout.plan(
                scheme: .mbr, requests: [request("a", primary: false), request("b", primary: true)], diskSize: 1 << 30)
        }
        #expect(throws: DiskLayout.Error.tooManyPrimaries(partition: "p5")) {
            try DiskLayout.plan(scheme: .mbr, requests: (1...5).map { request("p\($0)", primary: true) }, diskSize: 1 << 30)
        }
        #expect(throws: DiskLayout.Error.doesNotFit(partition: "big", neededSectors: 4096 * 1024, availableSectors: 2_095_104)) {
            try DiskLayout.plan(
                scheme: .mbr, requests: [PartitionRequest(name: "big", size: .bytes(2048 * mib), type: .linuxFilesystem)],
                diskSize: 1 << 30)
        }
    }
}
