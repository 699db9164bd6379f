import StampBoot
import StampBytes
import StampDisk
import StampFAT
import StampTree

#if canImport(Glibc)
    import Glibc
#endif

/// The boot loader step of a pack: StampBoot makes core.img, the ESP and grub.cfg from the
/// tree's GRUB files read as data; stamp places them natively (no grub-install, no chroot,
/// no loop device).
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

    /// Makes the tree model bootable for `layout` (grub.cfg, GRUB's modules and the fstab root
    /// line added to the model, boot code and ESP files made from the tree's GRUB files read
    /// as data), or returns nil when the layout has nothing to boot from or the tree has no
    /// kernel and GRUB. Nothing of the tree runs and the source directory is not written.
    func prepareBoot(tree: RootTree, uuid: Identifier, layout: BootLayout?, label: String) throws -> BootArtifacts? {
        guard request.bootloader, let layout else { return nil }
        guard BootLoader.canBoot(tree, layout: layout, options: request.bootOptions) else {
            if request.requireBootloader {
                throw PackProblems(problems: [
                    "\(tree.sourcePath): no kernel and GRUB files for a \(layout.rawValue) boot (install grub-pc-bin\(layout == .efi ? ", grub-efi-amd64-bin" : "") and a kernel)"
                ])
            }
            if request.bootOptions.architecture == .arm64 && !layout.bootsUEFI {
                log("an arm64 disk boots from UEFI only (--layout efi): writing a disk without boot code")
            } else {
                log("no kernel or GRUB in the tree: writing a disk without boot code")
            }
            return nil
        }
        let root = RootFilesystem(uuid: uuid.description, label: label, reference: request.rootByLabel ? .label : .uuid)
        log("boot loader: GRUB's files from the tree, read as data (\(layout), root \(root.deviceSpec))")
        // What is added to the model gets SOURCE_DATE_EPOCH, else the tree root's time: the
        // same tree and options give the same image.
        let time = request.sourceDateEpoch.map { Timestamp(seconds: $0) } ?? tree.entries[0].modificationTime
        if tree.memberData != nil {
            // A model of image layers: what the step reads at random is read in one pass first.
            try tree.loadMembers(of: BootLoader.filesRead(tree), fileLimit: BootLoader.fileLimit, totalLimit: 256 << 20)
        }
        let artifacts = try BootLoader.prepare(tree: tree, layout: layout, root: root, options: request.bootOptions, time: time)
        for line in artifacts.log.split(separator: "\n") { log("boot loader: \(line)") }
        return artifacts
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
