import Foundation
import Testing

import StampBytes
import StampDisk
import StampPipeline
import StampTestSupport

/// `stamp pack` with a DIB block-device configuration: several partitions, each filesystem
/// holding the part of the tree under its mount point; checked with sgdisk, sfdisk, e2fsck,
/// debugfs, fsck.fat, mtools and qemu-img.
@Suite(
    .serialized,
    .enabled(if: toolAvailable("qemu-img") && toolAvailable("debugfs") && toolAvailable("sgdisk") && toolAvailable("mcopy")))
struct BlockDevicePackTests {
    static let yaml = """
        - local_loop:
            name: image0
            size: 160MiB
        - partitioning:
            base: image0
            label: gpt
            partitions:
              - name: ESP
                type: 'EF00'
                size: 40MiB
                mkfs:
                  type: vfat
                  mount:
                    mount_point: /boot/efi
                    fstab: {options: "defaults", fsck-passno: 2}
              - name: data
                type: '8300'
                size: 60MiB
                mkfs:
                  type: ext4
                  label: data
                  mount:
                    mount_point: /srv/data
                    fstab: {options: "defaults,nofail", fsck-passno: 2}
              - name: root
                type: '8300'
                size: 100%
                mkfs:
                  name: mkfs_root
                  mount:
                    mount_point: /
                    fstab: {options: "defaults", fsck-passno: 1}
        """

    static func makeTree(_ dir: TemporaryDirectory) throws -> String {
        let root = dir.file("root")
        try sh(
            """
            set -e; mkdir -p \(root)/etc \(root)/boot/efi/EFI/vendor \(root)/srv/data/sub \(root)/usr
            echo hello > \(root)/etc/motd; echo root-only > \(root)/usr/marker
            head -c 300000 /dev/urandom > \(root)/boot/efi/EFI/vendor/blob.bin
            echo esp-note > \(root)/boot/efi/note.txt
            head -c 2000000 /dev/urandom > \(root)/srv/data/sub/big.bin; echo data > \(root)/srv/data/readme
            """)
        return root
    }

    /// The partitions sfdisk sees: (name, start sector, sectors).
    static func partitions(_ raw: String) throws -> [(name: String, start: Int, size: Int)] {
        let dump = try run(["sfdisk", "--json", raw]).stdout
        let table = try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any]
        let parts = (table?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]] ?? []
        return parts.map {
            (($0["name"] as? String) ?? "", ($0["start"] as? NSNumber)?.intValue ?? 0, ($0["size"] as? NSNumber)?.intValue ?? 0)
        }
    }

    @Test func eachFilesystemHoldsItsPartOfTheTree() throws {
        let dir = try TemporaryDirectory("stamp-bdpack")
        let root = try Self.makeTree(dir)
        var request = PackRequest(root: root, output: dir.file("disk"), formats: ["raw", "qcow2"].compactMap(PackFormat.init))
        request.blockDevice = try BlockDeviceConfig.parse(yaml: Self.yaml)
        request.bootloader = false
        let result = try Packer(request: request).run()
        let raw = dir.file("disk.raw")
        #expect(result.diskSize == 160 << 20)
        #expect((try FileManager.default.attributesOfItem(atPath: raw)[.size] as? UInt64) == 160 << 20)

        let sgdisk = try run(["sgdisk", "-v", raw])
        #expect(sgdisk.stdout.contains("No problems found") && !sgdisk.output.contains("Caution"), "\(sgdisk.output)")
        let sfdisk = try run(["sfdisk", "--verify", raw])
        #expect(sfdisk.status == 0 && sfdisk.stderr.isEmpty, "\(sfdisk.output)")
        let parts = try Self.partitions(raw)
        // The data filesystem comes before the root: each gets its own label and UUID.
        try #require(parts.map(\.name) == ["ESP", "data", "root"])
        #expect(parts[0].size == 40 * 2048 && parts[1].size == 60 * 2048)

        // Root: e2fsck clean; the data mount point is there and empty; the ESP's files are not.
        let rootImage = "\(raw)?offset=\(parts[2].start * 512)"
        #expect(try strictFsck(rootImage) == [])
        try sh("dd if=\(raw) of=\(dir.file("root.img")) bs=512 skip=\(parts[2].start) count=\(parts[2].size) status=none")
        try sh("dd if=\(raw) of=\(dir.file("data.img")) bs=512 skip=\(parts[1].start) count=\(parts[1].size) status=none")
        try sh("dd if=\(raw) of=\(dir.file("esp.img")) bs=512 skip=\(parts[0].start) count=\(parts[0].size) status=none")
        let rootLs = try run(["debugfs", "-R", "ls -p /srv/data", dir.file("root.img")]).stdout
        let rootNames = rootLs.split(separator: "\n").compactMap { $0.split(separator: "/").dropFirst(4).first }.filter {
            $0 != "." && $0 != ".."
        }
        #expect(rootNames.isEmpty, "/srv/data on the root filesystem: \(rootLs)")
        #expect(try run(["debugfs", "-R", "cat /usr/marker", dir.file("root.img")]).stdout == "root-only\n")
        let bootEfi = try run(["debugfs", "-R", "ls -p /boot/efi", dir.file("root.img")]).stdout
        #expect(!bootEfi.contains("note.txt"), "ESP files leaked into the root filesystem")
        let rootLabel = try run(["e2label", dir.file("root.img")]).stdout
        #expect(rootLabel == "cloudimg-rootfs\n")
        let uuids = try ["root.img", "data.img"].map { try run(["blkid", "-o", "value", "-s", "UUID", dir.file($0)]).stdout }
        #expect(uuids[0] != uuids[1] && !uuids[0].isEmpty, "\(uuids)")
        #expect(try run(["dumpe2fs", "-h", dir.file("root.img")]).stdout.contains("has_journal"))

        // Data: its own ext4, labelled, holding /srv/data's files at its top.
        #expect(try strictFsck(dir.file("data.img")) == [])
        #expect(try run(["e2label", dir.file("data.img")]).stdout == "data\n")
        try sh("debugfs -R 'dump /sub/big.bin \(dir.file("big.out"))' \(dir.file("data.img")) 2>/dev/null")
        #expect(FileManager.default.contentsEqual(atPath: dir.file("big.out"), andPath: root + "/srv/data/sub/big.bin"))
        #expect(try run(["debugfs", "-R", "cat /readme", dir.file("data.img")]).stdout == "data\n")

        // ESP: FAT that fsck.fat accepts, with /boot/efi's files.
        let fsck = try run(["fsck.fat", "-n", dir.file("esp.img")])
        #expect(fsck.status == 0 && !fsck.stdout.lowercased().contains("differ"), "fsck.fat: \(fsck.output)")
        try sh(
            "mcopy -n -i \(dir.file("esp.img")) ::/EFI/vendor/blob.bin \(dir.file("blob.out")) && mcopy -n -i \(dir.file("esp.img")) ::/note.txt \(dir.file("note.out"))"
        )
        #expect(FileManager.default.contentsEqual(atPath: dir.file("blob.out"), andPath: root + "/boot/efi/EFI/vendor/blob.bin"))
        #expect(FileManager.default.contentsEqual(atPath: dir.file("note.out"), andPath: root + "/boot/efi/note.txt"))

        let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, dir.file("disk.qcow2")])
        #expect(compare.status == 0 && compare.stdout.contains("Images are identical"), "\(compare.output)")
    }

    @Test func anMBRConfigWithLogicalPartitionsAndAnAutomaticSize() throws {
        let dir = try TemporaryDirectory("stamp-bdpack")
        let root = try Self.makeTree(dir)
        let yaml = """
            - local_loop:
                name: image0
            - partitioning:
                base: image0
                label: mbr
                partitions:
                  - name: root
                    flags: [boot, primary]
                    size: 50%
                    mkfs:
                      name: mkfs_root
                      mount: {mount_point: /}
                  - name: scratch
                    size: 50%
                    mkfs:
                      type: ext4
                      label: scratch
            """
        var request = PackRequest(root: root, output: dir.file("disk"), formats: [PackFormat(name: "raw")!])
        request.blockDevice = try BlockDeviceConfig.parse(yaml: yaml)
        request.bootloader = false
        _ = try Packer(request: request).run()
        let raw = dir.file("disk.raw")
        let sfdisk = try run(["sfdisk", "--verify", raw])
        #expect(sfdisk.status == 0 && sfdisk.stderr.isEmpty, "\(sfdisk.output)")
        let dump = try run(["sfdisk", "-d", raw]).stdout
        #expect(dump.contains("bootable") && dump.contains("\(raw)5 :"), "a bootable primary and a logical partition: \(dump)")
        let parts = try Self.partitions(raw)
        let rootPart = try #require(parts.first)
        let scratch = try #require(parts.last)
        #expect(try strictFsck("\(raw)?offset=\(rootPart.start * 512)") == [])
        #expect(try strictFsck("\(raw)?offset=\(scratch.start * 512)") == [])
        // Everything, including /srv/data and /boot/efi, is on the root filesystem here.
        try sh("dd if=\(raw) of=\(dir.file("root.img")) bs=512 skip=\(rootPart.start) count=\(rootPart.size) status=none")
        #expect(try run(["debugfs", "-R", "cat /srv/data/readme", dir.file("root.img")]).stdout == "data\n")
    }

    /// A tree that does not fit the configuration: `change` is run on it, then the pack must
    /// fail with an error containing every `expected` piece and leave no disk behind.
    @Test(arguments: [
        ("rm -rf ROOT/srv", ["/srv/data", "not a directory"]),  // a mount point missing
        ("ln -s note.txt ROOT/boot/efi/link", ["boot/efi/link"]),  // a symlink for the vfat part
    ])
    func aTreeThatDoesNotFitIsRefusedByName(change: String, expected: [String]) throws {
        let dir = try TemporaryDirectory("stamp-bdpack")
        let root = try Self.makeTree(dir)
        try sh(change.replacingOccurrences(of: "ROOT", with: root))
        var request = PackRequest(root: root, output: dir.file("disk"), formats: [PackFormat(name: "raw")!])
        request.blockDevice = try BlockDeviceConfig.parse(yaml: Self.yaml)
        request.bootloader = false
        #expect {
            try Packer(request: request).run()
        } throws: { error in
            expected.allSatisfy { "\(error)".contains($0) }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("disk.raw")))
    }
}
