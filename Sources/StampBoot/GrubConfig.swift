/// The `/boot/grub/grub.cfg` stamp writes, from what the tree holds (kernels, initrds,
/// `/etc/os-release`, `/etc/default/grub`) read as data: the tree's `grub-mkconfig` and
/// `/etc/grub.d` scripts do not run.
///
/// ```
///  # header: written by stamp; update-grub in the guest writes the distribution's own
///  set default=0 / timeout / timeout_style        (DIB_GRUB_TIMEOUT, _STYLE)
///  serial …; terminal_input/terminal_output …      (DIB_BOOTLOADER_SERIAL_CONSOLE)
///  menuentry 'NAME' … {                            newest kernel first, as 10_linux sorts:
///      insmod gzio; insmod part_X; insmod ext2        vmlinuz-VERSION, version order
///      search --no-floppy --fs-uuid --set=root U
///      linux /boot/vmlinuz-V root=UUID=U ro GRUB_CMDLINE_LINUX + stamp's defaults
///      initrd [microcode…] /boot/initrd.img-V
///  }
/// ```
///
/// The entries match what Debian's `10_linux` writes for a root without a separate /boot
/// (root= from stamp's filesystem, `ro`, the tree's `GRUB_CMDLINE_LINUX` and stamp's
/// `GRUB_CMDLINE_LINUX_DEFAULT`); the snippet ``GrubTexts/defaultsSnippet(root:options:)``
/// carries the same settings into every later `update-grub` in the guest.
public struct GrubConfig: Sendable {
    /// One bootable kernel found in `/boot`.
    public struct Kernel: Sendable, Equatable {
        public var version: String
        public var kernel: String
        public var initrd: String?
    }

    public var kernels: [Kernel]
    public var microcode: [String]
    public var title: String
    public var distributionClass: String
    /// `GRUB_CMDLINE_LINUX` of the tree's `/etc/default/grub` (and `grub.d/*.cfg`).
    public var treeCommandLine: String

    /// The names in `/boot` that are kernels, initrds and microcode, and the texts read from
    /// the tree (`/etc/os-release`, `/etc/default/grub` then `grub.d/*.cfg` in name order).
    public init(bootNames: [String], osRelease: String?, defaultGrub: [String]) {
        let names = Set(bootNames)
        var kernels: [Kernel] = []
        for name in bootNames {
            let version: Substring
            if name.hasPrefix("vmlinuz-") {
                version = name.dropFirst(8)
            } else if name.hasPrefix("vmlinux-") {
                version = name.dropFirst(8)
            } else {
                continue
            }
            guard !version.isEmpty, !name.hasSuffix(".sig"), !name.hasSuffix(".dpkg-tmp"), !name.hasSuffix(".old") else {
                continue
            }
            let v = String(version)
            let initrd = ["initrd.img-\(v)", "initrd-\(v).img", "initrd-\(v).gz", "initrd-\(v)", "initramfs-\(v).img"]
                .first { names.contains($0) }
            kernels.append(Kernel(version: v, kernel: "/boot/" + name, initrd: initrd.map { "/boot/" + $0 }))
        }
        kernels.sort { Self.versionPrecedes($1.version, $0.version) }
        self.kernels = kernels
        self.microcode = ["intel-uc.img", "intel-ucode.img", "amd-uc.img", "amd-ucode.img", "early_ucode.cpio", "microcode.cpio"]
            .filter { names.contains($0) }.map { "/boot/" + $0 }
        let release = Self.assignments(osRelease ?? "")
        self.title =
            release["NAME"].map { $0.contains("GNU/Linux") || $0.contains("Linux") ? $0 : $0 + " GNU/Linux" } ?? "GNU/Linux"
        self.distributionClass =
            release["ID"].flatMap { id in id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } ? id : nil } ?? "gnu-linux"
        var command = ""
        for text in defaultGrub {
            if let value = Self.assignments(text)["GRUB_CMDLINE_LINUX"] { command = value }
        }
        self.treeCommandLine = command
    }

    /// The whole grub.cfg.
    public func render(root: RootFilesystem, layout: BootLayout, options: BootOptions) -> String {
        var s = """
            # /boot/grub/grub.cfg, written by stamp's boot loader step from the kernels in /boot.
            # The distribution's update-grub (run in the guest, e.g. on a kernel upgrade) writes its
            # own; stamp's settings for it are in \(GrubTexts.defaultsSnippetPath).

            set default=0
            set timeout=\(options.timeout)
            set timeout_style=\(options.timeoutStyle)

            """
        if let serial = options.grubSerial {
            s += """
                serial --unit=\(serial.unit) --speed=\(serial.speed) --word=8 --parity=no --stop=1
                terminal_input serial console
                terminal_output serial console

                """
        }
        let command = ["root=" + root.deviceSpec, "ro", treeCommandLine, options.kernelCommandLine]
            .filter { !$0.isEmpty }.joined(separator: " ")
        let search = GrubTexts.searchCommand(root)
        for (i, k) in kernels.enumerated() {
            let name = i == 0 ? title : "\(title), with Linux \(k.version)"
            s += """
                menuentry \(GrubTexts.shellQuote(name)) --class \(distributionClass) --class gnu-linux --class gnu --class os {
                \tinsmod gzio
                \tinsmod part_\(layout.partitionMap)
                \tinsmod ext2
                \t\(search)
                \techo\t\(GrubTexts.shellQuote("Loading Linux \(k.version) ..."))
                \tlinux\t\(k.kernel) \(command)

                """
            let initrds = microcode + (k.initrd.map { [$0] } ?? [])
            if !initrds.isEmpty {
                s += "\techo\t'Loading initial ramdisk ...'\n\tinitrd\t\(initrds.joined(separator: " "))\n"
            }
            s += "}\n"
        }
        return s
    }

    /// `KEY=value` lines of a shell-style file, unquoted ('…', "…" without expansion); other
    /// lines (commands, comments) are ignored: the file is data, not run.
    static func assignments(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            var line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("export ") { line = line.dropFirst(7) }
            guard let eq = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            let key = String(line[..<eq])
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            var value = line[line.index(after: eq)...]
            if let quote = value.first, quote == "\"" || quote == "'" {
                value = value.dropFirst()
                if let end = value.firstIndex(of: quote) { value = value[..<end] }
            } else if let space = value.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "#" }) {
                value = value[..<space]
            }
            out[key] = String(value)
        }
        return out
    }

    /// Version order (GRUB's `version_sort`, as `sort -V`): runs of digits compare as numbers,
    /// everything else byte by byte; `~` sorts before anything.
    static func versionPrecedes(_ a: String, _ b: String) -> Bool {
        var x = Array(a.utf8)[...]
        var y = Array(b.utf8)[...]
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        while !x.isEmpty || !y.isEmpty {
            if let c = x.first, let d = y.first, isDigit(c), isDigit(d) {
                let n = x.prefix(while: isDigit)
                let m = y.prefix(while: isDigit)
                let nn = n.drop { $0 == 0x30 }
                let mm = m.drop { $0 == 0x30 }
                if nn.count != mm.count { return nn.count < mm.count }
                if !nn.elementsEqual(mm) { return nn.lexicographicallyPrecedes(mm) }
                x = x.dropFirst(n.count)
                y = y.dropFirst(m.count)
                continue
            }
            let c = x.first
            let d = y.first
            if c == d {
                x = x.dropFirst()
                y = y.dropFirst()
                continue
            }
            func rank(_ c: UInt8?) -> Int {
                guard let c else { return 0 }
                if c == 0x7E { return -1 }
                if isDigit(c) { return 0 }
                return Int(c) + 256
            }
            return rank(c) < rank(d)
        }
        return false
    }
}
