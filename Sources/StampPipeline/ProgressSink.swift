import StampBytes
import StampIO

#if canImport(Glibc)
    import Glibc
#endif

/// Shows how far a disk stream has got on a terminal: bytes, rate and time left, redrawn in
/// place at most five times a second. Every command that streams a disk or filesystem uses it
/// (`pack`, `mkfs`, `convert`, `build`, disk-image-create's disk stage), only when ``wanted``:
/// otherwise the command prints its timestamped log lines alone.
///
/// ```
///   writing  812.4 MiB / 1.2 GiB   65%   310.2 MiB/s   ETA 0:02
/// ```
public final class ProgressSink: StagingSink {
    private let target: ImageSink
    private let total: UInt64
    private let started = ProgressSink.now()
    private lazy var lastDraw = started
    private var position: UInt64 = 0
    private let label: String

    /// - Parameter label: the line's first word (`writing`, `converting`).
    public init(_ target: ImageSink, total: UInt64, label: String = "writing") {
        self.target = target
        self.total = max(total, 1)
        self.label = label
    }

    /// True when standard output is a terminal.
    public static var isTerminal: Bool { isatty(1) == 1 }

    /// Whether to draw: standard output is a terminal and log lines go there (not `-q`, not
    /// `DIB_QUIET`, whose descriptor 1 is the log file or /dev/null anyway).
    public static var wanted: Bool { isTerminal && LogLine.current.stdout == 1 }

    /// `sink` behind a progress line when ``wanted``, else `sink` itself.
    public static func wrapping(_ sink: ImageSink, total: UInt64, label: String = "writing") -> ImageSink {
        wanted ? ProgressSink(sink, total: total, label: label) : sink
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try target.write(data, at: offset)
        advance(to: offset + UInt64(data.count))
    }

    public func copy(_ range: SourceRange, at offset: UInt64) throws {
        try target.copy(range, at: offset)
        advance(to: offset + range.length)
    }

    public var lendsBuffers: Bool { (target as? StagingSink)?.lendsBuffers ?? false }

    public func lend(at offset: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer? {
        guard let region = try (target as? StagingSink)?.lend(at: offset, count: count) else { return nil }
        advance(to: offset + UInt64(count))
        return region
    }

    public func finish(size: UInt64) throws {
        try target.finish(size: size)
        advance(to: size, force: true)
        print("")
    }

    private func advance(to offset: UInt64, force: Bool = false) {
        position = max(position, offset)
        let now = ProgressSink.now()
        guard force || now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now - started, 0.001)
        let rate = Double(position) / elapsed
        let left = rate > 0 ? Double(total - min(position, total)) / rate : 0
        let percent = Int(Double(position) * 100 / Double(total))
        let eta = "\(Int(left) / 60):" + String(format2: Int(left) % 60)
        let line =
            "  \(label) \(formatBytes(position)) / \(formatBytes(total))   \(percent)%   \(formatBytes(UInt64(rate)))/s   ETA \(eta)   "
        _ = ("\r" + line).withCString { Glibc.write(1, $0, strlen($0)) }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension String {
    fileprivate init(format2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
}
