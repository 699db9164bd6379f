/// The one script stamp runs in a chroot of the tree to make everything GRUB needs, with the
/// tree's own GRUB (its `/usr/lib/grub/<platform>` modules and its own tools).
///
/// Inputs (in the chroot's `/tmp`, which is a host work directory): `early.cfg`,
/// `defaults.cfg`. Outputs (in `/tmp/out`, read back by ``BootLoader``):
///
/// | file | made by |
/// |---|---|
/// | `boot.img` | copied from `/usr/lib/grub/i386-pc/boot.img` |
/// | `core.img` | `grub-mkimage -O i386-pc … biosdisk part_* ext2 search_fs_uuid …` |
/// | `grubx64.efi` | `grub-mkimage -O x86_64-efi …` (the unsigned removable-media loader) |
/// | `shimx64.efi`, `grubx64.efi.signed`, `mmx64.efi`, `BOOTX64.CSV` | copied when the shim-signed and grub-efi-amd64-signed packages are installed |
/// | `grub.cfg` | a copy of the tree's new `/boot/grub/grub.cfg` |
///
/// What stays in the tree, as `grub-install` + `update-grub` would leave it:
/// `/boot/grub/grub.cfg`, `/boot/grub/grubenv`, `/boot/grub/<platform>/*.mod|*.lst`, and
/// ``GrubTexts/defaultsSnippetPath``.
enum GrubChrootScript {
    /// Modules embedded in core.img (BIOS). `grub-mkimage` adds their dependencies itself.
    static let biosModules = [
        "biosdisk", "part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "search_label",
        "normal", "configfile", "linux", "echo", "test", "serial", "terminal", "gzio", "boot",
    ]
    /// Modules embedded in the EFI image.
    static let efiModules = [
        "part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "search_label", "normal",
        "configfile", "linux", "echo", "test", "serial", "terminal", "gzio", "boot", "efi_gop",
    ]

    /// Where the distribution's signed binaries live in a Debian/Ubuntu tree.
    static let signedShim = "/usr/lib/shim/shimx64.efi.signed"
    static let signedGrub = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
    static let signedMokManager = "/usr/lib/shim/mmx64.efi.signed"
    static let shimCSV = "/usr/lib/shim/BOOTX64.CSV"

    /// The script for `layout`.
    static func render(layout: BootLayout, options: BootOptions) -> String {
        let extra = options.extraModules
        var s = """
            set -eu
            out=/tmp/out
            mkdir -p "$out"
            echo "stamp-boot: $(grub-mkimage --version)"

            """
        if layout.bootsBIOS {
            s += """
                # BIOS: boot.img and core.img from the tree's i386-pc modules
                cp /usr/lib/grub/i386-pc/boot.img "$out/boot.img"
                grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -c /tmp/early.cfg -p /boot/grub \\
                    -o "$out/core.img" \((biosModules + extra).joined(separator: " "))
                mkdir -p /boot/grub/i386-pc
                cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst /boot/grub/i386-pc/

                """
        }
        if layout.bootsUEFI {
            s += """
                # UEFI: the removable-media loader from the tree's x86_64-efi modules
                grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -c /tmp/early.cfg -p /boot/grub \\
                    -o "$out/grubx64.efi" \((efiModules + extra).joined(separator: " "))
                mkdir -p /boot/grub/x86_64-efi
                cp /usr/lib/grub/x86_64-efi/*.mod /usr/lib/grub/x86_64-efi/*.lst /boot/grub/x86_64-efi/

                """
            if options.preferSignedEFI {
                s += """
                    # Signed shim + grub, when the distribution's packages are installed
                    if [ -f \(signedShim) ] && [ -f \(signedGrub) ]; then
                        cp \(signedShim) "$out/shimx64.efi"
                        cp \(signedGrub) "$out/grubx64.efi.signed"
                        if [ -f \(signedMokManager) ]; then cp \(signedMokManager) "$out/mmx64.efi"; fi
                        if [ -f \(shimCSV) ]; then cp \(shimCSV) "$out/BOOTX64.CSV"; fi
                    fi

                    """
            }
        }
        s += """
            # grub.cfg by the distribution's own grub-mkconfig (grub-probe/grub-mkrelpath are stand-ins)
            mkdir -p /etc/default/grub.d /boot/grub
            cp /tmp/defaults.cfg \(GrubTexts.defaultsSnippetPath)
            chmod 0644 \(GrubTexts.defaultsSnippetPath)
            if [ ! -f /boot/grub/grubenv ]; then grub-editenv /boot/grub/grubenv create; fi
            grub-mkconfig -o /boot/grub/grub.cfg
            cp /boot/grub/grub.cfg "$out/grub.cfg"

            """
        return s
    }

    /// Problems that would make the script fail, found before running anything slow.
    static func problems(tree: String, layout: BootLayout) -> [String] {
        var needed: [(String, String)] = [
            ("/bin/sh", "a shell"),
            ("/usr/bin/grub-mkimage", "grub-common"),
            ("/usr/bin/grub-editenv", "grub-common"),
            ("/usr/sbin/grub-mkconfig", "grub2-common"),
            ("/usr/sbin/grub-probe", "grub-common"),
            ("/usr/bin/grub-mkrelpath", "grub-common"),
            ("/etc/grub.d/10_linux", "grub-common"),
        ]
        if layout.bootsBIOS {
            needed += [
                ("/usr/lib/grub/i386-pc/boot.img", "grub-pc-bin"),
                ("/usr/lib/grub/i386-pc/moddep.lst", "grub-pc-bin"),
            ]
        }
        if layout.bootsUEFI { needed.append(("/usr/lib/grub/x86_64-efi/moddep.lst", "grub-efi-amd64-bin")) }
        var problems = needed.filter { !HostFiles.exists(tree + $0.0) }.map { "missing \($0.0) (install \($0.1))" }
        let kernels = HostFiles.list(tree + "/boot").filter { $0.hasPrefix("vmlinuz-") || $0.hasPrefix("vmlinux-") }
        if kernels.isEmpty { problems.append("no kernel in /boot (install a linux-image package)") }
        return problems
    }
}
