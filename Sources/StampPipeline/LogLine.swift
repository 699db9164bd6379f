import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// DIB's log format, which nodepool's build logs expect: `YYYY-MM-DD HH:MM:SS.mmm | message`
/// (UTC), one line per message, on standard output. Every stamp command logs this way.
public enum LogLine {
    /// The current time as DIB prints it.
    public static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        func pad(_ v: Int, _ n: Int = 2) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(Int(t.tm_year) + 1900)-\(pad(Int(t.tm_mon) + 1))-\(pad(Int(t.tm_mday))) "
            + "\(pad(Int(t.tm_hour))):\(pad(Int(t.tm_min))):\(pad(Int(t.tm_sec))).\(pad(Int(ts.tv_nsec / 1_000_000), 3))"
    }

    /// Writes `timestamp | message` and a newline in one `write(2)`, so lines from several
    /// threads never interleave.
    public static func write(_ message: String) {
        let line = "\(timestamp()) | \(message)\n"
        var bytes = Array(line.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            done += n
        }
    }
}

/// A swift-log handler that prints ``LogLine``s (for the element engine's `Logger`).
public struct LogLineHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public init() {}
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    public func log(event: LogEvent) { LogLine.write("\(event.message)") }
}
