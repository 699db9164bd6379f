import Foundation
import Testing

import StampTestSupport

/// An arm64 image stamped on this x86-64 machine and booted (issue 21). Tests/tools/oci/
/// arm64_layout.sh makes an OCI layout whose tag `multi` is an index offering linux/arm64 (Debian's
/// arm64 kernel, grub-efi-arm64-bin and busybox extracted by mmdebstrap, nothing of arm64 run;
/// an initramfs made on the host) and linux/amd64. An ordinary user (`nobody`, no capability,
/// no namespace) stamps it with `--platform linux/arm64 --layout efi`: the ESP (read with mtools)
/// holds the image's own `grubaa64.efi` byte for byte under UEFI's arm64 removable path, the root
/// filesystem GRUB's arm64-efi modules and a grub.cfg for the arm64 kernel on the PL011 console,
/// e2fsck clean, no BIOS code; and the qcow2 boots under qemu-system-aarch64 with AAVMF (TCG)
/// through the firmware, GRUB, the kernel and the initramfs to the root filesystem's marker.
/// Network phase (Debian's mirror).
@Suite(
    .enabled(
        if: isRoot && networkTestsEnabled && toolAvailable("mmdebstrap") && toolAvailable("umoci") && toolAvailable("mcopy")
            && toolAvailable("cpio") && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct ARM64ImageTests {
    static let uuid = "6a1c7e2b-0d3f-4e5a-9b8c-0000000000a8"
    static let firmware = "/usr/share/AAVMF/AAVMF_CODE.fd"

    @Test func anARM64ImageFromAnIndexBootsUnderUEFI() throws {
        let dir = try TemporaryDirectory("layers-arm64", in: "/var/tmp")
        let made = try run(["bash", repositoryRoot + "/Tests/tools/oci/arm64_layout.sh", dir.path])
        try #require(made.status == 0, "\(made.output.suffix(3000))")
        try sh("chmod -R a+rX '\(dir.file("layout"))'; chmod 755 '\(dir.path)'; mkdir -m 1777 '\(dir.file("out"))'")
        let pack = try run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--bounding-set=-all",
            "--inh-caps=-all", "--", stampBinary, "pack", "oci:\(dir.file("layout")):multi", "--platform", "linux/arm64",
            "--layout", "efi", "--uuid", Self.uuid, "-o", dir.file("out/arm"), "-t", "raw,qcow2",
        ])
        try #require(pack.status == 0, "\(pack.output)")
        let config = try String(contentsOfFile: dir.file("out/arm.d/image-config.json"), encoding: .utf8)
        #expect(config.contains("\"architecture\":\"arm64\""), "\(config)")
        let disk = dir.file("out/arm.raw")
        let table =
            try JSONSerialization.jsonObject(with: Data(try run(["sfdisk", "--json", disk]).stdout.utf8)) as? [String: Any]
        let partitions = (table?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]] ?? []
        let esp = try #require(partitions.first { ($0["type"] as? String) == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" })
        let root = try #require(partitions.first { ($0["type"] as? String) == "0FC63DAF-8483-4772-8E79-3D69D8477DE4" })
        let espImage = "\(disk)@@\((esp["start"] as? Int ?? 0) * 512)"
        let listing = try run(["mdir", "-/", "-b", "-i", espImage, "::"])
        #expect(listing.stdout.contains("::/EFI/BOOT/BOOTAA64.EFI"), "\(listing.output)")
        #expect(listing.stdout.contains("::/EFI/debian/grubaa64.efi"), "\(listing.output)")
        #expect(!listing.stdout.contains("X64"), "\(listing.output)")
        let copied = try run(["mcopy", "-n", "-i", espImage, "::/EFI/BOOT/BOOTAA64.EFI", dir.file("bootaa64.efi")])
        try #require(copied.status == 0, "\(copied.output)")
        let same = try run(["cmp", dir.file("bootaa64.efi"), dir.file("root/usr/lib/grub/arm64-efi/monolithic/grubaa64.efi")])
        #expect(same.status == 0, "\(same.output)")
        let fs = "\(disk)?offset=\((root["start"] as? Int ?? 0) * 512)"
        #expect(try strictFsck(fs).isEmpty)
        let modules = try run(["debugfs", "-R", "ls /boot/grub/arm64-efi", fs]).output
        #expect(modules.contains("normal.mod") && modules.contains("moddep.lst"), "\(modules.suffix(500))")
        let grub = try run(["debugfs", "-R", "cat /boot/grub/grub.cfg", fs]).output
        #expect(grub.contains("linux\t/boot/vmlinuz-") && grub.contains("-arm64 root=UUID=\(Self.uuid)"), "\(grub)")
        #expect(grub.contains("console=ttyAMA0,115200") && grub.contains("initrd\t/boot/initrd.img-"), "\(grub)")
        // No BIOS code on an arm64 disk: the protective MBR's boot code area stays zero.
        let sector0 = try #require(FileHandle(forReadingAtPath: disk)?.readData(ofLength: 440))
        #expect(sector0.allSatisfy { $0 == 0 })

        // The boot: AAVMF finds EFI/BOOT/BOOTAA64.EFI, GRUB the root by UUID, the kernel its
        // initramfs, and the initramfs the root filesystem's marker. One guest at a time (the
        // machine's QEMU lock, as boot_test.sh takes it).
        try #require(
            FileManager.default.fileExists(atPath: Self.firmware) && toolAvailable("qemu-system-aarch64"),
            "qemu-system-arm and qemu-efi-aarch64 (Debian packages) are needed for the boot")
        try sh("cp /usr/share/AAVMF/AAVMF_VARS.fd '\(dir.file("vars.fd"))'")
        let boot = try run([
            "timeout", "900", "flock", "/tmp/stamp-qemu.lock", "timeout", "600", "qemu-system-aarch64", "-M", "virt", "-cpu",
            "cortex-a57", "-m", "1024", "-smp", "1", "-nographic", "-no-reboot",
            "-drive", "if=pflash,format=raw,readonly=on,file=\(Self.firmware)",
            "-drive", "if=pflash,format=raw,file=\(dir.file("vars.fd"))",
            "-drive", "if=none,id=d0,file=\(dir.file("out/arm.qcow2")),format=qcow2,snapshot=on", "-device",
            "virtio-blk-pci,drive=d0",
        ])
        #expect(
            boot.stdout.contains("STAMP_ARM64_MARKER STAMP_BOOT_OK uuid=\(Self.uuid)"),
            "the arm64 guest did not reach its root:\n\(boot.output.suffix(4000))")
    }
}
