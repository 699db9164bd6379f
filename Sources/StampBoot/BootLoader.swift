import StampBytes
import StampIO
import StampTree

/// Makes a root tree bootable by GRUB, without a loop device, a mount of the image, a VM, or
/// any program of the tree: GRUB's files are read from the tree model as data, and what the
/// image needs added is added to the model (the source directory is never written).
///
/// ```
///  tree model ──► BootLoader.prepare ──► BootArtifacts ──► the disk assembler writes:
///   (kernel in /boot,   reads as data:        .bios     LBA 0      patchedMBR(sector0:…)
///    GRUB's platform     i386-pc: kernel.img,            core LBA   patchedCore(…)
///    files)              moddep.lst, *.mod,    .espFiles ESP        EFI/BOOT/BOOTX64.EFI,
///                        boot.img, diskboot,                         EFI/<distro>/…, grub.cfg stubs
///                        lzma_decompress.img
///                        x86_64-efi: the prebuilt (signed) GRUB EFI image
///                    adds to the model:
///                        /boot/grub/grub.cfg (GrubConfig), grubenv, <platform>/*.mod|*.lst,
///                        /etc/default/grub.d/90-stamp-bootloader.cfg, the fstab root line
/// ```
///
/// ```swift
/// let tree = try TreeScanner().scan("/srv/tree")          // read-only input
/// let root = RootFilesystem(uuid: "0f3e…", label: "cloudimg-rootfs", reference: .uuid)
/// let boot = try BootLoader.prepare(tree: tree, layout: .efi, root: root, time: epoch)
/// let (mbr, core, lba) = try boot.biosSectors(sector0: protectiveMBR,
///                                            placement: .biosBootPartition(startLBA: 2048, sectors: 2048))
/// ```
public enum BootLoader {
    /// Modules embedded in core.img (BIOS); their dependencies come from `moddep.lst`.
    static let biosModules = [
        "biosdisk", "part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "search_label",
        "normal", "configfile", "linux", "echo", "test", "serial", "terminal", "gzio", "boot",
    ]

    static let i386 = "/usr/lib/grub/i386-pc"
    static let x86_64 = "/usr/lib/grub/x86_64-efi"
    /// Debian's and Ubuntu's prebuilt unsigned EFI image (`grub-efi-amd64-bin`).
    static let monolithicEFI = "/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"
    /// The distribution's signed binaries (shim-signed, grub-efi-amd64-signed).
    static let signedShim = "/usr/lib/shim/shimx64.efi.signed"
    static let signedGrub = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
    static let signedMokManager = "/usr/lib/shim/mmx64.efi.signed"
    static let shimCSV = "/usr/lib/shim/BOOTX64.CSV"

    /// GRUB's and shim's UEFI files for `architecture`: for x86-64 the paths above; for arm64
    /// the same packages' arm64 builds (`grub-efi-arm64-bin`: `arm64-efi/monolithic/grubaa64.efi`;
    /// `shimaa64.efi.signed`, `grubaa64.efi.signed`, `mmaa64.efi.signed`, `BOOTAA64.CSV`).
    struct EFIFiles {
        let modules: String
        let monolithic: String
        let shim: String
        let grub: String
        let mokManager: String
        let csv: String
        let suffix: String
        let removable: String

        init(_ architecture: BootArchitecture) {
            let platform = architecture.efiPlatform
            let s = architecture.fileSuffix
            modules = "/usr/lib/grub/" + platform
            monolithic = "/usr/lib/grub/\(platform)/monolithic/grub\(s).efi"
            shim = "/usr/lib/shim/shim\(s).efi.signed"
            grub = "/usr/lib/grub/\(platform)-signed/grub\(s).efi.signed"
            mokManager = "/usr/lib/shim/mm\(s).efi.signed"
            csv = "/usr/lib/shim/BOOT\(architecture.efiSuffix).CSV"
            suffix = s
            removable = "EFI/BOOT/BOOT\(architecture.efiSuffix).EFI"
        }
    }
    /// The largest GRUB file read into memory (a module, an EFI image).
    public static let fileLimit = 64 << 20

    /// Whether the tree carries a kernel and GRUB's files for `layout` (and `options`'
    /// architecture).
    public static func canBoot(_ tree: RootTree, layout: BootLayout, options: BootOptions = BootOptions()) -> Bool {
        problems(tree, layout: layout, options: options).isEmpty
    }

    /// Whether `layout` gets BIOS boot code: on x86-64 only (an arm64 machine has no BIOS).
    static func bootsBIOS(_ layout: BootLayout, _ options: BootOptions) -> Bool {
        layout.bootsBIOS && options.architecture == .x86_64
    }

    /// What the tree lacks for `layout`, one line each (with the package to install).
    static func problems(_ tree: RootTree, layout: BootLayout, options: BootOptions) -> [String] {
        var problems: [String] = []
        func isFile(_ path: String) -> Bool { tree.lookup(path).map { tree.entries[$0].kind == .regular } ?? false }
        if bootsBIOS(layout, options) {
            for name in ["boot.img", "diskboot.img", "lzma_decompress.img", "kernel.img", "moddep.lst"]
            where !isFile(i386 + "/" + name) {
                problems.append("missing \(i386)/\(name) (install grub-pc-bin)")
            }
        }
        if options.architecture == .arm64 && !layout.bootsUEFI {
            problems.append("an arm64 disk boots from UEFI only: use the efi layout")
        }
        let efi = EFIFiles(options.architecture)
        if layout.bootsUEFI && !isFile(efi.monolithic) && !(options.preferSignedEFI && isFile(efi.shim) && isFile(efi.grub)) {
            problems.append("missing \(efi.monolithic) (install \(options.architecture.efiPackages))")
        }
        if kernelNames(tree).isEmpty { problems.append("no kernel in /boot (install a linux-image package)") }
        return problems
    }

    static func kernelNames(_ tree: RootTree) -> [String] {
        guard let boot = tree.lookup("/boot"), tree.entries[boot].kind == .directory else { return [] }
        return tree.entries[boot].children.map { String(decoding: tree.entries[Int($0)].name, as: UTF8.self) }
            .filter {
                ($0.hasPrefix("vmlinuz-") || $0.hasPrefix("vmlinux-"))
                    && tree.lookup("/boot/" + $0).map { tree.entries[$0].kind == .regular } == true
            }
    }

    /// The regular files ``prepare(tree:layout:root:options:time:)`` may read, as entry
    /// indices: GRUB's platform directories (whose modules it also copies under /boot/grub),
    /// the EFI binaries, os-release, /etc/default/grub(.d) and /etc/fstab. A model whose
    /// data stays in compressed layers reads these once, in layer order, before the step
    /// reads them in its own order (``RootTree/loadMembers(of:fileLimit:totalLimit:)``).
    public static func filesRead(_ tree: RootTree) -> [Int] {
        var found: [Int] = []
        func add(_ path: String) {
            if let index = tree.lookup(path), tree.entries[index].kind == .regular { found.append(index) }
        }
        let arm64 = EFIFiles(.arm64)
        for directory in [i386, x86_64, arm64.modules, "/etc/default/grub.d"] {
            guard let index = tree.lookup(directory), tree.entries[index].kind == .directory else { continue }
            for child in tree.entries[index].children {
                add(directory + "/" + String(decoding: tree.entries[Int(child)].name, as: UTF8.self))
            }
        }
        for path in [
            monolithicEFI, signedShim, signedGrub, signedMokManager, shimCSV, arm64.monolithic, arm64.shim, arm64.grub,
            arm64.mokManager, arm64.csv, "/etc/os-release", "/usr/lib/os-release",
            "/etc/default/grub", "/etc/fstab",
        ] {
            add(path)
        }
        return found
    }

    /// Reads GRUB's files from `tree`, builds the boot code and ESP files, and adds grub.cfg,
    /// grubenv, GRUB's modules, stamp's `/etc/default/grub.d` snippet and the fstab root line
    /// to the model.
    ///
    /// - Parameters:
    ///   - tree: the scanned tree; only its model changes.
    ///   - layout: `.mbr`, `.gpt` (BIOS) or `.efi` (UEFI + BIOS).
    ///   - root: the root filesystem as it will be written.
    ///   - options: DIB's bootloader settings (``BootOptions/fromEnvironment(_:)``).
    ///   - time: the modification time of what is added (SOURCE_DATE_EPOCH when set).
    /// - Throws: ``BootError/treeNotReady(tree:problems:)`` listing everything missing, or
    ///   ``BootError/invalidGrubFile(path:reason:)`` for a GRUB file stamp cannot use.
    public static func prepare(
        tree: RootTree, layout: BootLayout, root: RootFilesystem, options: BootOptions = BootOptions(), time: Timestamp
    ) throws(BootError) -> BootArtifacts {
        var problems = problems(tree, layout: layout, options: options)
        if Identifier(root.uuid) == nil { problems.append("root uuid \(root.uuid) is not a uuid") }
        if root.reference == .label && (root.label ?? "").isEmpty { problems.append("root by label needs a label") }
        guard problems.isEmpty else { throw .treeNotReady(tree: tree.sourcePath, problems: problems) }

        func read(_ path: String) throws(BootError) -> [UInt8]? {
            guard let index = tree.lookup(path), tree.entries[index].kind == .regular else { return nil }
            do {
                guard let bytes = try tree.readData(of: index, limit: fileLimit) else {
                    throw BootError.invalidGrubFile(path: path, reason: "larger than \(fileLimit >> 20) MiB")
                }
                return bytes
            } catch let error as BootError {
                throw error
            } catch {
                throw .invalidGrubFile(path: path, reason: "\(error)")
            }
        }
        func need(_ path: String) throws(BootError) -> [UInt8] {
            guard let bytes = try read(path) else { throw .missingGrubFile(path: path) }
            return bytes
        }
        var log: [String] = []
        let early = GrubTexts.earlyConfig(root: root, options: options)

        var bios: BIOSBootCode?
        if bootsBIOS(layout, options) {
            let core = try GrubCoreImage(
                read: { (name: String) throws(BootError) -> [UInt8]? in try read(i386 + "/" + name) }, directory: i386,
                modules: biosModules + options.extraModules, config: early)
            bios = try BIOSBootCode(bootImage: try need(i386 + "/boot.img"), coreImage: core.bytes, source: i386)
            log.append("core.img: \(core.bytes.count) bytes, \(core.modules.count) modules from \(i386)")
            try copyModules(tree, from: i386, to: "/boot/grub/i386-pc", time: time)
        }

        var esp: [ESPFile] = []
        var signed = false
        if layout.bootsUEFI {
            let stub = Array(GrubTexts.espStubConfig(root: root).utf8)
            let efi = EFIFiles(options.architecture)
            let x = efi.suffix
            if options.preferSignedEFI, let shim = try read(efi.shim), let grub = try read(efi.grub) {
                signed = true
                let directory = "EFI/" + distributionDirectory(of: grub, options: options)
                esp += [
                    ESPFile(path: efi.removable, bytes: shim), ESPFile(path: "EFI/BOOT/grub\(x).efi", bytes: grub),
                    ESPFile(path: "EFI/BOOT/grub.cfg", bytes: stub), ESPFile(path: directory + "/shim\(x).efi", bytes: shim),
                    ESPFile(path: directory + "/grub\(x).efi", bytes: grub), ESPFile(path: directory + "/grub.cfg", bytes: stub),
                ]
                if let mm = try read(efi.mokManager) {
                    esp += [ESPFile(path: "EFI/BOOT/mm\(x).efi", bytes: mm), ESPFile(path: directory + "/mm\(x).efi", bytes: mm)]
                }
                if let csv = try read(efi.csv) {
                    esp.append(ESPFile(path: directory + "/" + String(efi.csv.split(separator: "/").last ?? ""), bytes: csv))
                }
                log.append("ESP: signed shim and GRUB from the tree (\(directory))")
            } else {
                let grub = try need(efi.monolithic)
                let directory = "EFI/" + distributionDirectory(of: grub, options: options)
                esp += [
                    ESPFile(path: efi.removable, bytes: grub), ESPFile(path: "EFI/BOOT/grub.cfg", bytes: stub),
                    ESPFile(path: directory + "/grub\(x).efi", bytes: grub), ESPFile(path: directory + "/grub.cfg", bytes: stub),
                ]
                log.append("ESP: GRUB's prebuilt EFI image from \(efi.monolithic) (\(directory))")
            }
            if tree.lookup(efi.modules + "/moddep.lst") != nil {
                try copyModules(tree, from: efi.modules, to: "/boot/grub/" + options.architecture.efiPlatform, time: time)
            }
        }

        let config = try grubConfig(tree, read: read).render(root: root, layout: layout, options: options)
        do {
            try tree.setFile("/boot/grub/grub.cfg", content: .bytes(Array(config.utf8)), mode: 0o444, time: time)
            if tree.lookup("/boot/grub/grubenv") == nil {
                try tree.setFile("/boot/grub/grubenv", content: .bytes(GrubTexts.emptyEnvironmentBlock), time: time)
            }
            try tree.setFile(
                GrubTexts.defaultsSnippetPath,
                content: .bytes(Array(GrubTexts.defaultsSnippet(root: root, options: options).utf8)),
                time: time)
        } catch {
            throw .invalidGrubFile(path: tree.sourcePath, reason: "\(error)")
        }
        try addFstabRoot(tree, root: root, time: time)
        return BootArtifacts(
            layout: layout, root: root, bios: bios, espFiles: esp.sorted { $0.path < $1.path }, signedEFI: signed,
            grubConfig: config, earlyConfig: early, log: log.joined(separator: "\n"))
    }

    /// `EFI/<this>` holds the image and its grub.cfg: the directory of the image's embedded
    /// prefix (`/EFI/debian`), else `EFI_BOOT_DIR`'s (``BootOptions/efiDistributionDirectory``).
    static func distributionDirectory(of image: [UInt8], options: BootOptions) -> String {
        if let prefix = GrubEFIImage.embeddedPrefix(image) {
            let parts = prefix.split(separator: "/")
            if parts.count == 2, parts[0].uppercased() == "EFI", GrubModuleList.isPlainName(String(parts[1])) {
                return String(parts[1])
            }
        }
        return options.efiDistributionDirectory
    }

    /// Lists GRUB's `*.mod` and `*.lst` of `source` under `target` in the model, as
    /// `grub-install` copies them (each a copy of the tree's file, read when the image is written).
    static func copyModules(_ tree: RootTree, from source: String, to target: String, time: Timestamp) throws(BootError) {
        guard let directory = tree.lookup(source), tree.entries[directory].kind == .directory else { return }
        for child in tree.entries[directory].children {
            let name = String(decoding: tree.entries[Int(child)].name, as: UTF8.self)
            guard name.hasSuffix(".mod") || name.hasSuffix(".lst"), GrubModuleList.isPlainName(name),
                let file = tree.lookup(source + "/" + name), tree.entries[file].kind == .regular
            else { continue }
            let data = Int32(tree.entries[file].hardLinkOf ?? Int32(file))
            do {
                try tree.setFile(target + "/" + name, content: .entry(data), time: time)
            } catch {
                throw .invalidGrubFile(path: target + "/" + name, reason: "\(error)")
            }
        }
    }

    static func grubConfig(_ tree: RootTree, read: (String) throws(BootError) -> [UInt8]?) throws(BootError) -> GrubConfig {
        let boot =
            tree.lookup("/boot").map {
                tree.entries[$0].children.map { String(decoding: tree.entries[Int($0)].name, as: UTF8.self) }
            } ?? []
        var release = try read("/etc/os-release")
        if release == nil { release = try read("/usr/lib/os-release") }
        let osRelease = release.map { String(decoding: $0, as: UTF8.self) }
        var defaults: [String] = []
        if let text = try read("/etc/default/grub") { defaults.append(String(decoding: text, as: UTF8.self)) }
        if let d = tree.lookup("/etc/default/grub.d"), tree.entries[d].kind == .directory {
            for child in tree.entries[d].children {
                let name = String(decoding: tree.entries[Int(child)].name, as: UTF8.self)
                guard name.hasSuffix(".cfg"), "/etc/default/grub.d/" + name != GrubTexts.defaultsSnippetPath,
                    let text = try read("/etc/default/grub.d/" + name)
                else { continue }
                defaults.append(String(decoding: text, as: UTF8.self))
            }
        }
        let bootFiles = boot.filter { name in tree.lookup("/boot/" + name).map { tree.entries[$0].kind == .regular } ?? false }
        return GrubConfig(bootNames: bootFiles, osRelease: osRelease, defaultGrub: defaults)
    }

    /// Adds `root`'s line to the model's `/etc/fstab` when no line mounts `/` (systemd remounts
    /// the root read-write from it); an existing root line is replaced when it names another
    /// filesystem than the one being written.
    static func addFstabRoot(_ tree: RootTree, root: RootFilesystem, time: Timestamp) throws(BootError) {
        var lines: [String] = []
        if let index = tree.lookup("/etc/fstab"), tree.entries[index].kind == .regular {
            do {
                guard let bytes = try tree.readData(of: index, limit: 1 << 20) else {
                    throw BootError.invalidGrubFile(path: "/etc/fstab", reason: "larger than 1 MiB")
                }
                lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(
                    String.init)
                if lines.last == "" { lines.removeLast() }
            } catch let error as BootError {
                throw error
            } catch {
                throw .invalidGrubFile(path: "/etc/fstab", reason: "\(error)")
            }
        }
        let rootLine = lines.firstIndex { l in
            let fields = l.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count >= 2 && !fields[0].hasPrefix("#") && fields[1] == "/"
        }
        if let rootLine {
            let spec = lines[rootLine].split(whereSeparator: { $0 == " " || $0 == "\t" })[0]
            // A line for this filesystem, or a device name GRUB-independent (/dev/…): kept.
            if spec == Substring(root.deviceSpec) || !(spec.hasPrefix("UUID=") || spec.hasPrefix("LABEL=")) { return }
            if spec.hasPrefix("LABEL="), root.label.map({ "LABEL=" + $0 }) == String(spec) { return }
            lines[rootLine] = root.fstabLine
        } else {
            lines.append(root.fstabLine)
        }
        do {
            try tree.setFile("/etc/fstab", content: .bytes(Array((lines.joined(separator: "\n") + "\n").utf8)), time: time)
        } catch {
            throw .invalidGrubFile(path: "/etc/fstab", reason: "\(error)")
        }
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
