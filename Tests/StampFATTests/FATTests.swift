import StampTestSupport
import Foundation
import StampIO
import Testing

@testable import StampFAT

/// fsck.fat and mtools, the outside readers `check` runs.
let hasFATTools = toolAvailable("fsck.fat") && toolAvailable("mcopy")

@Suite struct FATTests {
    let mib: UInt64 = 1 << 20

    /// A tree with everything the ESP and `mkfs: vfat` may hold, plus the source files on disk.
    func sampleTree(_ dir: TemporaryDirectory) throws -> (entries: [FATEntry], files: [String: [UInt8]]) {
        var files: [String: [UInt8]] = [:]
        let big = pattern(300_000, seed: 7)
        let source = dir.file("grubx64.efi")
        try Data(big).write(to: URL(fileURLWithPath: source))
        files["EFI/BOOT/BOOTX64.EFI"] = big
        files["EFI/BOOT/grub.cfg"] = Array("set timeout=0\n".utf8)
        files["A long file name with spaces.txt"] = pattern(5000, seed: 3)
        files["longfilename1.txt"] = [1]
        files["longfilename2.txt"] = [2]
        files["empty"] = []
        files["deep/er/still/deeper/file.bin"] = pattern(1536, seed: 9)
        for i in 0..<320 { files[String(format: "many/file-%03d.data", i)] = pattern(i * 7, seed: UInt32(i + 11)) }
        var list: [(path: String, content: FATEntry.Content)] = [
            ("EFI/BOOT/BOOTX64.EFI", .file(path: source, size: UInt64(big.count)))
        ]
        for (path, bytes) in files.sorted(by: { $0.key < $1.key }) where path != "EFI/BOOT/BOOTX64.EFI" {
            list.append((path, .bytes(bytes)))
        }
        return (FATEntry.tree(list, modified: 1_700_000_000), files)
    }

    func write(_ volume: FATVolume, to path: String) throws {
        let sink = try RawFileSink(path: path)
        try volume.emit(into: sink, at: 0)
        try sink.finish(size: volume.size)
    }

    /// fsck.fat -n reports nothing but its banner and the summary; mtools copies every file back.
    /// The tests that call this are enabled only when both tools are installed (a counted skip).
    func check(_ image: String, _ files: [String: [UInt8]], _ dir: TemporaryDirectory) throws {
        let fsck = try run("fsck.fat", ["-n", image])
        let lines = (fsck.stdout + fsck.stderr).split(separator: "\n")
        #expect(fsck.status == 0, "\(fsck.stdout)\(fsck.stderr)")
        #expect(lines.count == 2 && lines[0].hasPrefix("fsck.fat") && lines[1].contains(" files, "), "\(lines)")
        let listing = try run("mdir", ["-i", image, "-/", "::"])
        #expect(listing.status == 0, "\(listing.stderr)")
        for path in files.keys {
            let name = String(path.split(separator: "/").last!)
            // mdir shows exact 8.3 names split ("BOOTX64  EFI"); long names verbatim.
            if FATNames.exactShortName(name) != nil { continue }
            #expect(listing.stdout.contains(name), "mdir does not list \(name)")
        }
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let copy = try run("mcopy", ["-s", "-n", "-i", image, "::*", out])
        #expect(copy.status == 0, "\(copy.stderr)")
        for (path, bytes) in files {
            let back = try? readFile(out + "/" + path)
            #expect(back == bytes, "\(path) differs")
        }
    }

    @Test(.enabled(if: hasFATTools, "needs fsck.fat (dosfstools) and mtools"))
    func fat32RoundTrip() throws {
        let dir = try TemporaryDirectory()
        let (entries, files) = try sampleTree(dir)
        let volume = try FATVolume(options: .init(size: 64 * mib, label: "ESP", volumeID: 0x1234_5678), root: entries)
        #expect(volume.geometry.kind == .fat32)
        let image = dir.file("fat32.img")
        try write(volume, to: image)
        try check(image, files, dir)
    }

    @Test(.enabled(if: hasFATTools, "needs fsck.fat (dosfstools) and mtools"))
    func fat16RoundTrip() throws {
        let dir = try TemporaryDirectory()
        let (entries, files) = try sampleTree(dir)
        let volume = try FATVolume(options: .init(size: 16 * mib, label: "small", volumeID: 1), root: entries)
        #expect(volume.geometry.kind == .fat16)
        let image = dir.file("fat16.img")
        try write(volume, to: image)
        try check(image, files, dir)
    }

    @Test(.enabled(if: hasFATTools, "needs fsck.fat (dosfstools) and mtools"))
    func espSizedVolume() throws {
        let dir = try TemporaryDirectory()
        let entries = FATEntry.tree([("EFI/BOOT/BOOTX64.EFI", .bytes(pattern(70_000, seed: 1)))])
        let volume = try FATVolume(options: .init(size: 550 * mib, label: "ESP", volumeID: 2), root: entries)
        #expect(volume.geometry.kind == .fat32 && volume.geometry.sectorsPerCluster == 8)
        let image = dir.file("esp.img")
        try write(volume, to: image)
        try check(image, ["EFI/BOOT/BOOTX64.EFI": pattern(70_000, seed: 1)], dir)
    }

    /// The 64 MiB FAT32 boot sector, field by field (FATSz32 1009 and 129,022 clusters are what
    /// mkfs.fat 4.2 chose for the same size, ext4.md §4.6).
    @Test func bootSectorGoldenBytes() throws {
        let volume = try FATVolume(options: .init(size: 64 * mib, label: "ESP", volumeID: 0x1234_5678), root: [])
        #expect(volume.geometry.fatSectors == 1009 && volume.geometry.clusterCount == 129_022)
        let boot = volume.bootSector()
        let expected = hex(
            """
            eb5890 5354414d50202020 0002 01 2000 02 0000 0000 f8 0000 3f00 ff00 00000000 00000200
            f1030000 0000 0000 02000000 0100 0600 000000000000000000000000
            80 00 29 78563412 4553502020202020202020 4641543332202020
            """)
        #expect(Array(boot[0..<90]) == expected)
        #expect(Array(boot[90..<94]) == [0xFA, 0xF4, 0xEB, 0xFD] && boot[510] == 0x55 && boot[511] == 0xAA)
        let info = volume.fsInfo()
        #expect(Array(info[0..<4]) == hex("52526141") && Array(info[484..<496]) == hex("72724161 fdf70100 03000000"))
        #expect(Array(info[508..<512]) == hex("000055aa"))
    }

    @Test func namesAndTimes() {
        #expect(FATNames.exactShortName("BOOTX64.EFI") == Array("BOOTX64 EFI".utf8))
        #expect(FATNames.exactShortName("grub.cfg") == nil)
        #expect(FATNames.exactShortName("file-000.data") == nil)
        #expect(FATNames.generatedShortName("grub.cfg", taken: []) == Array("GRUB    CFG".utf8))
        #expect(FATNames.generatedShortName("longfilename.txt", taken: []) == Array("LONGFI~1TXT".utf8))
        #expect(FATNames.generatedShortName("longfilename.txt", taken: [Array("LONGFI~1TXT".utf8)]) == Array("LONGFI~2TXT".utf8))
        #expect(FATNames.generatedShortName("a b+c.tar.gz", taken: []) == Array("AB_CTA~1GZ ".utf8))
        #expect(FATNames.checksum(Array("GRUB    CFG".utf8)) == 0x92)
        let lfn = FATNames.longNameEntries("grub.cfg", shortName: Array("GRUB    CFG".utf8))
        #expect(lfn.count == 1)
        #expect(
            lfn[0]
                == hex(
                    """
                    41 6700 7200 7500 6200 2e00 0f 00 92 6300 6600 6700 0000 ffff ffff 0000 ffff ffff
                    """))
        let stamp = DOSTimestamp(unixSeconds: 1_700_000_000)  // 2023-11-14 22:13:20 UTC
        #expect(stamp.date == 0x576E && stamp.time == 0xB1AA)
        #expect(DOSTimestamp(unixSeconds: 0) == DOSTimestamp(unixSeconds: 315_532_800))
    }

    @Test func deterministic() throws {
        let dir = try TemporaryDirectory()
        let (entries, _) = try sampleTree(dir)
        func bytes() throws -> [UInt8] {
            let sink = MemorySink()
            try FATVolume(options: .init(size: 16 * mib, volumeID: FATVolume.volumeID(seed: [1, 2])), root: entries)
                .emit(into: sink, at: 0)
            return sink.bytes
        }
        #expect(try bytes() == bytes())
    }

    @Test func refusals() throws {
        #expect(throws: FATVolume.Error.invalidName(path: "/EFI/a:b", reason: "contains ':'")) {
            try FATVolume(options: .init(size: 16 * mib), root: [.directory("EFI", [.file("a:b", bytes: [])])])
        }
        #expect(throws: FATVolume.Error.duplicateName(path: "/readme")) {
            try FATVolume(options: .init(size: 16 * mib), root: [.file("README", bytes: []), .file("readme", bytes: [])])
        }
        #expect(throws: FATVolume.Error.noGeometry(size: 16 * mib, kind: "fat32")) {
            try FATVolume(options: .init(size: 16 * mib, kind: .fat32), root: [])
        }
        #expect(throws: FATVolume.Error.noGeometry(size: 1 * mib, kind: "fat16 or fat32")) {
            try FATVolume(options: .init(size: 1 * mib), root: [])
        }
        #expect(throws: FATVolume.Error.invalidLabel("bad/label")) {
            try FATVolume(options: .init(size: 16 * mib, label: "bad/label"), root: [])
        }
        #expect(throws: FATVolume.Error.self) {
            try FATVolume(options: .init(size: 4 * mib), root: [.file("big", bytes: [UInt8](repeating: 1, count: 5 << 20))])
        }
    }
}
