import Foundation
import StampTestSupport
import Testing

@testable import StampBoot
import StampCompression

/// The GRUB pieces stamp writes itself, checked against GRUB's own tool and files on this
/// host (grub-pc-bin, grub-efi-amd64-bin, which scripts/install-deps installs): the tree's
/// programs never run, so the bytes must be what `grub-mkimage` would have made.
struct GrubNativeTests {
    static let i386 = "/usr/lib/grub/i386-pc"
    static let monolithic = "/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"

    static func hostFile(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: i386 + "/" + name).map { Array($0) }
    }

    /// The decompressed payload of our core.img equals that of `grub-mkimage -O i386-pc`
    /// with the same modules, config and prefix (module order, headers, padding, kernel
    /// sections), and the decompressor and diskboot sectors differ only in their size fields.
    @Test(.enabled(if: toolAvailable("grub-mkimage") && FileManager.default.fileExists(atPath: i386 + "/kernel.img")))
    func coreImageMatchesGrubMkimage() throws {
        let dir = try TemporaryDirectory("stamp-grub-core")
        let config =
            "search --no-floppy --fs-uuid --set=root 6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa\nset prefix=($root)/boot/grub\n"
        try config.write(toFile: dir.file("early.cfg"), atomically: true, encoding: .utf8)
        let modules = BootLoader.biosModules
        let r = try run(
            [
                "grub-mkimage", "-O", "i386-pc", "-d", Self.i386, "-c", dir.file("early.cfg"), "-p", "/boot/grub",
                "-o", dir.file("core.img"),
            ] + modules)
        try #require(r.status == 0, "\(r.output)")
        let theirs = try #require(FileManager.default.contents(atPath: dir.file("core.img"))).map { $0 }
        let ours = try GrubCoreImage(
            read: { (name: String) throws(BootError) -> [UInt8]? in Self.hostFile(name) }, directory: Self.i386,
            modules: modules, config: config)
        let decompressor = try #require(Self.hostFile("lzma_decompress.img")).count
        let theirPayload = try GrubCoreImage.payload(of: theirs, decompressorSize: decompressor)
        #expect(ours.payload.count == theirPayload.count)
        #expect(
            ours.payload == theirPayload,
            "first difference at \(zip(ours.payload, theirPayload).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)"
        )
        #expect(try GrubCoreImage.payload(of: ours.bytes, decompressorSize: decompressor) == ours.payload)
        // diskboot.img: the same but for the blocklist's sector count
        var a = Array(ours.bytes.prefix(512))
        var b = Array(theirs.prefix(512))
        #expect(Int(a[0x1FC]) | Int(a[0x1FD]) << 8 == (ours.bytes.count - 512 + 511) / 512)
        a[0x1FC...0x1FD] = [0, 0]
        b[0x1FC...0x1FD] = [0, 0]
        #expect(a == b)
        // the decompressor: the same but for its two size fields
        var c = Array(ours.bytes[512..<(512 + decompressor)])
        var d = Array(theirs[512..<(512 + decompressor)])
        for i in 0x08..<0x10 {
            c[i] = 0
            d[i] = 0
        }
        #expect(c == d)
        #expect(ours.modules.first == "biosdisk" || ours.modules.contains("biosdisk"))
    }

    /// `util/resolve.c`'s order: dependencies first, each line's list walked from its end.
    @Test func moduleOrderIsGrubsAndHostileListsEndInOneLine() throws {
        let list = try GrubModuleList(text: "a: b c\nb: c\nc:\nd: a\n", path: "moddep.lst")
        #expect(try list.resolve(["d"], path: "m") == ["c", "b", "a", "d"])
        #expect(try list.resolve(["c", "a"], path: "m") == ["c", "b", "a"])
        // a cycle is cut instead of recursing forever
        let cycle = try GrubModuleList(text: "x: y\ny: x\n", path: "moddep.lst")
        #expect(try cycle.resolve(["x"], path: "m") == ["y", "x"])
        #expect(throws: BootError.self) { try GrubModuleList(text: "../../etc/passwd: a\n", path: "moddep.lst") }
        #expect(throws: BootError.self) { try GrubModuleList(text: "no colon here\n", path: "moddep.lst") }
        let deep = (0..<100).map { "m\($0): m\($0 + 1)" }.joined(separator: "\n")
        #expect(throws: BootError.self) { try GrubModuleList(text: deep, path: "moddep.lst").resolve(["m0"], path: "m") }
    }

    /// A kernel.img that is not the ELF GRUB links: one line naming the file, no trap.
    @Test func hostileKernelImagesFailInOneLine() throws {
        var elf = [UInt8](repeating: 0, count: 64)
        elf[0...6] = [0x7F, 0x45, 0x4C, 0x46, 1, 1, 1]
        for (name, bytes) in [
            ("empty", [UInt8]()), ("text", Array("hello".utf8)), ("headers only", elf),
            ("shoff past end", elf + [0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            var b = bytes
            if name == "shoff past end" { b[0x20...0x23] = [0xF0, 0xFF, 0xFF, 0x7F] }
            #expect(throws: BootError.self, "\(name)") { try GrubKernelELF(b, path: "/usr/lib/grub/i386-pc/kernel.img") }
        }
        if let kernel = Self.hostFile("kernel.img") {
            let parsed = try GrubKernelELF(kernel, path: "kernel.img")
            #expect(parsed.image.count > 10_000 && parsed.image.count < 0x5F000)
            #expect(throws: BootError.self) { try GrubKernelELF(Array(kernel.prefix(kernel.count / 2)), path: "kernel.img") }
        }
    }

    /// Debian's prebuilt EFI image says where its grub.cfg lives: `/EFI/debian`.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: monolithic)))
    func efiImagePrefixIsRead() throws {
        let image = try #require(FileManager.default.contents(atPath: Self.monolithic)).map { $0 }
        #expect(GrubEFIImage.embeddedPrefix(image) == "/EFI/debian")
        #expect(BootLoader.distributionDirectory(of: image, options: BootOptions()) == "debian")
        #expect(GrubEFIImage.embeddedPrefix(Array(image.prefix(4096))) == nil)
        #expect(GrubEFIImage.embeddedPrefix([]) == nil)
    }

    /// The grub-files fuzz seeds (Fuzz/grub-seeds.py) are what they say they are.
    @Test func fuzzSeedsParseAsIntended() throws {
        let dir = repositoryRoot + "/Fuzz/corpus/grub-files/"
        func seed(_ name: String) throws -> [UInt8] { try #require(FileManager.default.contents(atPath: dir + name)).map { $0 } }
        #expect(GrubEFIImage.embeddedPrefix(try seed("efi-prefix.efi")) == "/EFI/debian")
        let kernel = try GrubKernelELF(try seed("kernel-ok.img"), path: "kernel.img")
        #expect(kernel.image.count == 0x400 + 64)
        #expect(throws: BootError.self) { try GrubKernelELF(try seed("kernel-below.img"), path: "kernel.img") }
        #expect(throws: BootError.self) { try GrubKernelELF(try seed("kernel-past-end.img"), path: "kernel.img") }
        #expect(throws: BootError.self) {
            try GrubModuleList(text: String(decoding: try seed("moddep-escape.lst"), as: UTF8.self), path: "m")
        }
        let cycle = try GrubModuleList(text: String(decoding: try seed("moddep-cycle.lst"), as: UTF8.self), path: "m")
        #expect(try cycle.resolve(["normal"], path: "m") == ["boot", "normal"])
    }

    @Test func rawLZMARoundTrips() throws {
        var bytes = [UInt8]()
        var rng = SplitMix(7)
        for i in 0..<200_000 { bytes.append(i % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(i & 0x3F)) }
        let packed = try RawLZMA.encode(bytes)
        #expect(packed.count < bytes.count)
        #expect(try RawLZMA.decode(packed, size: bytes.count) == bytes)
        #expect(throws: RawLZMA.Failure.self) {
            try RawLZMA.decode(Array(packed.prefix(100)) + [UInt8](repeating: 0xFF, count: 100), size: bytes.count)
        }
    }

    /// Kernels newest first (version order, not byte order), their initrds, the tree's
    /// GRUB_CMDLINE_LINUX read as data, stamp's defaults, root= our filesystem.
    @Test func grubConfigListsKernelsNewestFirst() throws {
        let config = GrubConfig(
            bootNames: [
                "config-6.1.0-9-amd64", "vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64", "initrd.img-6.1.0-10-amd64",
                "System.map-6.1.0-10-amd64", "vmlinuz-6.1.0-10-amd64.old",
            ],
            osRelease: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n",
            defaultGrub: ["GRUB_CMDLINE_LINUX=\"\"\n# comment\nGRUB_CMDLINE_LINUX=\"quiet $(touch /pwned)\"\n"])
        #expect(config.kernels.map(\.version) == ["6.1.0-10-amd64", "6.1.0-9-amd64"])
        #expect(config.kernels[0].initrd == "/boot/initrd.img-6.1.0-10-amd64")
        #expect(config.kernels[1].initrd == nil)
        let root = RootFilesystem(uuid: "6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa")
        let text = config.render(root: root, layout: .gpt, options: BootOptions())
        #expect(text.contains("menuentry 'Debian GNU/Linux' --class debian"))
        #expect(
            text.contains(
                "linux\t/boot/vmlinuz-6.1.0-10-amd64 root=UUID=6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa ro quiet $(touch /pwned) console=tty0 console=ttyS0,115200"
            ))
        #expect(text.contains("initrd\t/boot/initrd.img-6.1.0-10-amd64"))
        #expect(text.contains("insmod part_gpt"))
        #expect(text.contains("serial --unit=0 --speed=115200"))
        #expect(GrubConfig.versionPrecedes("5.10.0-9", "5.10.0-10"))
        #expect(!GrubConfig.versionPrecedes("6.1", "6.1"))
        #expect(GrubConfig.versionPrecedes("6.1~rc1", "6.1"))
    }
}
