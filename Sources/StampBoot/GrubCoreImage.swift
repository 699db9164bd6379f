import StampBytes
import StampCompression

/// GRUB's i386-pc `core.img`, made the way `grub-mkimage -O i386-pc` makes it, from the
/// tree's own GRUB files read as data: nothing from the tree runs.
///
/// ```
///  core.img
///  +----------------+--------------------------+-------------------------------------------+
///  | diskboot.img   | lzma_decompress.img      | raw LZMA1 (lc 3, lp 0, pb 2, 64 KiB dict) of: |
///  | 512 B          | +0x08 compressed size    |  kernel.img's loadable sections (at 0x9000) |
///  | blocklist len  | +0x0C uncompressed size  |  module info  "gmim" | offset 12 | size     |
///  | @0x1FC = number| (LE u32 each; +0x10/0x14 |  module       type 0 | size | ELF .mod, 4-aligned … |
///  | of sectors     |  Reed-Solomon, left 0)   |  config       type 2 | size | early.cfg NUL, 4-aligned |
///  | after it       |                          |  prefix       type 3 | size | "/boot/grub" NUL, 4-aligned |
///  +----------------+--------------------------+-------------------------------------------+
/// ```
///
/// Field offsets are GRUB's `include/grub/offsets.h` (`GRUB_DECOMPRESSOR_I386_PC_*`) and
/// `include/grub/kernel.h` (`struct grub_module_info32`, `struct grub_module_header`,
/// `OBJ_TYPE_*`); the module order is `util/resolve.c`'s (``GrubModuleList``). The LZMA
/// bytes differ from `grub-mkimage`'s (another encoder), the decompressed payload does not:
/// `GrubCoreImageTests` compares it with the host's `grub-mkimage` byte for byte.
public struct GrubCoreImage: Sendable {
    /// The whole core.img.
    public var bytes: [UInt8]
    /// The payload before compression (kernel, module info, modules, config, prefix).
    public var payload: [UInt8]
    /// The modules embedded, in order.
    public var modules: [String]

    /// `GRUB_DECOMPRESSOR_I386_PC_COMPRESSED_SIZE` / `_UNCOMPRESSED_SIZE`.
    static let compressedSizeField = 0x08, uncompressedSizeField = 0x0C
    /// `GRUB_DECOMPRESSOR_I386_PC_MAX_DECOMPRESSOR_SIZE` (0x9000 - 0x8200).
    static let maximumDecompressorSize = 0x9000 - 0x8200
    /// The blocklist's sector count in diskboot.img: the last 12-byte entry's `len`.
    static let blocklistLengthField = 0x200 - 12 + 8
    /// "gmim", `GRUB_MODULE_MAGIC`.
    static let moduleMagic: UInt32 = 0x676d_696d
    static let objectELF: UInt32 = 0, objectConfig: UInt32 = 2, objectPrefix: UInt32 = 3
    /// core.img is loaded at 0x8000 and must end below 0x78000 (`grub-mkimage`'s limit).
    static let maximumCoreSize = 0x78000 - 0x9000

    /// Builds core.img.
    /// - Parameters:
    ///   - read: the bytes of a file of the platform directory (`kernel.img`, `NAME.mod`, …),
    ///     nil when the tree has no such file.
    ///   - directory: the platform directory's path in the tree, for messages.
    ///   - modules: the modules asked for; their dependencies are added from `moddep.lst`.
    ///   - config: the embedded early config (`grub-mkimage -c`).
    ///   - prefix: `grub-mkimage -p`.
    public init(
        read: (String) throws(BootError) -> [UInt8]?, directory: String, modules: [String], config: String,
        prefix: String = "/boot/grub"
    ) throws(BootError) {
        func need(_ name: String) throws(BootError) -> [UInt8] {
            guard let bytes = try read(name) else { throw .missingGrubFile(path: directory + "/" + name) }
            return bytes
        }
        let moddep = try need("moddep.lst")
        let list = try GrubModuleList(text: String(decoding: moddep, as: UTF8.self), path: directory + "/moddep.lst")
        let order = try list.resolve(modules, path: directory + "/moddep.lst")
        let kernel = try GrubKernelELF(try need("kernel.img"), path: directory + "/kernel.img")

        func align4(_ n: Int) -> Int { (n + 3) & ~3 }
        var objects: [(type: UInt32, data: [UInt8], padded: Int)] = []
        for name in order {
            let data = try need(name + ".mod")
            objects.append((Self.objectELF, data, align4(data.count)))
        }
        let configBytes = Array(config.utf8)
        objects.append((Self.objectConfig, configBytes, align4(configBytes.count + 1)))
        let prefixBytes = Array(prefix.utf8)
        objects.append((Self.objectPrefix, prefixBytes, align4(prefixBytes.count + 1)))

        let totalModuleSize = 12 + objects.reduce(0) { $0 + 8 + $1.padded }
        var payload = kernel.image
        payload.reserveCapacity(payload.count + totalModuleSize)
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { payload += $0 } }
        le32(Self.moduleMagic)
        le32(12)
        le32(UInt32(totalModuleSize))
        for object in objects {
            le32(object.type)
            le32(UInt32(8 + object.padded))
            payload += object.data
            payload += [UInt8](repeating: 0, count: object.padded - object.data.count)
        }

        let compressed: [UInt8]
        do {
            compressed = try RawLZMA.encode(payload, parameters: .grub)
        } catch {
            throw .invalidGrubFile(path: directory + "/kernel.img", reason: "\(error)")
        }
        var decompressor = try need("lzma_decompress.img")
        guard decompressor.count >= 0x20, decompressor.count <= Self.maximumDecompressorSize else {
            throw .invalidGrubFile(
                path: directory + "/lzma_decompress.img",
                reason: "\(decompressor.count) bytes, expected 32 to \(Self.maximumDecompressorSize)")
        }
        Self.put(UInt32(compressed.count), into: &decompressor, at: Self.compressedSizeField)
        Self.put(UInt32(payload.count), into: &decompressor, at: Self.uncompressedSizeField)

        var diskboot = try need("diskboot.img")
        guard diskboot.count == 512 else {
            throw .invalidGrubFile(path: directory + "/diskboot.img", reason: "\(diskboot.count) bytes, expected 512")
        }
        let rest = decompressor.count + compressed.count
        guard rest <= Self.maximumCoreSize else {
            throw .invalidGrubFile(
                path: directory, reason: "core image of \(rest) bytes is larger than GRUB can load (\(Self.maximumCoreSize))")
        }
        let sectors = (rest + 511) / 512
        diskboot[Self.blocklistLengthField] = UInt8(sectors & 0xFF)
        diskboot[Self.blocklistLengthField + 1] = UInt8(sectors >> 8)

        self.bytes = diskboot + decompressor + compressed
        self.payload = payload
        self.modules = order
    }

    private static func put(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8((value >> (8 * UInt32(i))) & 0xFF) }
    }

    /// The payload of a core.img (ours or `grub-mkimage`'s), decompressed: for tests and
    /// `stamp inspect`. `decompressorSize` is the size of `lzma_decompress.img`.
    public static func payload(of core: [UInt8], decompressorSize: Int) throws -> [UInt8] {
        let base = 512
        guard core.count > base + decompressorSize else { throw BootError.coreImageTooSmall(path: "core.img", size: core.count) }
        func field(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(core[base + at + $1]) << (8 * $1) } }
        let compressedSize = field(compressedSizeField)
        let size = field(uncompressedSizeField)
        let start = base + decompressorSize
        guard compressedSize <= core.count - start, size <= 16 << 20 else {
            throw BootError.coreImageTooSmall(path: "core.img", size: core.count)
        }
        return try RawLZMA.decode(Array(core[start..<(start + compressedSize)]), size: size, parameters: .grub)
    }
}
