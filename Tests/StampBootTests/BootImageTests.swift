import Foundation
import StampTestSupport
import StampTree
import Testing

@testable import StampBoot

/// The boot loader step on a real Debian root (the bootable bookworm tree the QEMU boots of
/// StampPipelineTests.BootTests use): right outputs, deterministic, the additions in the
/// model only, and nothing of the tree run. Gated: `STAMP_BOOT_TESTS` set, as root
/// (scripts/test's boot phase), because the tree is debootstrapped once per machine.
@Suite(.serialized, .enabled(if: BootHarness.enabled))
struct BootImageTests {
    /// Every GRUB program of the tree is a trap that would leave a mark in the tree, and
    /// `/bin/sh` records each use: `prepare` runs none of them, writes nothing in the source,
    /// and gives the same bytes twice.
    @Test func prepareReadsTheTreeAsDataAndWritesOnlyTheModel() throws {
        let tree = try BootHarness.extractTree()
        defer { BootHarness.remove(tree) }
        try BootHarness.run(["sh", repositoryRoot + "/Tests/tools/boot/install_traps.sh", tree])
        let before = try BootHarness.run(["python3", repositoryRoot + "/Tests/tools/snapshot_tree.py", tree]).output

        let root = RootFilesystem(uuid: "6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa", label: "root")
        let time = Timestamp(seconds: 1_700_000_000)
        let model = try TreeScanner().scan(tree)
        let artifacts = try BootLoader.prepare(tree: model, layout: .efi, root: root, options: BootOptions(), time: time)
        print("--- log ---\n\(artifacts.log)\n--- grub.cfg ---\n\(artifacts.grubConfig)")

        let bios = try #require(artifacts.bios)
        #expect(bios.bootImage.count == 512)
        #expect(bios.coreSectors > 50 && bios.coreSectors < 2048)
        #expect(
            artifacts.espFiles.map(\.path) == [
                "EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "EFI/debian/grub.cfg", "EFI/debian/grubx64.efi",
            ])
        #expect(Array(artifacts.espFiles[0].bytes.prefix(2)) == [0x4D, 0x5A])  // "MZ": a PE image
        #expect(artifacts.grubConfig.contains("root=UUID=\(root.uuid) ro"))
        #expect(artifacts.grubConfig.contains("search --no-floppy --fs-uuid --set=root \(root.uuid)"))
        #expect(artifacts.grubConfig.contains("console=ttyS0,115200"))
        #expect(artifacts.grubConfig.contains("linux\t/boot/vmlinuz-"))
        #expect(artifacts.grubConfig.contains("initrd\t/boot/initrd.img-"))

        // In the model: grub.cfg, grubenv, the module directories, the snippet, fstab's root line.
        func text(_ path: String) throws -> String {
            let index = try #require(model.lookup(path), "\(path) not in the model")
            return String(decoding: try #require(try model.readData(of: index, limit: 1 << 20)), as: UTF8.self)
        }
        #expect(try text("/boot/grub/grub.cfg") == artifacts.grubConfig)
        #expect(try text("/boot/grub/grubenv").hasPrefix("# GRUB Environment Block\n"))
        #expect(try text("/etc/fstab").contains("UUID=\(root.uuid) / ext4 defaults,errors=remount-ro 0 1"))
        #expect(try text(GrubTexts.defaultsSnippetPath).contains("GRUB_CMDLINE_LINUX_DEFAULT="))
        let normal = try #require(model.lookup("/boot/grub/i386-pc/normal.mod"))
        #expect(
            try model.readData(of: normal, limit: 1 << 20)
                == FileManager.default.contents(atPath: tree + "/usr/lib/grub/i386-pc/normal.mod").map { Array($0) })
        #expect(model.lookup("/boot/grub/x86_64-efi/normal.mod") != nil)

        // The source: byte for byte what it was (names, sizes, modes, owners, times, xattrs),
        // no trap fired, no shell ran.
        let after = try BootHarness.run(["python3", repositoryRoot + "/Tests/tools/snapshot_tree.py", tree]).output
        #expect(before == after)
        #expect(!FileManager.default.fileExists(atPath: tree + "/var/lib/stamp-trap/fired"))
        #expect((try? String(contentsOfFile: tree + "/var/lib/stamp-trap/sh.log", encoding: .utf8)) == "")

        // Deterministic: the same tree and settings give the same bytes.
        let again = try BootLoader.prepare(
            tree: try TreeScanner().scan(tree), layout: .efi, root: root, options: BootOptions(), time: time)
        #expect(again.bios == artifacts.bios)
        #expect(again.espFiles == artifacts.espFiles)
        #expect(again.grubConfig == artifacts.grubConfig)
    }
}
