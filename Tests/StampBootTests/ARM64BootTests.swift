import Foundation
import StampTestSupport
import StampTree
import Testing

@testable import StampBoot

/// An arm64 tree (the paths Debian's grub-efi-arm64-bin, shim-signed and
/// grub-efi-arm64-signed install, with stand-in contents): the ESP gets GRUB's arm64 names
/// under UEFI's removable path for arm64 (`EFI/BOOT/BOOTAA64.EFI`), no BIOS code is made, the
/// `arm64-efi` modules are copied under /boot/grub, and a BIOS layout is refused in one line.
struct ARM64BootTests {
    static let root = RootFilesystem(uuid: "6a1c7e2b-0d3f-4e5a-9b8c-0000000000a8", label: "root")

    /// A scanned tree holding `files` (path → contents) and an arm64 kernel.
    static func tree(_ dir: TemporaryDirectory, _ files: [String: String]) throws -> RootTree {
        let all = files.merging(["boot/vmlinuz-6.1.0-28-arm64": "kernel", "usr/lib/grub/arm64-efi/moddep.lst": "normal:\n"]) {
            $1
        }
        for (path, text) in all {
            let file = dir.file("root/" + path)
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        }
        return try TreeScanner().scan(dir.file("root"))
    }

    static var arm64: BootOptions {
        var options = BootOptions()
        options.architecture = .arm64
        return options
    }

    @Test func thePrebuiltImageGoesToTheARM64RemovablePath() throws {
        let dir = try TemporaryDirectory("boot-arm64")
        let tree = try Self.tree(
            dir, ["usr/lib/grub/arm64-efi/monolithic/grubaa64.efi": "MZ grub arm64", "usr/lib/grub/arm64-efi/normal.mod": "mod"])
        let artifacts = try BootLoader.prepare(
            tree: tree, layout: .efi, root: Self.root, options: Self.arm64, time: Timestamp(seconds: 0))
        #expect(artifacts.bios == nil)
        #expect(
            artifacts.espFiles.map(\.path) == [
                "EFI/BOOT/BOOTAA64.EFI", "EFI/BOOT/grub.cfg", "EFI/debian/grub.cfg", "EFI/debian/grubaa64.efi",
            ])
        #expect(artifacts.espFiles[0].bytes == Array("MZ grub arm64".utf8))
        #expect(tree.lookup("/boot/grub/arm64-efi/normal.mod") != nil)
        #expect(tree.lookup("/boot/grub/x86_64-efi") == nil && tree.lookup("/boot/grub/i386-pc") == nil)
        #expect(artifacts.grubConfig.contains("linux\t/boot/vmlinuz-6.1.0-28-arm64"), "\(artifacts.grubConfig)")
    }

    @Test func theSignedShimAndGrubAreTakenWhenPresent() throws {
        let dir = try TemporaryDirectory("boot-arm64-signed")
        let tree = try Self.tree(
            dir,
            [
                "usr/lib/shim/shimaa64.efi.signed": "MZ shim", "usr/lib/grub/arm64-efi-signed/grubaa64.efi.signed": "MZ grub",
                "usr/lib/shim/mmaa64.efi.signed": "MZ mm", "usr/lib/shim/BOOTAA64.CSV": "csv",
            ])
        let artifacts = try BootLoader.prepare(
            tree: tree, layout: .efi, root: Self.root, options: Self.arm64, time: Timestamp(seconds: 0))
        #expect(artifacts.signedEFI)
        #expect(
            artifacts.espFiles.map(\.path) == [
                "EFI/BOOT/BOOTAA64.EFI", "EFI/BOOT/grub.cfg", "EFI/BOOT/grubaa64.efi", "EFI/BOOT/mmaa64.efi",
                "EFI/debian/BOOTAA64.CSV", "EFI/debian/grub.cfg", "EFI/debian/grubaa64.efi", "EFI/debian/mmaa64.efi",
                "EFI/debian/shimaa64.efi",
            ])
        #expect(artifacts.espFiles[0].bytes == Array("MZ shim".utf8))
    }

    /// No BIOS on arm64; and an x86-64 tree's files do not make an arm64 disk bootable.
    @Test func aBIOSLayoutOrMissingARM64FilesAreRefused() throws {
        let dir = try TemporaryDirectory("boot-arm64-bios")
        let tree = try Self.tree(
            dir, ["usr/lib/grub/arm64-efi/monolithic/grubaa64.efi": "MZ", "usr/lib/grub/x86_64-efi/monolithic/grubx64.efi": "MZ"])
        #expect(throws: BootError.self) {
            try BootLoader.prepare(tree: tree, layout: .gpt, root: Self.root, options: Self.arm64, time: Timestamp(seconds: 0))
        }
        #expect(
            BootLoader.problems(tree, layout: .gpt, options: Self.arm64) == [
                "an arm64 disk boots from UEFI only: use the efi layout"
            ])
        let x86 = try Self.tree(
            try TemporaryDirectory("boot-arm64-x86"), ["usr/lib/grub/x86_64-efi/monolithic/grubx64.efi": "MZ"])
        #expect(
            BootLoader.problems(x86, layout: .efi, options: Self.arm64) == [
                "missing /usr/lib/grub/arm64-efi/monolithic/grubaa64.efi (install grub-efi-arm64-bin, or shim-signed and grub-efi-arm64-signed)"
            ])
    }
}
