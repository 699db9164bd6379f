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
        // deterministic: a second run gives the same bytes (DESIGN.md principle 6)
        let again = try BootLoader.prepare(tree: tree, layout: .efi, root: root, options: BootOptions())
        #expect(again.bios == artifacts.bios)
        #expect(again.espFiles == artifacts.espFiles)
        #expect(again.grubConfig == artifacts.grubConfig)
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
        let disk = try DiskUnderTest(layout: c.layout, root: RootFilesystem(uuid: c.uuid, label: "root"))
        defer { disk.cleanUp() }
        try disk.boot(c.testDescription, [disk.path, "--expect-uuid", c.uuid] + (c.uefi ? ["--uefi"] : []))
    }

    /// The acceptance's container and growth cases: a gpt disk with root by LABEL, converted
    /// to qcow2 then enlarged by 1 GiB (the guest grows partition and fs online), and to a
    /// streamOptimized VMDK (booted with -snapshot: QEMU cannot write that format in place),
    /// and to a dynamic VHD.
    @Test func bootsFromQcow2WithGrowthAndFromVMDKAndVHD() throws {
        let uuid = "6a1c7e2b-0d3f-4e5a-9b8c-000000000004"
        let disk = try DiskUnderTest(layout: .gpt, root: RootFilesystem(uuid: uuid, label: "root", reference: .label))
        defer { disk.cleanUp() }
        #expect(disk.artifacts.grubConfig.contains("root=LABEL=root ro"))
        let qcow2 = disk.work + "/disk.qcow2", vmdk = disk.work + "/disk.vmdk"
        try BootHarness.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk.path, qcow2])
        try BootHarness.run([
            "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", disk.path, vmdk,
        ])
        try disk.boot("gpt+bios qcow2 +1G", [qcow2, "--format", "qcow2", "--resize", "+1G", "--expect-grow", "--expect-uuid", uuid])
        try disk.boot("gpt+bios vmdk", [vmdk, "--format", "vmdk", "--snapshot", "--expect-uuid", uuid])
        let vhd = disk.work + "/disk.vhd"
        try BootHarness.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic", disk.path, vhd])
        try disk.boot("gpt+bios vhd", [vhd, "--format", "vhd", "--expect-uuid", uuid])
    }

    /// The efi layout with Debian's signed shim + grub in the tree: UEFI with Secure Boot on
    /// (OVMF with Microsoft keys enrolled) and, from the same disk, BIOS.
    @Test func efiLayoutWithSignedShimBootsSecureBootAndBIOS() throws {
        let uuid = "6a1c7e2b-0d3f-4e5a-9b8c-000000000005"
        let disk = try DiskUnderTest(layout: .efi, root: RootFilesystem(uuid: uuid, label: "root")) { tree in
            try BootHarness.run([BootHarness.tools + "/add_signed_efi.sh", tree, BootHarness.cache])
        }
        defer { disk.cleanUp() }
        #expect(disk.artifacts.signedEFI)
        #expect(disk.artifacts.espFiles.map(\.path).contains("EFI/debian/shimx64.efi"))
        try disk.boot("efi+uefi secure boot (shim)", [disk.path, "--secure-boot", "--snapshot", "--expect-uuid", uuid])
        try disk.boot("efi+bios", [disk.path, "--expect-uuid", uuid])
    }
}

/// A root tree extracted from the cache, made bootable by StampBoot, assembled into a raw
/// disk, with StampBoot's BIOS bytes patched in.
struct DiskUnderTest {
    let tree: String
    let work: String
    let path: String
    let artifacts: BootArtifacts

    init(layout: BootLayout, root: RootFilesystem, prepareTree: (String) throws -> Void = { _ in }) throws {
        let tree = try BootHarness.extractTree()
        let work = try BootHarness.run(["mktemp", "-d", "/var/tmp/stamp-boot-disk.XXXXXX"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let path = work + "/disk.raw"
        (self.tree, self.work, self.path) = (tree, work, path)
        do {
            artifacts = try Self.build(layout: layout, root: root, tree: tree, work: work, path: path, prepareTree)
        } catch {
            BootHarness.remove(tree)
            BootHarness.remove(work)
            throw error
        }
    }

    private static func build(
        layout: BootLayout, root: RootFilesystem, tree: String, work: String, path: String,
        _ prepareTree: (String) throws -> Void
    ) throws -> BootArtifacts {
        try BootHarness.run([BootHarness.tools + "/install_marker.sh", tree])
        try prepareTree(tree)
        try (root.fstabLine + "\n").write(toFile: tree + "/etc/fstab", atomically: true, encoding: .utf8)
        var options = BootOptions()
        options.timeout = 1

        let (artifacts, prepareSeconds) = try BootHarness.timed {
            try BootLoader.prepare(tree: tree, layout: layout, root: root, options: options)
        }
        try BootHarness.writeESP(artifacts.espFiles, into: work + "/esp")
        let (_, assembleSeconds) = try BootHarness.timed {
            try BootHarness.run([
                BootHarness.tools + "/assemble_legacy.sh", layout.rawValue, tree, path, root.uuid, work + "/esp",
            ])
        }

        // The boot code: StampBoot's bytes, patched over what the partitioner wrote.
        let placement: BIOSPlacement =
            layout == .mbr
            ? .postMBRGap(firstPartitionLBA: 2048) : .biosBootPartition(startLBA: 2048, sectors: 2048)
        let sector0 = try BootHarness.read(path, at: 0, count: 512)
        let (mbr, core, lba) = try artifacts.biosSectors(sector0: sector0, placement: placement)
        try BootHarness.write(mbr, to: path, at: 0)
        try BootHarness.write(core, to: path, at: lba * 512)
        print(
            "disk \(layout.rawValue): prepare \(prepareSeconds) s, assemble \(assembleSeconds) s, "
                + "core.img \(core.count / 512) sectors at lba \(lba), esp files \(artifacts.espFiles.map(\.path))")
        return artifacts
    }

    /// Runs boot_test.sh with `arguments` and expects it to pass.
    func boot(_ name: String, _ arguments: [String]) throws {
        let ((status, output), seconds) = try BootHarness.timed {
            try BootHarness.run([BootHarness.tools + "/boot_test.sh", "--timeout", "300"] + arguments, allowFailure: true)
        }
        print("boot \(name): \(seconds) s\n\(output)")
        #expect(status == 0, "\(name): \(output)")
    }

    func cleanUp() {
        BootHarness.remove(tree)
        BootHarness.remove(work)
    }
}
