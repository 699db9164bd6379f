import StampTestSupport
import StampBytes
import StampDisk
import StampIO
import Testing

@Suite struct GPTTests {
    let mib: UInt64 = 1 << 20

    /// The 64 MiB disk that `sgdisk -n1:2048:+1M -t1:EF02 -c1:BSP -n2:0:0 -t2:8300 -c2:root -A2:set:2` makes.
    func sgdiskLikeLayout() -> DiskLayout {
        let n: UInt64 = 131_072
        return DiskLayout(
            scheme: .gpt, sectorCount: n,
            partitions: [
                .init(
                    name: "BSP", number: 1, start: 2048, sectors: 2048, type: .biosBoot, role: .biosBoot,
                    uniqueGUID: Identifier("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")!),
                .init(
                    name: "root", number: 2, start: 4096, sectors: GPT.lastUsableLBA(sectorCount: n) - 4096 + 1,
                    type: .linuxFilesystem, role: .root, attributes: .legacyBIOSBootable,
                    uniqueGUID: Identifier("AAAAAAAA-BBBB-CCCC-DDDD-000000000002")!),
            ],
            diskGUID: Identifier("01234567-89AB-CDEF-0123-456789ABCDEF")!, mbrSignature: 0)
    }

    @Test func protectiveMBRGoldenBytes() {
        let sector = GPT.protectiveMBR(sectorCount: 131_072)
        #expect(Array(sector[446..<462]) == hex("00 000200 ee 282008 01000000 ffff0100"))
        #expect(sector[510] == 0x55 && sector[511] == 0xAA)
        #expect(sector[0..<446].allSatisfy { $0 == 0 } && sector[462..<510].allSatisfy { $0 == 0 })
        // Big disks: the size saturates at 0xFFFFFFFF and the CHS end at FE FF FF.
        let big = GPT.protectiveMBR(sectorCount: 1 << 34)
        #expect(Array(big[446..<462]) == hex("00 000200 ee feffff 01000000 ffffffff"))
    }

    @Test func headerGoldenBytes() throws {
        let layout = sgdiskLikeLayout()
        let array = try GPT.entryArray(for: layout)
        let header = GPT.header(for: layout, primary: true, arrayCRC: crc32(0, array))
        let expected = hex(
            """
            4546492050415254 00000100 5c000000 \(crcHex(header)) 00000000
            0100000000000000 ffff010000000000 2200000000000000 deff010000000000
            67452301ab89efcd0123456789abcdef 0200000000000000 80000000 80000000 \(crcHex(array, whole: true))
            """)
        #expect(Array(header[0..<92]) == expected)
        #expect(header[92...].allSatisfy { $0 == 0 })
        // The entry: type GUID mixed-endian, LBAs, attributes bit 2, name in UTF-16LE.
        let entry = Array(array[128..<256])
        #expect(Array(entry[0..<16]) == hex("af3dc60f 8384 7247 8e793d69d8477de4"))
        #expect(Array(entry[32..<56]) == hex("0010000000000000 deff010000000000 0400000000000000"))
        #expect(Array(entry[56..<66]) == hex("72 00 6f 00 6f 00 74 00 00 00"))
    }

    func crcHex(_ bytes: [UInt8], whole: Bool = false) -> String {
        var copy = whole ? bytes : Array(bytes[0..<92])
        if !whole { for i in 16..<20 { copy[i] = 0 } }
        let crc = crc32(0, copy)
        return (0..<4).map { String(format2(UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))))) }.joined()
    }

    func format2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    /// Our table is byte-identical to sgdisk's for the same partitions and GUIDs.
    @Test(.enabled(if: toolAvailable("sgdisk"))) func identicalToSgdisk() throws {
        let dir = try TemporaryDirectory()
        let reference = dir.file("sgdisk.img")
        #expect(FileManagerTruncate(reference, size: 64 * mib))
        let made = try run(
            "sgdisk",
            [
                "-U", "01234567-89AB-CDEF-0123-456789ABCDEF",
                "-n1:2048:+1M", "-t1:EF02", "-c1:BSP", "-u1:AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
                "-n2:0:0", "-t2:8300", "-c2:root", "-u2:AAAAAAAA-BBBB-CCCC-DDDD-000000000002", "-A2:set:2", reference,
            ])
        #expect(made.status == 0, "\(made.stderr)")
        let ours = try writeDisk(DiskAssembler(layout: sgdiskLikeLayout()), to: dir.file("ours.img"))
        #expect(try readBytes(ours, offset: 0, count: 34 * 512) == readBytes(reference, offset: 0, count: 34 * 512))
        let tail = (131_072 - 33) * 512
        #expect(
            try readBytes(ours, offset: UInt64(tail), count: 33 * 512)
                == readBytes(reference, offset: UInt64(tail), count: 33 * 512))
    }

    @Test func dibSgdiskVector() throws {
        // dib.md §4.2: 1 GiB, ESP 8 MiB EF00, BSP 8 MiB EF02, root 100% -> +1006M.
        let requests = [
            PartitionRequest(name: "ESP", size: .bytes(8 * mib), type: .efiSystem, role: .efiSystem),
            PartitionRequest(name: "BSP", size: .bytes(8 * mib), type: .biosBoot, role: .biosBoot),
            PartitionRequest(name: "Root Part", size: .percent(100), type: .linuxFilesystem, role: .root),
        ]
        let layout = try DiskLayout.plan(scheme: .gpt, requests: requests, diskSize: 1 << 30, seed: [1])
        #expect(layout.partitions.map(\.start) == [2048, 18432, 34816])
        #expect(layout.partitions.map(\.size) == [8 * mib, 8 * mib, 1006 * mib])
    }

    @Test func standardLayoutSizes() throws {
        let efi = try StandardLayout.efi.plan(rootSize: 700 * mib, seed: [9])
        #expect(efi.partitions.map(\.name) == ["ESP", "BSP", "root"])
        #expect(efi.partitions.map(\.start) == [2048, 1_128_448, 1_144_832])
        #expect(efi.partitions.map(\.size) == [550 * mib, 8 * mib, 700 * mib])
        #expect(efi.size == (2 + 550 + 8 + 700) * mib)
        let gpt = try StandardLayout.gpt.plan(rootSize: 700 * mib + 1, seed: [9])
        #expect(gpt.partitions.map(\.size) == [8 * mib, 701 * mib])
        let mbr = try StandardLayout.mbr.plan(rootSize: 700 * mib, seed: [9])
        #expect(mbr.partitions.map(\.start) == [2048] && mbr.partitions[0].size >= 700 * mib)
        #expect(mbr.size == 702 * mib)
        let none = try StandardLayout.none.plan(rootSize: 700 * mib, seed: [9])
        #expect(none.scheme == .none && none.size == 700 * mib && none.partitions[0].start == 0)
        // Seeds make the GUIDs deterministic.
        #expect(try StandardLayout.efi.plan(rootSize: 700 * mib, seed: [9]) == efi)
        #expect(try StandardLayout.efi.plan(rootSize: 700 * mib, seed: [8]).diskGUID != efi.diskGUID)
    }

    /// Every standard layout, written with content and boot code, passes sgdisk/sfdisk checks.
    @Test(.enabled(if: toolAvailable("sgdisk") && toolAvailable("sfdisk")), arguments: [StandardLayout.gpt, .efi, .mbr])
    func standardLayoutValidates(_ kind: StandardLayout) throws {
        let dir = try TemporaryDirectory()
        let layout = try kind.plan(rootSize: 64 * mib, seed: Array(kind.rawValue.utf8))
        let disk = DiskAssembler(layout: layout)
        try disk.setContent(MarkerProducer(size: 64 * mib, marker: 0xAB), forRole: .root)
        if kind == .efi { try disk.setContent(MarkerProducer(size: 550 * mib, marker: 0xCD), forRole: .efiSystem) }
        let bootstrap = [UInt8](repeating: 0x90, count: 512)
        disk.bootCode = BootCode(bootstrap: bootstrap, core: BytesProducer([UInt8](repeating: 0xC0, count: 4096)))
        let path = try writeDisk(disk, to: dir.file("disk.img"))

        let verify = try run("sfdisk", ["--verify", path])
        #expect(verify.stderr.isEmpty && verify.stdout.contains("No errors detected"), "\(verify.stdout)\(verify.stderr)")
        let dump = try run("sfdisk", ["--dump", path]).stdout
        for p in layout.partitions {
            #expect(
                dump.contains(
                    "start=\(String(repeating: " ", count: max(0, 12 - "\(p.start)".count)))\(p.start), size=\(String(repeating: " ", count: max(0, 12 - "\(p.sectors)".count)))\(p.sectors)"
                ), "\(dump)")
        }
        if kind.scheme == .gpt {
            let v = try run("sgdisk", ["-v", path])
            #expect(
                v.stdout.contains("No problems found") && !v.stdout.contains("Problem:") && !v.stdout.contains("Caution"),
                "\(v.stdout)")
            let printed = try run("sgdisk", ["-p", path]).stdout
            for p in layout.partitions {
                let code = p.type.description
                #expect(printed.contains("\(p.start)") && printed.contains(code) && printed.contains(p.name), "\(printed)")
            }
            #expect(dump.contains("label: gpt") && dump.contains("name=\"root\""))
        } else {
            #expect(dump.contains("label: dos") && dump.contains("type=83, bootable"), "\(dump)")
        }
        // Boot code: bytes 0..<440 from the bootstrap, the table untouched; core at the embedding area.
        let sector0 = try readBytes(path, offset: 0, count: 512)
        #expect(sector0[0..<440].allSatisfy { $0 == 0x90 } && sector0[510] == 0x55 && sector0[511] == 0xAA)
        let core = layout.embeddingArea!.lowerBound
        #expect(kind.scheme == .gpt ? core == 2048 + (kind == .efi ? 1_126_400 : 0) : core == 1)
        #expect(try readBytes(path, offset: core * 512, count: 4096).allSatisfy { $0 == 0xC0 })
        let root = layout.partition(role: .root)!
        #expect(try readBytes(path, offset: root.offset, count: 512).allSatisfy { $0 == 0xAB })
    }

    @Test func assemblerRefusals() throws {
        let layout = try StandardLayout.gpt.plan(rootSize: 16 * mib, seed: [1])
        let disk = DiskAssembler(layout: layout)
        #expect(throws: DiskLayout.Error.contentTooLarge(partition: "root", contentBytes: 17 * mib, partitionBytes: 16 * mib)) {
            try disk.setContent(MarkerProducer(size: 17 * mib, marker: 1), forRole: .root)
        }
        #expect(throws: DiskLayout.Error.noSuchPartition("efiSystem")) {
            try disk.setContent(MarkerProducer(size: mib, marker: 1), forRole: .efiSystem)
        }
        disk.bootCode = BootCode(core: MarkerProducer(size: 9 * mib, marker: 1))
        #expect(throws: DiskLayout.Error.bootCodeTooLarge(what: "core.img", bytes: 9 * mib, capacity: 8 * mib)) {
            try disk.validate()
        }
        let bare = DiskAssembler(layout: try StandardLayout.none.plan(rootSize: mib), bootCode: BootCode(bootstrap: [1]))
        #expect(throws: DiskLayout.Error.noEmbeddingArea) { try bare.validate() }
    }

    @Test func bareLayoutIsTheFilesystem() throws {
        let layout = try StandardLayout.none.plan(rootSize: 3 * mib)
        let disk = DiskAssembler(layout: layout)
        try disk.setContent(MarkerProducer(size: 3 * mib, marker: 0x5A), forRole: .root)
        let sink = MemorySink()
        try disk.write(to: sink)
        #expect(sink.finishedSize == 3 * mib && sink.bytes[0] == 0x5A && sink.bytes[Int(3 * mib) - 1] == 0x5A)
    }
}
