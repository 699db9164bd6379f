import Foundation
import Testing

import StampBytes
import StampContainers
import StampDisk
import StampPipeline
import StampTestSupport

/// `stamp pack` over every layout, each output checked by tools stamp did not write.
@Suite(.serialized, .enabled(if: toolAvailable("qemu-img") && toolAvailable("e2fsck") && toolAvailable("sgdisk")))
struct PackTests {
    static func makeTree(_ dir: TemporaryDirectory) throws -> String {
        let root = dir.file("root")
        try sh(
            """
            set -e; mkdir -p \(root)/etc \(root)/usr/lib \(root)/boot
            head -c 9000000 /dev/urandom > \(root)/usr/lib/blob; echo hello > \(root)/etc/motd
            for i in $(seq 1 500); do echo $i > \(root)/usr/lib/f$i; done; ln -s ../etc/motd \(root)/usr/motd
            """)
        return root
    }

    static let qemuName: [String: String] = ["raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vhd": "vpc"]

    @Test(arguments: StandardLayout.allCases)
    func everyFormatIsValidAndIdenticalToRaw(layout: StandardLayout) throws {
        let dir = try TemporaryDirectory("stamp-pack")
        let root = try Self.makeTree(dir)
        var request = PackRequest(
            root: root, output: dir.file("disk"), formats: ["raw", "qcow2", "vmdk", "vhd"].compactMap(PackFormat.init))
        request.layout = layout
        request.uuid = Identifier("3f1c2b7a-0d7e-4c55-9b1e-2a6f0c9d8e71")
        let result = try Packer(request: request).run()
        #expect(result.outputs.count == 4)
        let raw = dir.file("disk.raw")
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: raw)[.size] as? UInt64)
        #expect(rawSize == result.diskSize)
        for ext in ["qcow2", "vmdk", "vhd"] {
            let path = dir.file("disk.\(ext)")
            let fmt = Self.qemuName[ext]!
            let info = try run(["qemu-img", "info", "-f", fmt, "--output=json", path])
            #expect(info.status == 0, "\(ext): \(info.output)")
            let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
            #expect(json?["format"] as? String == fmt)
            if ext != "vhd" {  // VHD's geometry rounds the size; compare checks content below
                #expect((json?["virtual-size"] as? NSNumber)?.uint64Value == result.diskSize, "\(ext) virtual size")
            }
            if ext == "vmdk" {
                let specific = (json?["format-specific"] as? [String: Any])?["data"] as? [String: Any]
                #expect(specific?["create-type"] as? String == "streamOptimized")
            }
            if ext != "vhd" {
                let check = try run(["qemu-img", "check", "-f", fmt, path])
                #expect(check.status == 0 && check.stdout.contains("No errors were found"), "\(ext): \(check.output)")
            }
            let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", fmt, raw, path])
            #expect(compare.status == 0 && compare.stdout.contains("Images are identical"), "\(ext): \(compare.output)")
        }
        // Partition table and filesystems.
        var rootOffset: UInt64 = 0
        if layout != .none {
            let sfdisk = try run(["sfdisk", "--verify", raw])
            #expect(
                sfdisk.status == 0 && sfdisk.stdout.contains("No errors detected") && sfdisk.stderr.isEmpty, "\(sfdisk.output)")
            if layout != .mbr {
                let sgdisk = try run(["sgdisk", "-v", raw])
                #expect(sgdisk.stdout.contains("No problems found") && !sgdisk.output.contains("Caution"), "\(sgdisk.output)")
            }
            let dump = try run(["sfdisk", "--json", raw]).stdout
            let table = try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any]
            let parts = (table?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]] ?? []
            let rootPart = try #require(parts.last)
            rootOffset = ((rootPart["start"] as? NSNumber)?.uint64Value ?? 0) * 512
            if layout == .efi {
                let esp = try #require(parts.first)
                let start = (esp["start"] as? NSNumber)?.intValue ?? 0
                let size = (esp["size"] as? NSNumber)?.intValue ?? 0
                try sh("dd if=\(raw) of=\(dir.file("esp.img")) bs=512 skip=\(start) count=\(size) status=none")
                let fsck = try run(["fsck.fat", "-n", dir.file("esp.img")])
                #expect(fsck.status == 0, "fsck.fat: \(fsck.output)")
                #expect(try run(["mdir", "-i", dir.file("esp.img"), "::/EFI/BOOT"]).status == 0)
            }
        }
        #expect(try strictFsck("\(raw)?offset=\(rootOffset)") == [], "root filesystem at \(rootOffset)")
    }

    /// A compressed qcow2 with a VMDK and an OVA, by default (zlib) and with `--fast` (ISA-L):
    /// one 4 KiB-window compression serves them all, and each is still exactly the disk.
    @Test(arguments: [false, true]) func compressedContainersAreValidAndIdentical(fast: Bool) throws {
        let dir = try TemporaryDirectory("stamp-pack-compressed")
        let root = try Self.makeTree(dir)
        var request = PackRequest(
            root: root, output: dir.file("disk"), formats: ["raw", "vmdk", "ova", "qcow2"].compactMap(PackFormat.init))
        request.fast = fast
        request.qcow2Compressed = true
        _ = try Packer(request: request).run()
        // qcow2's compressed clusters: a 4 KiB window, which qemu's inflate requires.
        let qcheck = try run(["qemu-img", "check", "-f", "qcow2", dir.file("disk.qcow2")])
        #expect(
            qcheck.status == 0 && qcheck.stdout.contains("compressed clusters") && !qcheck.stdout.contains(" 0.00% compressed"),
            "\(qcheck.output)")
        let qcompare = try run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", dir.file("disk.raw"), dir.file("disk.qcow2")])
        #expect(qcompare.status == 0 && qcompare.stdout.contains("Images are identical"), "\(qcompare.output)")
        let check = try run(["qemu-img", "check", "-f", "vmdk", dir.file("disk.vmdk")])
        #expect(check.status == 0 && check.stdout.contains("No errors were found"), "\(check.output)")
        let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", dir.file("disk.raw"), dir.file("disk.vmdk")])
        #expect(compare.status == 0, "\(compare.output)")
        // The OVA was streamed with the VMDK: its disk member is the same file, byte for byte,
        // and GNU tar reads the archive without a warning.
        let listing = try run(["tar", "tvf", dir.file("disk.ova")])
        #expect(listing.status == 0 && listing.stderr.isEmpty, "\(listing.output)")
        try sh("mkdir \(dir.path)/x && tar xf \(dir.path)/disk.ova -C \(dir.path)/x")
        #expect(FileManager.default.contentsEqual(atPath: dir.file("x/disk-disk1.vmdk"), andPath: dir.file("disk.vmdk")))
    }

    @Test func qcow2CompatZeroTenIsVersion2() throws {
        let dir = try TemporaryDirectory("stamp-pack-compat")
        let root = try Self.makeTree(dir)
        var request = PackRequest(root: root, output: dir.file("disk"), formats: [.container(.qcow2)])
        request.qcow2Compat = .v2
        _ = try Packer(request: request).run()
        let info = try run(["qemu-img", "info", "-f", "qcow2", dir.file("disk.qcow2")]).stdout
        #expect(info.contains("compat: 0.10"), "\(info)")
    }

    @Test func badRequestsReportEveryProblemAndWriteNothing() throws {
        let dir = try TemporaryDirectory("stamp-pack-bad")
        var request = PackRequest(root: dir.file("missing"), output: dir.file("nodir/disk"), formats: [])
        request.layout = .gpt
        #expect {
            try Packer(request: request).run()
        } throws: { error in
            let text = "\(error)"
            return text.contains("no output format") && text.contains("nodir: output directory: no such file or directory")
                && text.contains("not a directory")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func treeLargerThanTheDiskFailsBeforeWriting() throws {
        let dir = try TemporaryDirectory("stamp-pack-small")
        let root = try Self.makeTree(dir)
        var request = PackRequest(root: root, output: dir.file("disk"), formats: [.container(.raw), .container(.qcow2)])
        request.diskSize = 24 << 20
        #expect(throws: (any Error).self) { try Packer(request: request).run() }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasPrefix("disk") || $0.hasPrefix(".disk")
        }
        #expect(left == [])
    }
}

@Suite(.serialized, .enabled(if: toolAvailable("qemu-img") && toolAvailable("xmllint")))
struct PackOVATests {
    @Test func ovaTarAndChecksumsFromOnePack() throws {
        let dir = try TemporaryDirectory("stamp-pack-ova")
        let root = try PackTests.makeTree(dir)
        var request = PackRequest(root: root, output: dir.file("app"), formats: [.ova, .container(.qcow2), .tar])
        request.layout = .efi
        request.checksum = true
        request.ova.cpus = 4
        let result = try Packer(request: request).run()
        #expect(
            result.outputs.map { $0.split(separator: "/").last.map(String.init) ?? "" } == ["app.qcow2", "app.ova", "app.tar"])
        let sums = try run([
            "bash", "-c",
            "cd \(dir.path) && sha256sum -c app.ova.sha256 app.qcow2.sha256 app.tar.sha256 && md5sum -c app.ova.md5",
        ])
        #expect(sums.status == 0, "\(sums.output)")
        let members = try run(["tar", "tf", dir.file("app.ova")]).stdout.split(separator: "\n").map(String.init)
        #expect(members == ["app.ovf", "app.mf", "app-disk1.vmdk"])
        try sh("mkdir \(dir.path)/x && tar xf \(dir.path)/app.ova -C \(dir.path)/x")
        let schema = repositoryRoot + "/Tests/Fixtures/ovf-schema/dsp8023_1.1.1.xsd"
        let xml = try run(["xmllint", "--noout", "--nonet", "--schema", schema, dir.file("x/app.ovf")])
        #expect(xml.status == 0 && xml.stderr.contains("validates"), "\(xml.output)")
        let ovf = try String(contentsOfFile: dir.file("x/app.ovf"), encoding: .utf8)
        #expect(ovf.contains("efi"), "efi layout must ask for EFI firmware")
        #expect(ovf.contains("<rasd:VirtualQuantity>4</rasd:VirtualQuantity>"))
        let manifest = try run(["bash", "-c", "cd \(dir.path)/x && sha256sum app.ovf app-disk1.vmdk"]).stdout
        let mf = try String(contentsOfFile: dir.file("x/app.mf"), encoding: .utf8)
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(mf.contains("SHA256(\(parts[1]))= \(parts[0])"), "manifest lacks \(line)")
        }
        let check = try run(["qemu-img", "check", "-f", "vmdk", dir.file("x/app-disk1.vmdk")])
        #expect(check.status == 0, "\(check.output)")
        let compare = try run([
            "qemu-img", "compare", "-f", "vmdk", "-F", "qcow2", dir.file("x/app-disk1.vmdk"), dir.file("app.qcow2"),
        ])
        #expect(compare.status == 0, "\(compare.output)")
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty, "temporary files left: \(hidden)")
    }
}
