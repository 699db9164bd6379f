import StampTestSupport
import StampTree
import Testing

@testable import StampBoot

struct GrubTextsTests {
    static let uuid = "0f3e2d1c-aaaa-4bbb-8ccc-0123456789ab"

    @Test func earlyConfigFindsRootByUUIDWithSerialFirst() {
        let text = GrubTexts.earlyConfig(root: RootFilesystem(uuid: Self.uuid.uppercased()), options: BootOptions())
        #expect(
            text == """
                serial --unit=0 --speed=115200
                terminal_input serial console
                terminal_output serial console
                search --no-floppy --fs-uuid --set=root 0f3e2d1c-aaaa-4bbb-8ccc-0123456789ab
                set prefix=($root)/boot/grub

                """)
    }

    @Test func earlyConfigByLabelWithoutSerial() {
        var options = BootOptions()
        options.serialConsole = nil
        let root = RootFilesystem(uuid: Self.uuid, label: "cloudimg-rootfs", reference: .label)
        #expect(
            GrubTexts.earlyConfig(root: root, options: options)
                == "search --no-floppy --label --set=root 'cloudimg-rootfs'\nset prefix=($root)/boot/grub\n")
    }

    @Test func defaultsSnippetCarriesDIBSettings() throws {
        let options = try BootOptions.fromEnvironment([
            "DIB_GRUB_TIMEOUT": "0", "DIB_BOOTLOADER_DEFAULT_CMDLINE": "quiet it's",
            "DIB_BOOTLOADER_SERIAL_CONSOLE": "ttyS1,38400n8",
        ])
        let text = GrubTexts.defaultsSnippet(root: RootFilesystem(uuid: Self.uuid), options: options)
        #expect(text.contains("\nGRUB_TIMEOUT=0\n"))
        #expect(
            text.contains("\nGRUB_CMDLINE_LINUX_DEFAULT='console=tty0 console=ttyS1,38400n8 no_timer_check quiet it'\\''s'\n"))
        #expect(text.contains("\nGRUB_TERMINAL='serial console'\n"))
        #expect(text.contains("GRUB_SERIAL_COMMAND='serial --speed=38400 --unit=1 --word=8 --parity=no --stop=1'"))
        #expect(!text.contains("GRUB_DEVICE"))
    }

    @Test func labelRootPersistsDeviceLikeDIB() {
        let root = RootFilesystem(uuid: Self.uuid, label: "img-rootfs", reference: .label)
        let text = GrubTexts.defaultsSnippet(root: root, options: BootOptions())
        #expect(text.contains("\nGRUB_DEVICE='LABEL=img-rootfs'\nGRUB_DISABLE_LINUX_UUID=true\n"))
    }

    @Test func optionsFromEnvironment() throws {
        let o = try BootOptions.fromEnvironment([
            "DIB_BOOTLOADER_USE_SERIAL_CONSOLE": "False", "DIB_BOOTLOADER_VIRTUAL_TERMINAL": "",
            "DIB_NO_TIMER_CHECK": "false", "EFI_BOOT_DIR": "EFI/ubuntu",
        ])
        #expect(o.serialConsole == nil)
        #expect(o.kernelCommandLine == "nofb nomodeset gfxpayload=text")
        #expect(o.efiDistributionDirectory == "ubuntu")
        #expect(
            BootOptions().kernelCommandLine == "console=tty0 console=ttyS0,115200 no_timer_check nofb nomodeset gfxpayload=text")
        #expect(throws: BootError.invalidOption(name: "DIB_GRUB_TIMEOUT", value: "soon", reason: "not a number of seconds")) {
            try BootOptions.fromEnvironment(["DIB_GRUB_TIMEOUT": "soon"])
        }
    }

    @Test func fstabLines() {
        #expect(RootFilesystem(uuid: Self.uuid).fstabLine == "UUID=\(Self.uuid) / ext4 defaults,errors=remount-ro 0 1")
        #expect(
            RootFilesystem(uuid: Self.uuid, label: "root", reference: .label, type: "xfs").fstabLine
                == "LABEL=root / xfs defaults 0 1")
    }

    @Test func espFstabLineUsesBlkidSpelling() {
        #expect(FstabLine.esp(volumeID: 0x0A1B_2C3D) == "UUID=0A1B-2C3D /boot/efi vfat umask=0077 0 1")
        #expect(FstabLine.esp(volumeID: 0x1F) == "UUID=0000-001F /boot/efi vfat umask=0077 0 1")
    }

    @Test func missingPackagesAreAllReported() throws {
        let dir = try TemporaryDirectory("stamp-empty-tree")
        let tree = try TreeScanner().scan(dir.path)
        let problems = BootLoader.problems(tree, layout: .efi, options: BootOptions())
        #expect(problems.contains("missing /usr/lib/grub/i386-pc/boot.img (install grub-pc-bin)"))
        #expect(problems.contains("missing /usr/lib/grub/i386-pc/kernel.img (install grub-pc-bin)"))
        #expect(
            problems.contains(
                "missing /usr/lib/grub/x86_64-efi/monolithic/grubx64.efi (install grub-efi-amd64-bin, or shim-signed and grub-efi-amd64-signed)"
            ))
        #expect(problems.contains("no kernel in /boot (install a linux-image package)"))
        #expect(problems.count == 7)
        #expect(throws: BootError.self) {
            try BootLoader.prepare(tree: tree, layout: .gpt, root: RootFilesystem(uuid: Self.uuid), time: Timestamp(seconds: 0))
        }
        #expect(BootLoader.problems(tree, layout: .gpt, options: BootOptions()).count == 6)
    }

    @Test func espDirectoriesParentsFirst() {
        let artifacts = BootArtifacts(
            layout: .efi, root: RootFilesystem(uuid: Self.uuid), bios: nil,
            espFiles: [
                ESPFile(path: "EFI/BOOT/BOOTX64.EFI", bytes: []), ESPFile(path: "EFI/debian/grubx64.efi", bytes: []),
            ], signedEFI: false, grubConfig: "", earlyConfig: "", log: "")
        #expect(artifacts.espDirectories == ["EFI", "EFI/BOOT", "EFI/debian"])
    }
}
