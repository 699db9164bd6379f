import Foundation
import Testing

@testable import StampBoot

/// GRUB made in a chroot of a real Debian root by StampBoot: the right outputs, deterministic,
/// and no trace of the build left in the tree. Gated: `STAMP_BOOT_TESTS` set, as root
/// (scripts/test's boot phase). The QEMU boots of disks stamp writes with these outputs are
/// StampPipelineTests.BootTests (mbr, gpt, efi; raw, VMDK, VHD, qcow2 with growth; UEFI
/// Secure Boot through Debian's signed shim).
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
        // deterministic: a second run gives the same bytes (DESIGN.md principle 6)
        let again = try BootLoader.prepare(tree: tree, layout: .efi, root: root, options: BootOptions())
        #expect(again.bios == artifacts.bios)
        #expect(again.espFiles == artifacts.espFiles)
        #expect(again.grubConfig == artifacts.grubConfig)
        let probe = try BootHarness.read(tree + "/usr/sbin/grub-probe", at: 0, count: 4)
        #expect(probe == [0x7F, 0x45, 0x4C, 0x46])  // the real ELF grub-probe is still there
    }
}
