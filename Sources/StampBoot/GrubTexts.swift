/// The small texts stamp generates for GRUB: embedded configs, the ESP stub, the
/// `/etc/default/grub.d` snippet (read by the guest's own `update-grub` later) and an empty
/// `grubenv`. grub.cfg itself is ``GrubConfig``.
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
    /// every `update-grub` in the guest (so a kernel upgrade keeps the console).
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
            lines.append(
                "GRUB_SERIAL_COMMAND='serial --speed=\(serial.speed) --unit=\(serial.unit) --word=8 --parity=no --stop=1'")
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

    /// An empty `grubenv`: GRUB's 1024-byte environment block (`grub-editenv FILE create`).
    public static let emptyEnvironmentBlock: [UInt8] = {
        let header = Array("# GRUB Environment Block\n".utf8)
        return header + [UInt8](repeating: 0x23, count: 1024 - header.count)
    }()

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
