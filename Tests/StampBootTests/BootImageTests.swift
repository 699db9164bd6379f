import Foundation
import Testing

@testable import StampBoot

/// End-to-end: GRUB made in a chroot of a real Debian root, boot code patched by StampBoot,
/// the disk booted under QEMU/TCG to the marker. Gated: `STAMP_BOOT_TESTS=1`, as root.
///
/// Until the ext4/partition/FAT writers are integrated, the rest of the disk is assembled by
/// `Tests/tools/boot/assemble_legacy.sh` (sgdisk/sfdisk + `mke2fs -d` + mkfs.vfat side file).
@Suite(.serialized, .enabled(if: BootHarness.enabled))
struct BootImageTests {
    /// `prepare` in a chroot: right outputs, and the tree keeps no trace of the build.
    @Test func prepareLeavesOnlyWhatBelongsInTheTree() throws {
        let tree = try BootHarness.extractTree()
        defer { BootHarness.remove(tree) }
        let devBefore = try FileManager.default.contentsOfDirectory(atPath: tree + "/dev").sorted()
        let root = RootFilesystem(uuid: "6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa", label: "root")
        let (artifacts, seconds) = try BootHarness.timed {
            try BootLoader.prepare(tree: tree, layout: .efi, root: root, options: BootOptions())
        }
        print("prepare(.efi) took \(seconds) s\n--- log ---\n\(artifacts.log)--- grub.cfg ---\n\(artifacts.grubConfig)")

        let bios = try #require(artifacts.bios)
        #expect(bios.bootImage.count == 512)
        #expect(bios.coreSectors > 100 && bios.coreSectors < 2048)
        #expect(artifacts.espFiles.map(\.path) == ["EFI/BOOT/BOOTX64.EFI", "EFI/debian/grubx64.efi"])
        #expect(Array(artifacts.espFiles[0].bytes.prefix(2)) == [0x4D, 0x5A])  // "MZ": a PE image
        #expect(artifacts.grubConfig.contains("root=UUID=\(root.uuid) ro"))
        #expect(artifacts.grubConfig.contains("search --no-floppy --fs-uuid --set=root \(root.uuid)"))
        #expect(artifacts.grubConfig.contains("console=ttyS0,115200"))
        #expect(artifacts.grubConfig.contains("insmod part_gpt"))

        // in the tree: grub.cfg, grubenv, module dirs, the defaults snippet; nothing in /tmp or /dev
        let fm = FileManager.default
        #expect(try String(contentsOfFile: tree + "/boot/grub/grub.cfg", encoding: .utf8) == artifacts.grubConfig)
        #expect(fm.fileExists(atPath: tree + "/boot/grub/grubenv"))
        #expect(fm.fileExists(atPath: tree + "/boot/grub/i386-pc/normal.mod"))
        #expect(fm.fileExists(atPath: tree + "/boot/grub/x86_64-efi/normal.mod"))
        #expect(fm.fileExists(atPath: tree + GrubTexts.defaultsSnippetPath))
        #expect(try fm.contentsOfDirectory(atPath: tree + "/tmp").isEmpty)
        #expect(try fm.contentsOfDirectory(atPath: tree + "/dev").sorted() == devBefore)
        let probe = try BootHarness.read(tree + "/usr/sbin/grub-probe", at: 0, count: 4)
        #expect(probe == [0x7F, 0x45, 0x4C, 0x46])  // the real ELF grub-probe is still there
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var layout: BootLayout
        var uefi: Bool
        var uuid: String
        var testDescription: String { "\(layout.rawValue)\(uefi ? "+uefi" : "+bios")" }
    }

    @Test(arguments: [
        Case(layout: .gpt, uefi: false, uuid: "6a1c7e2b-0d3f-4e5a-9b8c-000000000001"),
        Case(layout: .mbr, uefi: false, uuid: "6a1c7e2b-0d3f-4e5a-9b8c-000000000002"),
        Case(layout: .efi, uefi: true, uuid: "6a1c7e2b-0d3f-4e5a-9b8c-000000000003"),
    ])
    func bootsToMarker(_ c: Case) throws {
        let tree = try BootHarness.extractTree()
        let work = try BootHarness.run(["mktemp", "-d", "/var/tmp/stamp-boot-disk.XXXXXX"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            BootHarness.remove(tree)
            BootHarness.remove(work)
        }
        try BootHarness.run([BootHarness.tools + "/install_marker.sh", tree])
        let root = RootFilesystem(uuid: c.uuid, label: "root")
        try (root.fstabLine + "\n").write(toFile: tree + "/etc/fstab", atomically: true, encoding: .utf8)
        var options = BootOptions()
        options.timeout = 1

        let (artifacts, prepareSeconds) = try BootHarness.timed {
            try BootLoader.prepare(tree: tree, layout: c.layout, root: root, options: options)
        }
        try BootHarness.writeESP(artifacts.espFiles, into: work + "/esp")
        let disk = work + "/disk.raw"
        let (_, assembleSeconds) = try BootHarness.timed {
            try BootHarness.run([
                BootHarness.tools + "/assemble_legacy.sh", c.layout.rawValue, tree, disk, c.uuid, work + "/esp",
            ])
        }

        // The boot code: StampBoot's bytes, patched over what the partitioner wrote.
        let placement: BIOSPlacement =
            c.layout == .mbr
            ? .postMBRGap(firstPartitionLBA: 2048) : .biosBootPartition(startLBA: 2048, sectors: 2048)
        let sector0 = try BootHarness.read(disk, at: 0, count: 512)
        let (mbr, core, lba) = try artifacts.biosSectors(sector0: sector0, placement: placement)
        try BootHarness.write(mbr, to: disk, at: 0)
        try BootHarness.write(core, to: disk, at: lba * 512)

        var arguments = [BootHarness.tools + "/boot_test.sh", disk, "--timeout", "300", "--expect-uuid", c.uuid]
        if c.uefi { arguments.append("--uefi") }
        let ((status, output), bootSeconds) = try BootHarness.timed {
            try BootHarness.run(arguments, allowFailure: true)
        }
        print(
            "boot \(c.testDescription): prepare \(prepareSeconds) s, assemble \(assembleSeconds) s, "
                + "boot \(bootSeconds) s, core.img \(core.count / 512) sectors\n\(output)")
        #expect(status == 0, "\(output)")
    }
}
