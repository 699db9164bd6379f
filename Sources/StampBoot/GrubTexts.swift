/// The small texts stamp generates for GRUB: embedded configs, the `/etc/default/grub.d`
/// snippet, and the two stand-ins that let `grub-mkconfig` run in a chroot with no device.
///
/// Why stand-ins: `grub-mkconfig` (run with `set -e`) starts with
/// `GRUB_DEVICE="$(grub-probe --target=device /)"`, then asks `grub-probe` for the fs, its
/// UUID, the partition map and more, and `grub-mkrelpath` for paths relative to the fs root.
/// In a chroot of a plain directory those questions have no true answer (the tree is not a
/// filesystem yet), and a real `grub-probe` would describe the *builder's* disk. stamp knows
/// every answer already, because it is about to write the filesystem: so, inside the
/// chroot's private mount namespace only, it binds two tiny scripts over
/// `/usr/sbin/grub-probe` and `/usr/bin/grub-mkrelpath`. Everything else, `10_linux`
/// included, is the distribution's own code, and the tree keeps its real binaries.
public enum GrubTexts {
    /// The config embedded in core.img and the EFI image (`grub-mkimage -c`): find the root
    /// filesystem, point `prefix` at its `/boot/grub`; GRUB then runs `normal`, which reads
    /// `$prefix/grub.cfg` (what `grub-install` embeds, with a serial console first).
    public static func earlyConfig(root: RootFilesystem, options: BootOptions) -> String {
        var lines: [String] = []
        if let serial = options.grubSerial {
            lines.append("serial --unit=\(serial.unit) --speed=\(serial.speed)")
            lines.append("terminal_input serial console")
            lines.append("terminal_output serial console")
        }
        lines.append(searchCommand(root))
        lines.append("set prefix=($root)/boot/grub")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `grub.cfg` placed beside a signed grubx64.efi on the ESP (what Debian's
    /// `grub-install --uefi-secure-boot` writes): the signed image reads it from its own
    /// `$prefix` (`/EFI/debian`) or `$cmdpath`, and it hands over to the root's grub.cfg.
    public static func espStubConfig(root: RootFilesystem) -> String {
        searchCommand(root) + "\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n"
    }

    static func searchCommand(_ root: RootFilesystem) -> String {
        switch root.reference {
        case .uuid: return "search --no-floppy --fs-uuid --set=root \(root.uuid)"
        case .label: return "search --no-floppy --label --set=root \(shellQuote(root.label ?? ""))"
        }
    }

    /// The path of stamp's settings snippet in the tree.
    public static let defaultsSnippetPath = "/etc/default/grub.d/90-stamp-bootloader.cfg"

    /// `/etc/default/grub.d/90-stamp-bootloader.cfg`: DIB's `bootloader` settings, sourced by
    /// every later `update-grub` in the image too (so a kernel upgrade keeps the console).
    public static func defaultsSnippet(root: RootFilesystem, options: BootOptions) -> String {
        var lines = [
            "# Written by stamp's boot loader step; sourced by grub-mkconfig after /etc/default/grub.",
            "GRUB_DEFAULT=0",
            "GRUB_TIMEOUT=\(options.timeout)",
            "GRUB_TIMEOUT_STYLE=\(options.timeoutStyle)",
            "GRUB_CMDLINE_LINUX_DEFAULT=" + shellQuote(options.kernelCommandLine),
            "GRUB_DISABLE_OS_PROBER=true",
        ]
        if let serial = options.grubSerial {
            lines.append("GRUB_TERMINAL='serial console'")
            lines.append("GRUB_SERIAL_COMMAND='serial --speed=\(serial.speed) --unit=\(serial.unit) --word=8 --parity=no --stop=1'")
        } else {
            lines.append("GRUB_TERMINAL=console")
        }
        if root.reference == .label, let label = root.label {
            // As DIB does: root=LABEL=… survives a re-probe inside the booted guest.
            lines.append("GRUB_DEVICE=" + shellQuote("LABEL=" + label))
            lines.append("GRUB_DISABLE_LINUX_UUID=true")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The stand-in for `grub-probe`: answers what grub-mkconfig and its scripts ask about
    /// `/` and `/boot` with the filesystem stamp will write; anything else fails loudly.
    ///
    /// `--target=device` answers `UUID=…` (or `LABEL=…`). `10_linux` then passes it straight
    /// to `root=` because `/dev/disk/by-uuid/…` does not exist in the chroot's private /dev.
    static func probeStandIn(root: RootFilesystem, layout: BootLayout) -> String {
        """
        #!/bin/sh
        # stamp: stand-in for grub-probe while grub-mkconfig runs in a chroot (bind-mounted in a
        # private mount namespace; the tree's own grub-probe is untouched).
        target=
        while [ $# -gt 0 ]; do
            case "$1" in
                -t|--target) target=$2; shift 2 ;;
                --target=*) target=${1#--target=}; shift ;;
                *) shift ;;
            esac
        done
        case "$target" in
            device) echo \(shellQuote(root.deviceSpec)) ;;
            fs) echo ext2 ;;
            fs_uuid) echo \(root.uuid) ;;
            fs_label) \(root.label.map { "echo " + shellQuote($0) } ?? "exit 1") ;;
            partmap) echo \(layout.partitionMap) ;;
            abstraction|compatibility_hint|hints_string|partuuid|cryptodisk_uuid) ;;
            *) echo "grub-probe (stamp stand-in): target '$target' is not known in a chroot" >&2; exit 1 ;;
        esac
        """ + "\n"
    }

    /// The stand-in for `grub-mkrelpath`: `/` and `/boot` are one filesystem in stamp's
    /// images, so a path relative to its filesystem's root is the path itself.
    static let relpathStandIn = """
        #!/bin/sh
        # stamp: stand-in for grub-mkrelpath (root and /boot are one filesystem).
        printf '%s\\n' "$1"
        """ + "\n"

    /// `text` in single quotes for POSIX sh.
    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingAll("'", with: "'\\''") + "'"
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
