import Foundation
import Testing

import StampTestSupport

/// An arm64 image stamped on this x86-64 machine (issue 21): Debian's arm64 kernel and
/// grub-efi-arm64-bin extracted by mmdebstrap (`--variant=extract`: nothing of arm64 runs),
/// packed with umoci into an image whose config says arm64, and stamped by an ordinary user
/// with `--platform linux/arm64 --layout efi`. The ESP (read with mtools) holds the image's own
/// `grubaa64.efi` byte for byte under UEFI's arm64 removable path, the root filesystem GRUB's
/// arm64-efi modules and a grub.cfg for the arm64 kernel on the PL011 console, e2fsck clean.
/// Network phase (Debian's mirror). Not yet here: a boot under qemu-system-aarch64 with AAVMF.
@Suite(
    .enabled(
        if: isRoot && networkTestsEnabled && toolAvailable("mmdebstrap") && toolAvailable("umoci") && toolAvailable("mcopy")
            && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct ARM64ImageTests {
    @Test func anARM64ImageGetsItsOwnGRUBOnTheESP() throws {
        let dir = try TemporaryDirectory("layers-arm64", in: "/var/tmp")
        let made = try sh(
            """
            set -e; cd '\(dir.path)'
            mmdebstrap --variant=extract --arch=arm64 --include=grub-efi-arm64-bin,linux-image-arm64,base-files \\
              bookworm root http://deb.debian.org/debian > mmdebstrap.log 2>&1
            umoci init --layout layout; umoci new --image layout:arm
            umoci config --image layout:arm --architecture arm64 --os linux
            umoci unpack --image layout:arm bundle > /dev/null; cp -a root/. bundle/rootfs/
            umoci repack --image layout:arm bundle; rm -rf bundle
            chmod -R a+rX layout; chmod 755 .; mkdir -m 1777 out
            """)
        try #require(made.status == 0, "\(made.output.suffix(3000))")
        let pack = try run(
            asOrdinaryUser([
                stampBinary, "pack", "oci:\(dir.file("layout")):arm", "--platform", "linux/arm64", "--layout", "efi", "-o",
                dir.file("out/arm"), "-t", "raw",
            ]))
        try #require(pack.status == 0, "\(pack.output)")
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
        let config = try run(["debugfs", "-R", "cat /boot/grub/grub.cfg", fs]).output
        #expect(config.contains("linux\t/boot/vmlinuz-") && config.contains("-arm64 root=UUID="), "\(config)")
        #expect(config.contains("console=ttyAMA0,115200"), "\(config)")
        // No BIOS code on an arm64 disk: sector 0 holds the protective MBR's zeros where boot.img would be.
        let sector0 = try #require(FileHandle(forReadingAtPath: disk)?.readData(ofLength: 440))
        #expect(sector0.allSatisfy { $0 == 0 })
    }
}
