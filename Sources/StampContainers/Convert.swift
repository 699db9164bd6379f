import StampIO

/// Format detection and `stamp convert`.
///
/// Detection looks only at magic numbers: `KDMV` at 0 is a sparse VMDK, `QFI\xfb` at 0 is
/// qcow2, `conectix` at 0 is a dynamic VHD (its footer copy) and `conectix` in the last
/// sector is a fixed VHD; anything else is raw. (A raw disk that happens to end with a VHD
/// footer is indistinguishable from a fixed VHD; pass the format explicitly then.)
public enum ImageDetector {
    /// The format of the image at `path`.
    public static func detect(path: String) throws -> ImageFormat {
        try detect(InputFile(path: path))
    }

    static func detect(_ file: InputFile) throws -> ImageFormat {
        guard file.size >= 8 else { return .raw }
        let head = try file.read(at: 0, count: 8)
        if head[0..<4] == [0x4B, 0x44, 0x4D, 0x56] { return .vmdk }
        if head[0..<4] == [0x51, 0x46, 0x49, 0xFB] { return .qcow2 }
        if head == VHD.footerCookie { return .vhd }
        if file.size >= 512, try file.read(at: file.size - 512, count: 8) == VHD.footerCookie { return .vhd }
        if let other = try otherContainer(file) {
            throw ContainerError.unsupported(
                path: file.path,
                feature:
                    "\(other) (stamp reads raw, qcow2, vmdk and vhd: convert it to one of them first, e.g. qemu-img convert -O qcow2)"
            )
        }
        return .raw
    }

    /// Containers stamp does not read, recognised so that they are refused rather than
    /// converted as raw bytes (a header inside a tiny disk).
    static func otherContainer(_ file: InputFile) throws -> String? {
        let head = try file.read(at: 0, count: Int(min(file.size, 0x44)))
        if head.starts(with: Array("vhdxfile".utf8)) { return "a VHDX image" }
        if head.starts(with: Array("COWD".utf8)) { return "a VMware COWD (ESX sparse) image" }
        if head.starts(with: Array("# Disk DescriptorFile".utf8)) {
            return "a VMDK descriptor file (its extents are other files; convert a monolithicSparse or streamOptimized VMDK)"
        }
        if head.count >= 0x44, Array(head[0x40..<0x44]) == [0x7F, 0x10, 0xDA, 0xBE] { return "a VirtualBox VDI image" }
        return nil
    }

    /// Opens `path` as `format` (detected when nil).
    public static func open(path: String, format: ImageFormat? = nil) throws -> any DiskImageReader {
        try open(path: path, format: format, window: nil)
    }

    /// Opens the image held in bytes `window.offset ..< window.offset + window.size` of the
    /// file at `path` (a disk inside an OVA).
    public static func open(path: String, format: ImageFormat? = nil, window: (offset: UInt64, size: UInt64)?) throws
        -> any DiskImageReader
    {
        let file = try InputFile(path: path, window: window)
        switch try format ?? detect(file) {
        case .raw: return try RawReader(file: file)
        case .qcow2: return try Qcow2Reader(file: file)
        case .vmdk: return try VMDKReader(file: file)
        case .vhd: return try VHDReader(file: file)
        }
    }
}

/// Converts the image at `input` (format detected when nil) into `sink`, then finishes
/// the sink at the input's virtual size.
public func convert(input: String, format: ImageFormat? = nil, to sink: any ImageSink) throws {
    try ImageDetector.open(path: input, format: format).replay(into: sink)
}

/// Converts `input` into a new file `output` of `outputFormat`; nothing appears under
/// `output` unless the conversion completes.
public func convert(
    input: String, format: ImageFormat? = nil, output: String, outputFormat: OutputFormat,
    options: ContainerOptions = .init()
) throws {
    let reader = try ImageDetector.open(path: input, format: format)
    let sink = try makeImageSink(format: outputFormat, path: output, virtualSize: reader.virtualSize, options: options)
    try reader.replay(into: sink)
}
