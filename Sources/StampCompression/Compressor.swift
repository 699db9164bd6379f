/// Deflate compression for disk containers: one protocol, two backends.
///
/// Every container that compresses does it one independent chunk at a time (a VMDK grain,
/// a qcow2 cluster), so the API is "compress this buffer into that buffer", not a stream:
///
/// ```
///   64 KiB grain ──► Compressor.compress(_:into:) ──► zlib stream (78 xx … adler32)   VMDK
///   64 KiB cluster ─► Compressor.compress(_:into:) ──► raw deflate, 4 KiB window       qcow2
///   64 KiB chunk ───► Compressor.compress(_:into:) ──► zlib stream, 4 KiB window (48 xx … adler32)
///                     = a VMDK grain, and without its 2-byte header and 4-byte trailer a
///                       qcow2 cluster: one compression for both (``ZlibFrame``)
/// ```
///
/// Backends:
/// - ``CompressionBackend/zlib``: the reference implementation (what qemu-img uses), any
///   window size, levels 1–9.
/// - ``CompressionBackend/libdeflate``: whole-buffer compressor, several times faster and
///   usually smaller at equal level, levels 1–12, but always a 32 KiB window, so it cannot
///   produce qcow2's 4 KiB-window raw deflate.
///
/// ``CompressionSettings/default`` and ``CompressionSettings/fast`` were chosen by the
/// benchmark in `Benchmarks/compression` (see its README).

/// Which library compresses.
public enum CompressionBackend: String, Sendable, Equatable, CaseIterable {
    case zlib
    case libdeflate
    /// Intel ISA-L igzip (levels 0–3): the fastest, a little larger.
    case isal
}

/// The framing of a compressed chunk.
public enum CompressionFormat: Sendable, Equatable {
    /// RFC 1950: 2-byte header, deflate data with a window of `2^windowBits` bytes (9…15),
    /// Adler-32. VMDK grains use this (any window: readers inflate with 32 KiB).
    case zlib(windowBits: Int)
    /// RFC 1951 raw deflate with a window of `2^windowBits` bytes (9…15). qcow2 compressed
    /// clusters use `windowBits: 12`.
    case deflate(windowBits: Int)
}

extension CompressionFormat {
    /// The window, as a power of two.
    public var windowBits: Int {
        switch self {
        case .zlib(let bits), .deflate(let bits): return bits
        }
    }
}

/// RFC 1950's framing around raw deflate data, for backends that cannot write it themselves
/// with a small window:
///
/// ```
///  ┌─────┬─────┬──────────────── … ──┬───────────────────┐
///  │ CMF │ FLG │ raw deflate data     │ Adler-32 (big-end) │
///  └─────┴─────┴──────────────── … ──┴───────────────────┘
///  CMF = 8 (deflate) | (windowBits - 8) << 4;  FLG: level hint << 6, then a check value
///  that makes CMF·256 + FLG a multiple of 31
/// ```
public enum ZlibFrame {
    /// Bytes before and after the deflate data.
    public static let headerSize = 2, trailerSize = 4

    /// The two header bytes for a window of `2^windowBits` bytes and a compression level.
    public static func header(windowBits: Int, level: Int) -> (UInt8, UInt8) {
        let cmf = UInt8(8 | (windowBits - 8) << 4)
        let hint: UInt8 = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3  // zlib's FLEVEL
        var flg = hint << 6
        flg += UInt8(31 - (Int(cmf) * 256 + Int(flg)) % 31) % 31
        return (cmf, flg)
    }

    /// The raw deflate data inside a zlib stream (header and Adler-32 dropped).
    public static func deflateData(of stream: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: stream[headerSize..<(stream.count - trailerSize)])
    }
}

/// A backend and a level: what the `--fast` switch and the default choose between.
public struct CompressionSettings: Sendable, Equatable, CustomStringConvertible {
    public var backend: CompressionBackend
    public var level: Int

    public init(backend: CompressionBackend, level: Int) {
        self.backend = backend
        self.level = level
    }

    /// Faster than qemu-img's zlib level 6 and no larger (measured: Benchmarks/compression).
    public static let `default` = CompressionSettings(backend: .libdeflate, level: 5)
    /// Speed first: ISA-L level 0 with its trained code (``IsalTrainedCode``). On the
    /// bootable root's grains it compressed 12% more MB/s per core than ISA-L level 1 with a
    /// 6% larger output (17% larger than the default's); Benchmarks/compression measures it.
    public static let fast = CompressionSettings(backend: .isal, level: 0)
    /// What qemu-img does: zlib level 6 (`Z_DEFAULT_COMPRESSION`).
    public static let qemuCompatible = CompressionSettings(backend: .zlib, level: 6)

    public var description: String { "\(backend.rawValue)-\(level)" }

    /// These settings if they can produce `format`, otherwise zlib at the nearest level.
    /// libdeflate has no small-window mode, so by default qcow2 (4 KiB window) compresses with
    /// zlib (size like qemu-img's); ISA-L limits its window, so `--fast` keeps it (measured on
    /// a Debian root's clusters: 5-9x zlib-5's speed, about 5% larger).
    public func adapted(to format: CompressionFormat) -> CompressionSettings {
        guard backend == .libdeflate, format.windowBits < 15 else { return self }
        return CompressionSettings(backend: .zlib, level: min(level, 9))
    }

    /// A new compressor for `format`.
    /// - Throws: ``CompressionError/unsupported(_:)`` for a level or window the backend lacks.
    public func makeCompressor(format: CompressionFormat) throws(CompressionError) -> any Compressor {
        switch backend {
        case .zlib: return try ZlibCompressor(level: level, format: format)
        case .libdeflate: return try LibdeflateCompressor(level: level, format: format)
        case .isal: return try IsalCompressor(level: level, format: format)
        }
    }
}

/// Compresses one independent chunk at a time. Not thread-safe: one owner per instance
/// (the parallel compressor gives each worker its own).
public protocol Compressor: AnyObject {
    /// The framing this compressor produces.
    var format: CompressionFormat { get }
    /// An output capacity that always suffices for `count` input bytes.
    func maximumCompressedSize(for count: Int) -> Int
    /// Compresses all of `input` into `output`.
    /// - Returns: the compressed length, or nil if it did not fit in `output`.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CompressionError)
        -> Int?
}

/// A compression or decompression failure. Messages are lower-case, one line.
public enum CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The backend cannot do what was asked (level out of range, window size).
    case unsupported(String)
    /// The library failed to allocate or initialise its state.
    case initializationFailed(backend: CompressionBackend, code: Int32)
    /// The library reported an error while compressing.
    case compressionFailed(backend: CompressionBackend, code: Int32)
    /// The compressed input is not valid deflate/zlib data (the library's message).
    case corruptData(String)
    /// The compressed input ended before the end of its stream.
    case truncatedData
    /// The data would decompress to more than the `limit` the container allows.
    case outputTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .unsupported(let what): return "unsupported compression setting: \(what)"
        case .initializationFailed(let backend, let code): return "\(backend.rawValue): initialisation failed (code \(code))"
        case .compressionFailed(let backend, let code): return "\(backend.rawValue): compression failed (code \(code))"
        case .corruptData(let message): return "corrupt compressed data: \(message)"
        case .truncatedData: return "compressed data ends before its stream does"
        case .outputTooLarge(let limit): return "compressed data expands beyond \(limit) bytes"
        }
    }
}
