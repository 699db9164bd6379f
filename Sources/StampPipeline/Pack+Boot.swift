import StampBoot
import StampBytes
import StampDisk
import StampFAT

#if canImport(Glibc)
import Glibc
#endif

/// The boot loader step of a pack: GRUB's own tools in a chroot of the tree make grub.cfg,
/// core.img and the EFI binaries; stamp places them natively (no grub-install, no loop device).
extension Packer {
    /// The boot layout of a standard layout (nil for a bare filesystem).
    static func bootLayout(of layout: StandardLayout) -> BootLayout? {
        switch layout {
        case .none: return nil
        case .mbr: return .mbr
        case .gpt: return .gpt
        case .efi: return .efi
        }
    }

    /// The boot layout of a planned disk: MBR, GPT, or GPT with an ESP (UEFI, and BIOS too
    /// when it has a BIOS boot partition); nil for a bare filesystem.
    static func bootLayout(of layout: DiskLayout) -> BootLayout? {
        switch layout.scheme {
        case .none: return nil
        case .mbr: return .mbr
        case .gpt: return layout.partition(role: .efiSystem) != nil ? .efi : .gpt
        }
    }

    /// Whether the tree carries what GRUB needs for `layout` (kernel and GRUB's platform files).
    static func treeCanBoot(_ root: String, layout: BootLayout) -> Bool {
        func exists(_ p: String) -> Bool { access(root + p, F_OK) == 0 }
        guard let boot = opendir(root + "/boot") else { return false }
        defer { closedir(boot) }
        var kernel = false
        while let e = readdir(boot) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("vmlinuz") { kernel = true }
        }
        let bios = exists("/usr/lib/grub/i386-pc/boot.img")
        let uefi = exists("/usr/lib/grub/x86_64-efi")
        return kernel && bios && (layout != .efi || uefi)
    }

    /// Runs GRUB in the tree (writes grub.cfg and an fstab root line), returning the artifacts,
    /// or nil when the layout has nothing to boot from or the tree has no GRUB.
    func prepareBoot(uuid: Identifier, layout: BootLayout?, label: String) throws -> BootArtifacts? {
        guard request.bootloader, let layout else { return nil }
        guard Packer.treeCanBoot(request.root, layout: layout) else {
            if request.requireBootloader {
                throw PackProblems(problems: ["\(request.root): no kernel and GRUB files for a \(layout.rawValue) boot (install grub-pc-bin\(layout == .efi ? ", grub-efi-amd64-bin" : "") and a kernel)"])
            }
            log("no kernel or GRUB in the tree: writing a disk without boot code")
            return nil
        }
        let root = RootFilesystem(uuid: uuid.description, label: label, reference: request.rootByLabel ? .label : .uuid)
        log("boot loader: GRUB from the tree (\(layout), root \(root.deviceSpec))")
        let artifacts = try BootLoader.prepare(tree: request.root, layout: layout, root: root, options: request.bootOptions)
        try ensureFstab(root: root)
        return artifacts
    }

    /// Adds a root line to the tree's /etc/fstab when it has none (systemd remounts / read-write
    /// from it).
    private func ensureFstab(root: RootFilesystem) throws {
        let path = request.root + "/etc/fstab"
        var text = ""
        if let f = fopen(path, "r") {
            var line: UnsafeMutablePointer<CChar>?
            var n = 0
            while getline(&line, &n, f) > 0, let l = line { text += String(cString: l) }
            free(line)
            fclose(f)
        }
        let hasRoot = text.split(separator: "\n").contains { l in
            let fields = l.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count >= 2 && !fields[0].hasPrefix("#") && fields[1] == "/"
        }
        guard !hasRoot, let f = fopen(path, "a") else { return }
        fputs(root.fstabLine + "\n", f)
        fclose(f)
    }

    /// The boot code for the disk assembler: boot.img in sector 0, core.img in the embedding
    /// area (BIOS boot partition or post-MBR gap).
    static func bootCode(_ artifacts: BootArtifacts, layout: DiskLayout) throws -> BootCode? {
        guard artifacts.bios != nil, let area = layout.embeddingArea else { return nil }
        guard let sector0 = try layout.tableBlocks().first(where: { $0.offset == 0 })?.bytes else { return nil }
        let placement: BIOSPlacement =
            layout.scheme == .mbr
            ? .postMBRGap(firstPartitionLBA: area.upperBound)
            : .biosBootPartition(startLBA: area.lowerBound, sectors: area.upperBound - area.lowerBound)
        let sectors = try artifacts.biosSectors(sector0: Array(sector0.prefix(512)), placement: placement)
        return BootCode(bootstrap: Array(sectors.mbr.prefix(440)), core: BootRegionProducer(sectors.core))
    }

    /// The ESP's contents: GRUB's EFI files (or an empty EFI/BOOT).
    static func espEntries(_ artifacts: BootArtifacts?) -> [FATEntry] {
        guard let artifacts, !artifacts.espFiles.isEmpty else { return [.directory("EFI", [.directory("BOOT", [])])] }
        return FATEntry.tree(artifacts.espFiles.map { (path: $0.path, content: .bytes($0.bytes)) })
    }
}
