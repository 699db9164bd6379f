import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// DIB's log format, which nodepool's build logs expect: `YYYY-MM-DD HH:MM:SS.mmm | message`
/// (UTC), one line per message, on standard output. Every stamp command logs this way.
///
/// `disk-image-create` routes the lines as DIB's output filter does (``configure(_:)``):
/// to standard output with or without the timestamp (`DIB_NO_TIMESTAMP`) or not at all
/// (`DIB_QUIET`), and, with `--logfile`, to the log file, always timestamped.
public enum LogLine {
    /// Where lines go.
    public struct Destinations: Sendable {
        /// The descriptor of standard output, or nil when nothing goes there (quiet).
        public var stdout: Int32? = 1
        /// Standard output's lines carry the timestamp.
        public var timestamps = true
        /// A log file's descriptor (opened for appending): timestamped lines.
        public var logfile: Int32?

        public init(stdout: Int32? = 1, timestamps: Bool = true, logfile: Int32? = nil) {
            self.stdout = stdout
            self.timestamps = timestamps
            self.logfile = logfile
        }
    }

    /// Set once by ``configure(_:)`` before any line is written and any thread started.
    nonisolated(unsafe) private static var destinations = Destinations()

    /// Routes every later line. Call once, at startup, before other threads exist.
    public static func configure(_ d: Destinations) { destinations = d }

    /// The current routing.
    public static var current: Destinations { destinations }

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

    /// Writes `timestamp | message` and a newline to each destination, each line in one
    /// `write(2)`, so lines from several threads never interleave.
    public static func write(_ message: String) {
        let d = destinations
        let stamped = "\(timestamp()) | \(message)\n"
        if let out = d.stdout { writeAll(out, d.timestamps ? stamped : message + "\n") }
        if let log = d.logfile { writeAll(log, stamped) }
    }

    /// Writes `text` to `fd` whole (retrying short writes and EINTR); gives up on an error.
    public static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
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
