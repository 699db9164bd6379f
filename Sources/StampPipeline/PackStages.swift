import StampBytes
import StampCompression
import StampContainers
import StampIO
import StampPackaging

/// Where a pack's time went, stage by stage, for the log's last line (`stages: …`), which
/// `Benchmarks/pack.sh` parses and prints beside its ratios:
///
/// ```
///  scan ─► plan ─► stream (ext4 emit ─► chunks ─► compressors ─► writers, hashing) ─► finish
///  stages: scan 0.120 s 20345 entries | plan 0.031 s | stream 2.410 s | finish 0.210 s |
///          wall 2.771 s cpu 5.320 s | compress libdeflate-5 712.3 MB -> 241.0 MB cpu 4.620 s |
///          hash 482.0 MB cpu 0.610 s
/// ```
///
/// Wall time per stage from a monotonic clock; compression and hashing as thread CPU time
/// (so their MB/s per core hold on a busy machine). The floor of a run is the compression CPU
/// spread over every core: no pipeline that compresses the same data at the same level can
/// be faster.
final class PackStages {
    private var marks: [(name: String, wall: UInt64)] = []
    private var last: UInt64
    private let startWall: UInt64
    private let startCPU: UInt64
    var entries = 0
    var compression = CompressionStatistics()
    var compressionSetting = ""
    var hashedBytes: UInt64 = 0
    var hashCPU: UInt64 = 0

    init() {
        startWall = Clocks.monotonic()
        startCPU = Clocks.processCPU()
        last = startWall
    }

    /// Ends the stage called `name` now.
    func mark(_ name: String) {
        let now = Clocks.monotonic()
        marks.append((name, now &- last))
        last = now
    }

    /// Adds what a sink's compressors did.
    func add(sink: any ImageSink) {
        if let s = sink as? VMDKStreamWriter { compression = compression + s.compressionStatistics }
        if let s = sink as? Qcow2Writer { compression = compression + s.compressionStatistics }
        if let s = sink as? SharedChunkCompression { compression = compression + s.compressionStatistics }
    }

    /// Adds what a hashing observer did.
    func add(hashing: HashingObserver) {
        hashedBytes += hashing.count
        hashCPU += hashing.cpuNanoseconds
    }

    /// The one-line report.
    var line: String {
        func s(_ ns: UInt64) -> String { seconds(Double(ns) / 1e9) }
        func mb(_ b: UInt64) -> String { String(format1(Double(b) / 1e6)) + " MB" }
        var parts = marks.map { "\($0.name) \(s($0.wall))" + ($0.name == "scan" ? " \(entries) entries" : "") }
        parts.append("wall \(s(Clocks.monotonic() &- startWall)) cpu \(s(Clocks.processCPU() &- startCPU))")
        if compression.chunks > 0 {
            parts.append(
                "compress \(compressionSetting) \(mb(compression.inputBytes)) -> \(mb(compression.outputBytes)) cpu \(s(compression.cpuNanoseconds)) chunks \(compression.chunks) stored \(compression.storedChunks)"
            )
        }
        if hashedBytes > 0 { parts.append("hash \(mb(hashedBytes)) cpu \(s(hashCPU))") }
        return "stages: " + parts.joined(separator: " | ")
    }

    private func seconds(_ x: Double) -> String {
        let ms = Int((x * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac) s"
    }

    private func format1(_ x: Double) -> String {
        let t = Int((x * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }
}
