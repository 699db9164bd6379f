/// Which disk layout the boot code is for; the names are DIB's `block-device-*` layouts.
public enum BootLayout: String, Sendable, CaseIterable {
    /// MBR partition table; BIOS boot with core.img in the post-MBR gap.
    case mbr
    /// GPT; BIOS boot with core.img in the BIOS boot partition.
    case gpt
    /// GPT with an ESP and a BIOS boot partition: UEFI boot from the ESP, and BIOS boot too.
    case efi

    /// True when the layout boots from a BIOS (boot.img + core.img are made).
    public var bootsBIOS: Bool { true }
    /// True when the layout boots from UEFI (EFI binaries for the ESP are made).
    public var bootsUEFI: Bool { self == .efi }
    /// GRUB's name of the partition map, as `grub-probe --target=partmap` prints it.
    var partitionMap: String { self == .mbr ? "msdos" : "gpt" }
}

/// How the kernel and GRUB find the root filesystem.
public enum RootReference: Sendable, Equatable {
    /// By filesystem UUID: `root=UUID=…`, `search --fs-uuid`.
    case uuid
    /// By filesystem label: `root=LABEL=…`, `search --label` (DIB's default, `DIB_ROOT_LABEL`).
    case label
}

/// The machine a disk boots on, and the names its UEFI firmware and GRUB give things.
public enum BootArchitecture: String, Sendable, Equatable {
    case x86_64
    case arm64

    /// GRUB's platform directory for UEFI (`/usr/lib/grub/<this>`).
    var efiPlatform: String { self == .x86_64 ? "x86_64-efi" : "arm64-efi" }
    /// The UEFI spec's suffix of the removable-media path (`EFI/BOOT/BOOT<this>.EFI`).
    var efiSuffix: String { self == .x86_64 ? "X64" : "AA64" }
    /// The lower-case suffix of shim's and GRUB's file names (`shim<this>.efi`).
    var fileSuffix: String { self == .x86_64 ? "x64" : "aa64" }
    /// Debian's packages of the prebuilt and the signed EFI images.
    var efiPackages: String {
        self == .x86_64
            ? "grub-efi-amd64-bin, or shim-signed and grub-efi-amd64-signed"
            : "grub-efi-arm64-bin, or shim-signed and grub-efi-arm64-signed"
    }
}

/// The root filesystem the boot loader must find.
public struct RootFilesystem: Sendable, Equatable {
    /// The filesystem UUID (ext4 `s_uuid`), lower-case `xxxxxxxx-xxxx-…`.
    public var uuid: String
    /// The filesystem label (ext4 `s_volume_name`), if any.
    public var label: String?
    /// What `root=` and GRUB's search use; `.label` needs a label.
    public var reference: RootReference
    /// The filesystem type for fstab.
    public var type: String

    public init(uuid: String, label: String? = nil, reference: RootReference = .uuid, type: String = "ext4") {
        self.uuid = uuid.lowercased()
        self.label = label
        self.reference = reference
        self.type = type
    }

    /// `UUID=<uuid>` or `LABEL=<label>`: the kernel's `root=` value and fstab's first field.
    public var deviceSpec: String {
        switch reference {
        case .uuid: return "UUID=" + uuid
        case .label: return "LABEL=" + (label ?? "")
        }
    }

    /// The `/etc/fstab` line for this root, e.g.
    /// `UUID=0f3e… / ext4 defaults,errors=remount-ro 0 1` (pass 1: fsck'd at boot).
    public var fstabLine: String {
        let options = type.hasPrefix("ext") ? "defaults,errors=remount-ro" : "defaults"
        return "\(deviceSpec) / \(type) \(options) 0 1"
    }
}

/// `/etc/fstab` lines for the other filesystems a bootable layout has.
public enum FstabLine {
    /// The ESP, mounted where Debian's grub-efi and shim packages expect it, e.g.
    /// `UUID=1234-ABCD /boot/efi vfat umask=0077 0 1`.
    /// - Parameter volumeID: the FAT volume serial (`BS_VolID`), as blkid prints it.
    public static func esp(volumeID: UInt32) -> String {
        let hex = String(volumeID, radix: 16, uppercase: true)
        let padded = String(repeating: "0", count: 8 - hex.count) + hex
        return "UUID=\(padded.prefix(4))-\(padded.suffix(4)) /boot/efi vfat umask=0077 0 1"
    }
}

/// Boot loader settings; each maps to the DIB variable named in its comment.
public struct BootOptions: Sendable, Equatable {
    /// `DIB_BOOTLOADER_DEFAULT_CMDLINE`: appended to every kernel command line.
    public var defaultCommandLine = "nofb nomodeset gfxpayload=text"
    /// `DIB_GRUB_TIMEOUT`: seconds the menu waits.
    public var timeout = 5
    /// `DIB_GRUB_TIMEOUT_STYLE`: `menu`, `countdown` or `hidden`.
    public var timeoutStyle = "menu"
    /// `DIB_BOOTLOADER_SERIAL_CONSOLE` (e.g. `ttyS0,115200`); nil when
    /// `DIB_BOOTLOADER_USE_SERIAL_CONSOLE` is false.
    public var serialConsole: String? = "ttyS0,115200"
    /// `DIB_BOOTLOADER_VIRTUAL_TERMINAL` (`tty0`); nil or empty for none.
    public var virtualTerminal: String? = "tty0"
    /// `DIB_NO_TIMER_CHECK`: add `no_timer_check`.
    public var noTimerCheck = true
    /// Use the distribution's signed shim + grub on the ESP when they are installed in the tree.
    public var preferSignedEFI = true
    /// The distribution directory under `EFI/` on the ESP (`EFI_BOOT_DIR` in DIB).
    public var efiDistributionDirectory = "debian"
    /// Extra GRUB modules to embed in core.img and the EFI image.
    public var extraModules: [String] = []
    /// The machine the disk boots on (the image's platform): x86-64 boots from BIOS and UEFI,
    /// arm64 from UEFI only, with GRUB's `arm64-efi` files.
    public var architecture = BootArchitecture.x86_64

    public init() {}

    /// Reads DIB's variables from `environment`, keeping the defaults for unset ones.
    /// - Throws: ``BootError/invalidOption(name:value:reason:)`` for a malformed value.
    public static func fromEnvironment(_ environment: [String: String]) throws(BootError) -> BootOptions {
        var o = BootOptions()
        if let v = environment["DIB_BOOTLOADER_DEFAULT_CMDLINE"] { o.defaultCommandLine = v }
        if let v = environment["DIB_GRUB_TIMEOUT"] {
            guard let t = Int(v), t >= 0 else {
                throw .invalidOption(name: "DIB_GRUB_TIMEOUT", value: v, reason: "not a number of seconds")
            }
            o.timeout = t
        }
        if let v = environment["DIB_GRUB_TIMEOUT_STYLE"] {
            guard ["menu", "countdown", "hidden"].contains(v) else {
                throw .invalidOption(name: "DIB_GRUB_TIMEOUT_STYLE", value: v, reason: "expected menu, countdown or hidden")
            }
            o.timeoutStyle = v
        }
        if let v = environment["DIB_BOOTLOADER_SERIAL_CONSOLE"], !v.isEmpty { o.serialConsole = v }
        if let v = environment["DIB_BOOTLOADER_USE_SERIAL_CONSOLE"] {
            if try !parseBool("DIB_BOOTLOADER_USE_SERIAL_CONSOLE", v) { o.serialConsole = nil }
        }
        if let v = environment["DIB_BOOTLOADER_VIRTUAL_TERMINAL"] { o.virtualTerminal = v.isEmpty ? nil : v }
        if let v = environment["DIB_NO_TIMER_CHECK"] { o.noTimerCheck = try parseBool("DIB_NO_TIMER_CHECK", v) }
        if let v = environment["EFI_BOOT_DIR"], !v.isEmpty {
            // DIB's EFI_BOOT_DIR is a path like "EFI/debian"; keep the last component.
            o.efiDistributionDirectory = String(v.split(separator: "/").last ?? Substring(v))
        }
        return o
    }

    private static func parseBool(_ name: String, _ value: String) throws(BootError) -> Bool {
        switch value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off", "": return false
        default: throw .invalidOption(name: name, value: value, reason: "expected true or false")
        }
    }

    /// The serial port as GRUB names it: unit number and speed, from `ttyS<unit>,<speed>`.
    /// nil when there is no serial console or it is not a `ttyS` port.
    var grubSerial: (unit: Int, speed: Int)? {
        guard let console = serialConsole, console.hasPrefix("ttyS") else { return nil }
        let parts = console.dropFirst(4).split(separator: ",", maxSplits: 1)
        guard let unit = parts.first.flatMap({ Int($0) }) else { return nil }
        var speed = 115200
        if parts.count == 2 {
            let digits = parts[1].prefix(while: { $0.isNumber })
            speed = Int(digits) ?? 115200
        }
        return (unit, speed)
    }

    /// The kernel command line after `root=… ro`, as DIB builds `GRUB_CMDLINE_LINUX_DEFAULT`:
    /// virtual terminal console, serial console (last, so it gets /dev/console), timer check,
    /// then `defaultCommandLine`.
    public var kernelCommandLine: String {
        var words: [String] = []
        if let vt = virtualTerminal, !vt.isEmpty { words.append("console=" + vt) }
        if let serial = serialConsole { words.append("console=" + serial) }
        if noTimerCheck { words.append("no_timer_check") }
        if !defaultCommandLine.isEmpty { words.append(defaultCommandLine) }
        return words.joined(separator: " ")
    }
}
