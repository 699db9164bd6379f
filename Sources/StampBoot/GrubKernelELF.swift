import StampBytes

/// The loadable bytes of GRUB's i386-pc `kernel.img`, an ELF32 executable linked at a fixed
/// address, laid out as `grub-mkimage` lays them out for a non-relocatable target.
///
/// ```
///  ELF32 header (52 B)            section header table (e_shoff, e_shnum × e_shentsize)
///  +-----------+---------+        +---------+---------+--------+-------+-------+-----+
///  | 7F 'ELF'  | e_shoff |  ...   | sh_type | sh_flags| sh_addr| sh_off| sh_sz | ... |
///  | class 1   | @0x20   |        | @0x04   | @0x08   | @0x0C  | @0x10 | @0x14 |     |
///  +-----------+---------+        +---------+---------+--------+-------+-------+-----+
///
///  image: for each SHT_PROGBITS + SHF_ALLOC section, text (SHF_EXECINSTR) first, then
///  data: its bytes at sh_addr - link address (0x9000); the image ends where the last of
///  them ends. The first text section must start at the link address. NOBITS (.bss) is
///  not stored; its size only bounds the loaded kernel (below 0x68000).
/// ```
struct GrubKernelELF {
    /// The image bytes, from the link address on.
    var image: [UInt8]
    /// Bytes of .bss after the image (for the size limit).
    var bssSize: UInt64

    /// The link address of i386-pc kernels (`GRUB_KERNEL_I386_PC_LINK_ADDR`).
    static let linkAddress: UInt32 = 0x9000
    /// The highest address the kernel and its .bss may reach (`grub-mkimage`'s check).
    static let kernelLimit: UInt64 = 0x68000

    private struct Section {
        var type: UInt32, flags: UInt32, address: UInt32, offset: UInt32, size: UInt32, alignment: UInt32
    }

    static let progbits: UInt32 = 1, nobits: UInt32 = 8
    static let allocate: UInt32 = 0x2, execute: UInt32 = 0x4

    /// Parses `bytes` (the file at `path`, for messages).
    init(_ bytes: [UInt8], path: String) throws(BootError) {
        func bad(_ reason: String) -> BootError { .invalidGrubFile(path: path, reason: reason) }
        let sections: [Section]
        do {
            sections =
                try bytes.withUnsafeBytes { (raw) throws(FieldError) -> [Section]? in
                    let r = FieldReader(raw)
                    guard try r.bytes(at: 0, count: 4) == [0x7F, 0x45, 0x4C, 0x46], try r.u8(at: 4) == 1, try r.u8(at: 5) == 1,
                        try r.u8(at: 6) == 1
                    else { return nil }
                    let shoff = Int(try r.le32(at: 0x20))
                    let entsize = Int(try r.le16(at: 0x2E))
                    let count = Int(try r.le16(at: 0x30))
                    guard entsize >= 40, count <= 4096 else { return nil }
                    var out: [Section] = []
                    for i in 0..<count {
                        let at = shoff + i * entsize
                        out.append(
                            Section(
                                type: try r.le32(at: at + 4), flags: try r.le32(at: at + 8), address: try r.le32(at: at + 12),
                                offset: try r.le32(at: at + 16), size: try r.le32(at: at + 20), alignment: try r.le32(at: at + 32)
                            ))
                    }
                    return out
                } ?? { throw bad("not a 32-bit little-endian ELF file") }()
        } catch let error as BootError {
            throw error
        } catch {
            throw bad("truncated ELF headers (\(error))")
        }
        let kept = { (s: Section, text: Bool) -> Bool in
            s.type == Self.progbits
                && s.flags & (Self.allocate | Self.execute) == (text ? Self.allocate | Self.execute : Self.allocate)
        }
        var end: UInt64 = 0
        var placed: [(Section, Int)] = []
        for text in [true, false] {
            for s in sections where kept(s, text) {
                guard s.address >= Self.linkAddress else {
                    throw bad("section at 0x\(String(s.address, radix: 16)) lies below the link address 0x9000")
                }
                if text && placed.isEmpty && s.address != Self.linkAddress {
                    throw bad("text starts at 0x\(String(s.address, radix: 16)), not at the link address 0x9000")
                }
                let at = UInt64(s.address - Self.linkAddress)
                guard UInt64(s.offset) + UInt64(s.size) <= UInt64(bytes.count) else {
                    throw bad("section data at offset \(s.offset) (\(s.size) bytes) lies past the end of the file")
                }
                end = at + UInt64(s.size)
                guard end <= Self.kernelLimit else { throw bad("kernel image reaches 0x\(String(end, radix: 16)), past 0x68000") }
                placed.append((s, Int(at)))
            }
        }
        guard !placed.isEmpty else { throw bad("no loadable sections") }
        var image = [UInt8](repeating: 0, count: Int(end))
        for (s, at) in placed where at + Int(s.size) <= image.count {
            image.replaceSubrange(at..<(at + Int(s.size)), with: bytes[Int(s.offset)..<(Int(s.offset) + Int(s.size))])
        }
        var bss: UInt64 = 0
        for s in sections where s.type == Self.nobits && s.flags & Self.allocate != 0 {
            bss = max(bss, UInt64(s.address) + UInt64(s.size) - UInt64(Self.linkAddress))
        }
        self.image = image
        self.bssSize = bss > end ? bss - end : 0
        guard UInt64(Self.linkAddress) + end + bssSize <= Self.kernelLimit else {
            throw bad("kernel image and .bss reach past 0x68000")
        }
    }
}
