import StampBoot

/// The GRUB files the boot loader step reads from an untrusted tree, through the public API
/// that reads them (issue 18: the tree's GRUB is data, so every file of it is parser input):
///
/// - as `kernel.img` (when the input starts with the ELF magic) or as `moddep.lst` (else)
///   of a platform directory whose other files are tiny stand-ins, through
///   ``GrubCoreImage``: module resolution, the ELF section walk, LZMA, the size fields;
/// - as a GRUB EFI image, through ``GrubEFIImage/embeddedPrefix(_:)`` (PE sections, the
///   module area's objects);
/// - as `/etc/os-release` and `/etc/default/grub`, through ``GrubConfig``.
public func fuzzGrubFiles(_ data: UnsafeRawBufferPointer) {
    let bytes = Array(data)
    let isELF = bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46])
    let standIn: [String: [UInt8]] = [
        "moddep.lst": Array("normal: boot\nboot:\n".utf8),
        "normal.mod": [1, 2, 3], "boot.mod": [4, 5, 6, 7, 8],
        "lzma_decompress.img": [UInt8](repeating: 0x90, count: 64),
        "diskboot.img": [UInt8](repeating: 0, count: 512),
    ]
    let read = { (name: String) throws(BootError) -> [UInt8]? in
        if name == "kernel.img" && isELF { return bytes }
        if name == "moddep.lst" && !isELF { return bytes }
        return standIn[name]
    }
    do {
        let core = try GrubCoreImage(
            read: read, directory: "/usr/lib/grub/i386-pc", modules: ["normal", "boot", "ext2"], config: "x\n")
        _ = core.bytes.count
    } catch {
        _ = "\(error)"
    }
    _ = GrubEFIImage.embeddedPrefix(bytes)
    let text = String(decoding: bytes, as: UTF8.self)
    let config = GrubConfig(bootNames: text.split(separator: "\n").map(String.init), osRelease: text, defaultGrub: [text])
    _ = config.render(root: RootFilesystem(uuid: "6a1c7e2b-0d3f-4e5a-9b8c-0000000000aa"), layout: .gpt, options: BootOptions())
}
