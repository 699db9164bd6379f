#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StampBytes

/// Makes a root tree bootable by GRUB, without a loop device, a mount of the image, or a VM.
///
/// ```
///  root tree ──► BootLoader.prepare ──► BootArtifacts ──► the disk assembler writes:
///   (kernel,       (one chroot of the      .bios     LBA 0     patchedMBR(sector0:…)
///    grub pkgs)     tree: grub-mkimage,              core LBA  patchedCore(…)
///                   grub-mkconfig)         .espFiles ESP       EFI/BOOT/BOOTX64.EFI …
///                       │
///                       └─► tree: /boot/grub/grub.cfg, grubenv, <platform>/*.mod,
///                                 /etc/default/grub.d/90-stamp-bootloader.cfg
/// ```
///
/// Call it after the tree is final and before the ext4 filesystem is written (grub.cfg must
/// be in it), with the UUID/label the filesystem will get:
///
/// ```swift
/// let root = RootFilesystem(uuid: "0f3e…", label: "cloudimg-rootfs", reference: .uuid)
/// let boot = try BootLoader.prepare(tree: "/srv/tree", layout: .gpt, root: root, options: options)
/// let (mbr, core, lba) = try boot.biosSectors(sector0: protectiveMBR,
///                                            placement: .biosBootPartition(startLBA: 2048, sectors: 2048))
/// ```
public enum BootLoader {
    /// Runs the tree's own GRUB in a chroot of `tree` and collects what the disk needs.
    ///
    /// - Parameters:
    ///   - tree: the root tree (absolute path); it gets grub.cfg and GRUB's module directories.
    ///   - layout: `.mbr`, `.gpt` (BIOS) or `.efi` (UEFI + BIOS).
    ///   - root: the root filesystem as it will be written.
    ///   - options: DIB's bootloader settings (``BootOptions/fromEnvironment(_:)``).
    /// - Returns: the boot code and ESP files; nothing in the tree needs to be read back.
    /// - Throws: ``BootError/treeNotReady(tree:problems:)`` listing everything missing, or
    ///   ``BootError/commandFailed(command:status:output:)`` when a GRUB tool fails.
    /// - Important: needs root (mount, chroot); run it before the process starts threads
    ///   that must not see the child, as any spawn.
    public static func prepare(
        tree: String, layout: BootLayout, root: RootFilesystem, options: BootOptions = BootOptions()
    ) throws(BootError) -> BootArtifacts {
        guard tree.hasPrefix("/") else {
            throw .invalidOption(name: "tree", value: tree, reason: "must be an absolute path")
        }
        let tree = tree.count > 1 && tree.hasSuffix("/") ? String(tree.dropLast()) : tree
        var problems = GrubChrootScript.problems(tree: tree, layout: layout)
        if geteuid() != 0 { problems.append("preparing the boot loader needs root (it mounts and chroots)") }
        if Identifier(root.uuid) == nil { problems.append("root uuid \(root.uuid) is not a uuid") }
        if root.reference == .label && (root.label ?? "").isEmpty { problems.append("root by label needs a label") }
        guard problems.isEmpty else { throw .treeNotReady(tree: tree, problems: problems) }

        let work = try HostFiles.temporaryDirectory(prefix: "stamp-boot")
        defer { HostFiles.removeTree(work) }
        try HostFiles.write(Array(GrubTexts.earlyConfig(root: root, options: options).utf8), to: work + "/early.cfg")
        try HostFiles.write(
            Array(GrubTexts.defaultsSnippet(root: root, options: options).utf8), to: work + "/defaults.cfg")
        try HostFiles.write(
            Array(GrubTexts.probeStandIn(root: root, layout: layout).utf8), to: work + "/grub-probe", mode: 0o755)
        try HostFiles.write(Array(GrubTexts.relpathStandIn.utf8), to: work + "/grub-mkrelpath", mode: 0o755)

        let log = try TreeChroot(tree: tree).run(
            script: GrubChrootScript.render(layout: layout, options: options), work: work,
            overlays: [
                (work + "/grub-probe", "/usr/sbin/grub-probe"),
                (work + "/grub-mkrelpath", "/usr/bin/grub-mkrelpath"),
            ])

        let out = work + "/out"
        func output(_ name: String) throws(BootError) -> [UInt8] {
            guard HostFiles.exists(out + "/" + name) else { throw .missingOutput(path: name) }
            return try HostFiles.read(out + "/" + name)
        }
        var bios: BIOSBootCode?
        if layout.bootsBIOS {
            bios = try BIOSBootCode(
                bootImage: try output("boot.img"), coreImage: try output("core.img"),
                source: tree + "/usr/lib/grub/i386-pc")
        }
        var esp: [ESPFile] = []
        var signed = false
        if layout.bootsUEFI {
            let directory = "EFI/" + options.efiDistributionDirectory
            if HostFiles.exists(out + "/shimx64.efi") && HostFiles.exists(out + "/grubx64.efi.signed") {
                signed = true
                let shim = try output("shimx64.efi"), grub = try output("grubx64.efi.signed")
                let stub = Array(GrubTexts.espStubConfig(root: root).utf8)
                esp += [
                    ESPFile(path: "EFI/BOOT/BOOTX64.EFI", bytes: shim),
                    ESPFile(path: "EFI/BOOT/grubx64.efi", bytes: grub),
                    ESPFile(path: "EFI/BOOT/grub.cfg", bytes: stub),
                    ESPFile(path: directory + "/shimx64.efi", bytes: shim),
                    ESPFile(path: directory + "/grubx64.efi", bytes: grub),
                    ESPFile(path: directory + "/grub.cfg", bytes: stub),
                ]
                if HostFiles.exists(out + "/mmx64.efi") {
                    let mm = try output("mmx64.efi")
                    esp += [ESPFile(path: "EFI/BOOT/mmx64.efi", bytes: mm), ESPFile(path: directory + "/mmx64.efi", bytes: mm)]
                }
                if HostFiles.exists(out + "/BOOTX64.CSV") {
                    esp.append(ESPFile(path: directory + "/BOOTX64.CSV", bytes: try output("BOOTX64.CSV")))
                }
            } else {
                let grub = try output("grubx64.efi")
                esp += [
                    ESPFile(path: "EFI/BOOT/BOOTX64.EFI", bytes: grub),
                    ESPFile(path: directory + "/grubx64.efi", bytes: grub),
                ]
            }
        }
        let grubConfig = String(decoding: try output("grub.cfg"), as: UTF8.self)
        return BootArtifacts(
            layout: layout, root: root, bios: bios, espFiles: esp.sorted { $0.path < $1.path },
            signedEFI: signed, grubConfig: grubConfig, earlyConfig: GrubTexts.earlyConfig(root: root, options: options),
            log: log)
    }
}

/// A file for the EFI system partition; `path` is relative to the ESP root, `/`-separated,
/// in the case it should be written (FAT matches names case-insensitively).
public struct ESPFile: Sendable, Equatable {
    public var path: String
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// Everything the disk assembler needs from the boot loader step.
public struct BootArtifacts: Sendable {
    /// The layout these were made for.
    public var layout: BootLayout
    /// The root filesystem they find.
    public var root: RootFilesystem
    /// boot.img + core.img; nil when the layout does not boot from a BIOS.
    public var bios: BIOSBootCode?
    /// Files for the ESP, sorted by path; empty unless the layout boots from UEFI.
    public var espFiles: [ESPFile]
    /// True when `espFiles` hold the distribution's signed shim + grub (Secure Boot capable).
    public var signedEFI: Bool
    /// The grub.cfg now in the tree at `/boot/grub/grub.cfg`.
    public var grubConfig: String
    /// The config embedded in core.img and the unsigned EFI image.
    public var earlyConfig: String
    /// What the chroot step printed (grub-mkimage, grub-mkconfig), for the build log.
    public var log: String

    /// The ESP directories to create, parents first (e.g. `EFI`, `EFI/BOOT`, `EFI/debian`).
    public var espDirectories: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for file in espFiles {
            let parts = file.path.split(separator: "/").dropLast()
            for i in parts.indices {
                let directory = parts[...i].joined(separator: "/")
                if seen.insert(directory).inserted { out.append(directory) }
            }
        }
        return out
    }

    /// LBA 0 for a BIOS boot: `boot.img` carrying `sector0`'s BPB area and partition table.
    /// - Throws: ``BootError/invalidPlacement(_:)`` when the layout has no BIOS boot code.
    public func patchedMBR(sector0: [UInt8], coreLBA: UInt64) throws(BootError) -> [UInt8] {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.patchedMBR(sector0: sector0, coreLBA: coreLBA)
    }

    /// core.img, whole sectors, with its blocklist set for `lba`.
    public func patchedCore(lba: UInt64) throws(BootError) -> [UInt8] {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.patchedCore(lba: lba)
    }

    /// Both BIOS regions for `placement`, after checking that core.img fits there.
    public func biosSectors(
        sector0: [UInt8], placement: BIOSPlacement
    ) throws(BootError) -> (mbr: [UInt8], core: [UInt8], coreLBA: UInt64) {
        guard let bios else { throw .invalidPlacement("layout \(layout.rawValue) has no bios boot code") }
        return try bios.sectors(sector0: sector0, placement: placement)
    }
}
