import StampBytes
import SystemPackage
import Glibc

/// What `qemu-img info` reports about an image, read from its headers alone.
///
/// The fields carry the names and meanings of Debian's qemu-img 7.2 (`qemu-img info
/// --output=json`), so that a script written against qemu-img reads stamp's output
/// unchanged. Only headers are read, never the data tables, and nothing the header names
/// is opened: a qcow2 whose data partly lives in a backing file is described (its backing
/// file's name, as stored), where ``DiskImageReader``s refuse it.
///
/// Where qemu-img's answer depends on how it guesses the format, stamp says what `qemu-img
/// info -f FORMAT` says for the format stamp detects: a fixed VHD is `vpc` here, where
/// qemu-img's guess (it looks for the VHD cookie only at the start) calls it `raw`.
public struct ImageInfo: Sendable, Equatable {
    /// The path as given (qemu-img's `filename`).
    public var filename: String
    /// qemu-img's driver name: `raw`, `qcow2`, `vmdk` or `vpc` (VHD).
    public var format: String
    /// stamp's name for the container (``ImageFormat``).
    public var container: ImageFormat
    /// The size of the disk a guest sees, as qemu computes it (for VHD: see
    /// ``VHDGeometry/qemuSectors(footerSize:geometry:creator:)``).
    public var virtualSize: UInt64
    /// Bytes of storage the file occupies (`st_blocks` × 512), not its apparent size.
    public var actualSize: UInt64
    /// qcow2 cluster, VMDK grain, dynamic VHD block; nil for raw and fixed VHD.
    public var clusterSize: UInt64?
    /// qcow2 version 3's dirty bit (refcounts not written back); false elsewhere.
    public var dirty: Bool
    /// qcow2 version 3's corrupt bit (qemu found an inconsistency and stopped writing).
    public var corrupt = false
    /// The backing file's name as the header stores it, unresolved.
    public var backingFilename: String?
    /// The backing file's name resolved against the image's directory, as qemu-img does.
    public var fullBackingFilename: String?
    /// The format the header names for the backing file, if it names one.
    public var backingFormat: String?
    /// qemu-img's `format-specific` object (`{"type": …, "data": {…}}`), nil where qemu-img
    /// prints none (raw, VHD).
    public var formatSpecific: JSONValue?
    /// stamp's name for the variant ("compat 1.1", "streamOptimized", "dynamic", …).
    public var variant: String

    /// qemu-img's JSON keys, in the order qemu-img 7.2 prints them.
    public var qemuMembers: [(String, JSONValue)] {
        var m: [(String, JSONValue)] = []
        if let backingFormat { m.append(("backing-filename-format", .string(backingFormat))) }
        m.append(("virtual-size", .unsigned(virtualSize)))
        m.append(("filename", .string(filename)))
        if let clusterSize { m.append(("cluster-size", .unsigned(clusterSize))) }
        m.append(("format", .string(format)))
        m.append(("actual-size", .unsigned(actualSize)))
        if let formatSpecific { m.append(("format-specific", formatSpecific)) }
        if let fullBackingFilename { m.append(("full-backing-filename", .string(fullBackingFilename))) }
        if let backingFilename { m.append(("backing-filename", .string(backingFilename))) }
        m.append(("dirty-flag", .bool(dirty)))
        return m
    }

    /// Reads the headers of the image at `path` (format detected from its magic numbers
    /// when `format` is nil).
    /// - Throws: ``ContainerError`` for a header that is truncated, inconsistent or absurd.
    public static func read(path: String, format: ImageFormat? = nil) throws -> ImageInfo {
        let file = try InputFile(path: path)
        var st = stat()
        let allocated = fstat(file.descriptor.rawValue, &st) == 0 ? UInt64(max(st.st_blocks, 0)) * 512 : 0
        var info = ImageInfo(
            filename: path, format: "raw", container: .raw, virtualSize: file.size, actualSize: allocated, clusterSize: nil,
            dirty: false, formatSpecific: nil, variant: "raw")
        switch try format ?? ImageDetector.detect(file) {
        case .raw: break
        case .qcow2: try info.readQcow2(file)
        case .vmdk: try info.readVMDK(file)
        case .vhd: try info.readVHD(file)
        }
        return info
    }

    // MARK: qcow2

    private mutating func readQcow2(_ file: InputFile) throws {
        let path = file.path
        container = .qcow2
        format = "qcow2"
        let head = try file.read(at: 0, count: Int(min(file.size, 112)))
        guard head.count >= 72 else { throw ContainerError.truncated(path: path, offset: 0, needed: 72, fileSize: file.size) }
        guard head.be32(0) == Qcow2.magic else { throw ContainerError.badMagic(path: path, offset: 0, format: "qcow2") }
        let version = head.be32(4)
        guard version == 2 || version == 3 else {
            throw ContainerError.unsupported(path: path, feature: "qcow2 version \(version)")
        }
        let clusterBits = head.be32(20)
        guard clusterBits >= 9 && clusterBits <= 21 else {
            throw ContainerError.absurdSize(path: path, offset: 20, field: "cluster bits", value: UInt64(clusterBits))
        }
        let cluster = UInt64(1) << UInt64(clusterBits)
        clusterSize = cluster
        virtualSize = head.be64(24)
        var headerLength: UInt64 = 72
        var incompatible: UInt64 = 0
        var compatible: UInt64 = 0
        var refcountOrder: UInt32 = 4
        var compression = "zlib"
        if version == 3 {
            guard head.count >= 104 else {
                throw ContainerError.truncated(path: path, offset: 0, needed: 104, fileSize: file.size)
            }
            incompatible = head.be64(72)
            compatible = head.be64(80)
            refcountOrder = head.be32(96)
            headerLength = UInt64(head.be32(100))
            guard headerLength >= 104, headerLength <= cluster, refcountOrder <= 6 else {
                throw ContainerError.malformed(
                    path: path, offset: 96, reason: "qcow2 header length \(headerLength) or refcount order \(refcountOrder)")
            }
            if headerLength > 104, head.count > 104 {
                switch head[104] {
                case 0: compression = "zlib"
                case 1: compression = "zstd"
                default:
                    throw ContainerError.unsupported(path: path, feature: "qcow2 compression type \(head[104])")
                }
            }
            dirty = incompatible & 0x1 != 0
            corrupt = incompatible & 0x2 != 0
        }
        // The backing file's name: at most 1023 bytes (qemu's limit), inside the file.
        let backingOffset = head.be64(8)
        let backingLength = UInt64(head.be32(16))
        if backingOffset != 0 {
            guard backingLength <= 1023 else {
                throw ContainerError.absurdSize(path: path, offset: 16, field: "backing file name length", value: backingLength)
            }
            guard backingOffset <= file.size, backingLength <= file.size - backingOffset else {
                throw ContainerError.pointerPastEnd(path: path, offset: 8, target: backingOffset, fileSize: file.size)
            }
            let name = String(decoding: try file.read(at: backingOffset, count: Int(backingLength)), as: UTF8.self)
            backingFilename = name
            fullBackingFilename = Self.resolve(name, against: path)
        }
        // Header extensions, between the header and the end of the first cluster (or the
        // backing file name, whichever comes first): type, length, data padded to 8 bytes.
        var at = headerLength
        let end = min(cluster, file.size, backingOffset == 0 ? .max : backingOffset)
        while at + 8 <= end {
            let ext = try file.read(at: at, count: 8)
            let type = ext.be32(0)
            let length = UInt64(ext.be32(4))
            if type == 0 { break }
            guard length <= end - at - 8 else {
                throw ContainerError.malformed(path: path, offset: at + 4, reason: "qcow2 header extension runs past its cluster")
            }
            if type == 0xE279_2ACA, backingOffset != 0 {  // the backing file's format
                backingFormat = String(decoding: try file.read(at: at + 8, count: Int(length)), as: UTF8.self)
            }
            at += 8 + length.roundedUp(toMultipleOf: 8)
        }
        var data: [(String, JSONValue)] = [
            ("compat", .string(version == 2 ? "0.10" : "1.1")), ("compression-type", .string(compression)),
        ]
        if version == 3 { data.append(("lazy-refcounts", .bool(compatible & 0x1 != 0))) }
        data.append(("refcount-bits", .unsigned(1 << UInt64(refcountOrder))))
        if version == 3 {
            data.append(("corrupt", .bool(incompatible & 0x2 != 0)))
            data.append(("extended-l2", .bool(incompatible & 0x10 != 0)))
        }
        formatSpecific = .object([("type", .string("qcow2")), ("data", .object(data))])
        variant = version == 2 ? "compat 0.10" : "compat 1.1"
    }

    /// qemu's rule for a backing file's full name: as stored when absolute or a protocol
    /// (`nbd:…`, a `:` before any `/`), else beside the image (the image's directory, if
    /// its path has one, prefixed).
    static func resolve(_ name: String, against image: String) -> String {
        if name.hasPrefix("/") { return name }
        if let stop = name.firstIndex(where: { $0 == ":" || $0 == "/" || $0 == "\\" }), name[stop] == ":" { return name }
        guard let slash = image.lastIndex(of: "/") else { return name }
        return String(image[...slash]) + name
    }

    // MARK: VMDK

    private mutating func readVMDK(_ file: InputFile) throws {
        let path = file.path
        container = .vmdk
        format = "vmdk"
        let first = try file.read(at: 0, count: min(VMDK.Header.size, Int(min(file.size, UInt64(Int.max)))))
        guard first.count == VMDK.Header.size else {
            throw ContainerError.truncated(path: path, offset: 0, needed: UInt64(VMDK.Header.size), fileSize: file.size)
        }
        var header = try first.withUnsafeBytes { try VMDK.Header(decoding: FieldReader($0), path: path, at: 0) }
        let descriptorAt = header.descriptorOffset
        let descriptorSectors = header.descriptorSize
        if header.gdOffset == VMDK.gdAtEnd, file.size >= 1536 {
            // streamOptimized: the footer's copy of the header is the one that counts.
            let footer = try file.read(at: file.size - 1024, count: VMDK.Header.size)
            if let h = try? footer.withUnsafeBytes({
                try VMDK.Header(decoding: FieldReader($0), path: path, at: file.size - 1024)
            }) {
                header = h
            }
        }
        guard header.grainSize >= 1, header.grainSize <= 2048 else {
            throw ContainerError.absurdSize(path: path, offset: 20, field: "grain size", value: header.grainSize)
        }
        guard header.capacity <= ReaderLimits.maximumVirtualSize / 512 else {
            throw ContainerError.absurdSize(path: path, offset: 12, field: "capacity", value: header.capacity)
        }
        virtualSize = header.capacity * 512
        clusterSize = header.grainSize * 512
        let compressed = header.flags & VMDK.flagCompressed != 0
        // The embedded descriptor (text, at most 1 MiB read): CID, parentCID, createType.
        var fields: [String: String] = [:]
        if descriptorAt > 0, descriptorSectors > 0, descriptorAt <= file.size / 512 {
            let start = descriptorAt * 512
            let length = min(descriptorSectors * 512, 1 << 20, file.size - start)
            let text = try file.read(at: start, count: Int(length))
            let used = text.prefix { $0 != 0 }
            for line in String(decoding: used, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = line[..<eq].trimmingSpaces
                var value = line[line.index(after: eq)...].trimmingSpaces
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                if fields[key] == nil { fields[key] = value }
            }
        }
        let createType = fields["createType"] ?? (compressed ? "streamOptimized" : "monolithicSparse")
        var data: [(String, JSONValue)] = []
        if let cid = fields["CID"].flatMap({ UInt32($0, radix: 16) }) { data.append(("cid", .unsigned(UInt64(cid)))) }
        if let parent = fields["parentCID"].flatMap({ UInt32($0, radix: 16) }) {
            data.append(("parent-cid", .unsigned(UInt64(parent))))
        }
        data.append(("create-type", .string(createType)))
        var extent: [(String, JSONValue)] = []
        if compressed { extent.append(("compressed", .bool(true))) }
        extent += [
            ("virtual-size", .unsigned(virtualSize)), ("filename", .string(path)),
            ("cluster-size", .unsigned(header.grainSize * 512)),
            ("format", .string("")),
        ]
        data.append(("extents", .array([.object(extent)])))
        formatSpecific = .object([("type", .string("vmdk")), ("data", .object(data))])
        if let hint = fields["parentFileNameHint"], !hint.isEmpty {
            backingFilename = hint
            fullBackingFilename = Self.resolve(hint, against: path)
        }
        variant = createType
    }

    // MARK: VHD

    private mutating func readVHD(_ file: InputFile) throws {
        let path = file.path
        container = .vhd
        format = "vpc"
        guard file.size >= 512 else { throw ContainerError.truncated(path: path, offset: 0, needed: 512, fileSize: file.size) }
        let at = file.size - 512
        let footer = try file.read(at: at, count: 512).withUnsafeBytes {
            try VHD.Footer(decoding: FieldReader($0), path: path, at: at)
        }
        virtualSize =
            VHDGeometry.qemuSectors(
                footerSize: footer.currentSize, geometry: footer.geometry, creator: footer.creatorApplication) * 512
        switch VHD.DiskType(rawValue: footer.diskType) {
        case .fixed:
            variant = "fixed"
        case .dynamic, .differencing:
            variant = footer.diskType == VHD.DiskType.dynamic.rawValue ? "dynamic" : "differencing"
            let headerAt = footer.dataOffset
            guard headerAt <= file.size, 1024 <= file.size - headerAt else {
                throw ContainerError.pointerPastEnd(path: path, offset: at + 16, target: headerAt, fileSize: file.size)
            }
            let h = try file.read(at: headerAt, count: 1024).withUnsafeBytes {
                try VHD.DynamicHeader(decoding: FieldReader($0), path: path, at: headerAt)
            }
            clusterSize = UInt64(h.blockSize)
        case nil:
            throw ContainerError.malformed(path: path, offset: at + 60, reason: "unknown vhd disk type \(footer.diskType)")
        }
    }
}

/// qemu's reading of a VHD's size.
public enum VHDGeometry {
    /// The disk's size in sectors as qemu's `vpc` driver computes it: the footer's current
    /// size for creators known to use it (Hyper-V `win `, `qem2`, Disk2vhd `d2v `,
    /// XenConverter `CTXS`, XenServer `tap\0`) or when the geometry is the largest CHS
    /// geometry there is; cylinders × heads × sectors otherwise (Virtual PC, older qemu:
    /// their images' current size may be larger than what the geometry covers).
    public static func qemuSectors(footerSize: UInt64, geometry: UInt32, creator: [UInt8]) -> UInt64 {
        let chs = UInt64(geometry >> 16) * UInt64((geometry >> 8) & 0xFF) * UInt64(geometry & 0xFF)
        let bySize: [[UInt8]] = [
            Array("win ".utf8), Array("qem2".utf8), Array("d2v ".utf8), Array("CTXS".utf8), [0x74, 0x61, 0x70, 0],
        ]
        if bySize.contains(Array(creator.prefix(4))) || chs == 65535 * 16 * 255 { return footerSize / 512 }
        return chs
    }
}

extension Array where Element == UInt8 {
    fileprivate func be32(_ at: Int) -> UInt32 { self[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
    fileprivate func be64(_ at: Int) -> UInt64 { self[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
