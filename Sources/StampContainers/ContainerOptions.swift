import StampBytes
import StampCompression
import StampIO

/// Settings shared by the container writers. Defaults give what `stamp pack` writes.
public struct ContainerOptions: Sendable {
    /// Compression for VMDK stream grains and (when ``qcow2Compressed``) qcow2 clusters.
    public var compression: CompressionSettings = .default
    /// Compressing threads; nil means one per CPU.
    public var workers: Int? = nil
    /// Identity of the disk: VMDK CID and longContentID, VHD unique id. nil: random.
    /// Fix it (with ``timestamp``) for byte-identical, reproducible images.
    public var identifier: Identifier? = nil
    /// VHD creation time, Unix seconds; nil: now.
    public var timestamp: UInt64? = nil
    /// VMDK `ddb.adapterType`: `lsilogic` (default, what vSphere imports), `ide`, `buslogic`.
    public var vmdkAdapterType: String = "lsilogic"
    /// qcow2 version 3 (`compat=1.1`) or version 2 (`compat=0.10`).
    public var qcow2Compat: Qcow2Compat = .v3
    /// Write qcow2 data clusters compressed (zlib, 4 KiB window; see ``Qcow2Writer``).
    public var qcow2Compressed: Bool = false

    public init() {}

    /// The VMDK CID: derived from the identifier when one is given.
    var cid: UInt32 {
        let bytes = (identifier ?? Identifier.random()).bytes
        var v = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        if v >= 0xFFFF_FFFE { v = 0x1234_5678 }  // ffffffff/fffffffe mean "no parent"/"invalid"
        return v
    }
}

/// qcow2 version: nodepool asks for `compat=0.10` (version 2).
public enum Qcow2Compat: String, Sendable, Equatable, CaseIterable {
    /// `compat=0.10`: version 2 header (72 bytes).
    case v2 = "0.10"
    /// `compat=1.1`: version 3 header (104 bytes).
    case v3 = "1.1"
}

/// The container formats stamp reads (detected by magic).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case raw, qcow2, vmdk, vhd
}

/// What a writer produces: a format and its variant.
public enum OutputFormat: Sendable, Equatable, CustomStringConvertible {
    case raw
    case qcow2
    case vmdkStreamOptimized
    case vmdkMonolithicSparse
    case vhdDynamic
    case vhdFixed

    /// Parses the names `stamp` accepts: raw, qcow2, vmdk (= streamOptimized),
    /// vmdk-sparse (= monolithicSparse), vhd (= dynamic), vhd-fixed. nil if unknown.
    public init?(name: String) {
        switch name.lowercased() {
        case "raw", "img": self = .raw
        case "qcow2": self = .qcow2
        case "vmdk", "vmdk-stream", "streamoptimized": self = .vmdkStreamOptimized
        case "vmdk-sparse", "monolithicsparse": self = .vmdkMonolithicSparse
        case "vhd", "vpc", "vhd-dynamic": self = .vhdDynamic
        case "vhd-fixed": self = .vhdFixed
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .raw: return "raw"
        case .qcow2: return "qcow2"
        case .vmdkStreamOptimized: return "vmdk"
        case .vmdkMonolithicSparse: return "vmdk-sparse"
        case .vhdDynamic: return "vhd"
        case .vhdFixed: return "vhd-fixed"
        }
    }

    /// True if the writer never rewrites what it wrote, so it can take an ``OutputObserver``:
    /// raw (through ``RawStreamWriter``), VMDK streamOptimized and fixed VHD. qcow2,
    /// monolithicSparse and dynamic VHD patch their header or tables at the end: hash
    /// those files after writing.
    public var isSequential: Bool { self == .raw || self == .vmdkStreamOptimized || self == .vhdFixed }
}

/// Creates the sink writing `format` to `path` (under a temporary name until `finish`).
/// - Parameters:
///   - virtualSize: the disk size in bytes; `finish(size:)` must be called with it.
///   - observer: only for sequential formats (``OutputFormat/isSequential``).
///   - shared: the sink is one of several fed by a `TeeSink`, which hands every sink bytes
///     already in memory; raw then goes through staged direct writes rather than
///     copy_file_range (which only pays off when the sink reads the source itself).
///   - sharedCompression: qcow2 and streamOptimized VMDK take their compressed chunks from
///     there (``SharedChunkCompression``); such a sink must not be given the stream.
/// - Throws: ``ContainerError/invalidOption(_:)`` for an observer on a non-sequential format.
public func makeImageSink(
    format: OutputFormat, path: String, virtualSize: UInt64, options: ContainerOptions = .init(),
    observer: OutputObserver? = nil, shared: Bool = false, sharedCompression: SharedChunkCompression? = nil
) throws -> any ImageSink {
    if observer != nil && !format.isSequential {
        throw ContainerError.invalidOption("\(format) is not written sequentially; hash it after writing")
    }
    switch format {
    case .raw:
        if observer != nil || shared { return try RawStreamWriter(path: path, virtualSize: virtualSize, observer: observer) }
        return try RawFileSink(path: path)
    case .qcow2:
        return try Qcow2Writer(path: path, virtualSize: virtualSize, options: options, sharedCompression: sharedCompression)
    case .vmdkStreamOptimized:
        return try VMDKStreamWriter(
            path: path, virtualSize: virtualSize, options: options, observer: observer, sharedCompression: sharedCompression)
    case .vmdkMonolithicSparse: return try VMDKSparseWriter(path: path, virtualSize: virtualSize, options: options)
    case .vhdDynamic: return try VHDWriter(path: path, virtualSize: virtualSize, kind: .dynamic, options: options)
    case .vhdFixed: return try VHDWriter(path: path, virtualSize: virtualSize, kind: .fixed, options: options, observer: observer)
    }
}
