// Measures every compression setting stamp may use on the non-zero 64 KiB grains of an image.
//
//   compression-bench IMAGE [--threads N] [--settings zlib-6,libdeflate-1,isal-3,...] [--single]
//   compression-bench IMAGE --vmdk [--threads N] [--settings ...]
//   compression-bench IMAGE --all [--threads N]
//
// For each setting: single-thread MB/s (of non-zero input), the size of a streamOptimized
// VMDK's grain records (12-byte marker + data, padded to 512), and the wall time through
// ParallelCompressor with N workers (default: all CPUs), with the process CPU time it used.
// With --vmdk: the whole raw → streamOptimized VMDK conversion through stamp's writer for
// each setting, against `qemu-img convert -O vmdk -o subformat=streamOptimized`.
// With --all: the VMDK alone, then raw+qcow2+vmdk+vhd from one read through a TeeSink (default
// setting), each output checked with `qemu-img compare` against the input.

import Dispatch
import StampCompression
import StampContainers

#if canImport(Glibc)
    import Glibc
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// This thread's CPU time: the single-thread MB/s per core, steady on a busy machine.
func threadSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

func f(_ x: Double, _ w: Int) -> String {
    let s = String(Double(Int(x * 10)) / 10)
    return String(repeating: " ", count: max(0, w - s.count)) + s
}

func readGrains(_ path: String) -> [[UInt8]] {
    guard let f = fopen(path, "rb") else {
        print("compression-bench: cannot open \(path): \(String(cString: strerror(errno)))")
        exit(1)
    }
    defer { fclose(f) }
    var grains: [[UInt8]] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
        if n == 0 { break }
        let grain = Array(buffer[0..<n])
        if grain.contains(where: { $0 != 0 }) { grains.append(grain) }
    }
    return grains
}

var arguments = Array(CommandLine.arguments.dropFirst())
var threads = ParallelCompressor.cpuCount
var settingsList: [CompressionSettings] = [
    .init(backend: .zlib, level: 1), .init(backend: .zlib, level: 6), .init(backend: .zlib, level: 9),
    .init(backend: .libdeflate, level: 1), .init(backend: .libdeflate, level: 3), .init(backend: .libdeflate, level: 4),
    .init(backend: .libdeflate, level: 5), .init(backend: .libdeflate, level: 6), .init(backend: .libdeflate, level: 7),
    .init(backend: .libdeflate, level: 9), .init(backend: .isal, level: 1), .init(backend: .isal, level: 2),
    .init(backend: .isal, level: 3),
]
if let i = arguments.firstIndex(of: "--threads"), i + 1 < arguments.count {
    threads = Int(arguments[i + 1]) ?? threads
    arguments.removeSubrange(i...(i + 1))
}
if let i = arguments.firstIndex(of: "--settings"), i + 1 < arguments.count {
    settingsList = arguments[i + 1].split(separator: ",").compactMap { spec in
        let parts = spec.split(separator: "-")
        guard parts.count == 2, let backend = CompressionBackend(rawValue: String(parts[0])), let level = Int(parts[1])
        else { return nil }
        return CompressionSettings(backend: backend, level: level)
    }
    arguments.removeSubrange(i...(i + 1))
}
let singleOnly = arguments.contains("--single")  // skip the parallel run (half the time)
arguments.removeAll { $0 == "--single" }
let vmdkMode = arguments.contains("--vmdk")
let allMode = arguments.contains("--all")
arguments.removeAll { $0 == "--vmdk" || $0 == "--all" }
guard let path = arguments.first else {
    print("usage: compression-bench IMAGE [--threads N] [--settings zlib-6,libdeflate-1,...]")
    exit(2)
}

if allMode {
    var options = ContainerOptions()
    options.workers = threads
    let formats: [(OutputFormat, String)] = [
        (.raw, "raw"), (.qcow2, "qcow2"), (.vmdkStreamOptimized, "vmdk"), (.vhdDynamic, "vpc"),
    ]
    print("one read, several outputs, default setting; load: ", terminator: "")
    fflush(nil)
    _ = system("cat /proc/loadavg")
    for set in [[2], [0, 1, 2, 3]] {
        let reader = try ImageDetector.open(path: path)
        let sinks = try set.map { i in
            try makeImageSink(
                format: formats[i].0, path: "\(path).bench.\(formats[i].1)", virtualSize: reader.virtualSize, options: options)
        }
        let (t0, c0) = (now(), cpuSeconds())
        try reader.replay(into: TeeSink(sinks))
        let (wall, cpu) = (now() - t0, cpuSeconds() - c0)
        print("outputs \(set.map { formats[$0].1 }.joined(separator: ",")): wall \(f(wall, 6)) s, cpu \(f(cpu, 6)) s")
        for i in set {
            let out = "\(path).bench.\(formats[i].1)"
            print("  \(formats[i].1): \(fileSize(out)) bytes; qemu-img compare: ", terminator: "")
            fflush(nil)
            _ = system("qemu-img compare -f raw -F \(formats[i].1) '\(path)' '\(out)' 2>&1")
            unlink(out)
        }
    }
    exit(0)
}

if vmdkMode {
    let out = path + ".bench.vmdk"
    print("raw → streamOptimized VMDK of \(path); \(threads) workers; load: ", terminator: "")
    fflush(nil)
    _ = system("cat /proc/loadavg")
    print("writer                      wall s    cpu s      VMDK bytes")
    for settings in settingsList {
        var options = ContainerOptions()
        options.compression = settings
        options.workers = threads
        let (t0, c0) = (now(), cpuSeconds())
        try convert(input: path, output: out, outputFormat: .vmdkStreamOptimized, options: options)
        let (wall, cpu) = (now() - t0, cpuSeconds() - c0)
        let name = "stamp " + settings.description
        print(name + String(repeating: " ", count: max(0, 24 - name.count)) + "\(f(wall, 9)) \(f(cpu, 8)) \(fileSize(out))")
        unlink(out)
    }
    let t0 = now()
    let status = system("qemu-img convert -f raw -O vmdk -o subformat=streamOptimized '\(path)' '\(out)'")
    let wall = now() - t0
    print("qemu-img 7.2 (zlib-6)   \(f(wall, 9))   (child) \(fileSize(out))  exit \(status)")
    unlink(out)
    exit(0)
}

let grains = readGrains(path)
let inputBytes = grains.reduce(0) { $0 + $1.count }
print("image \(path): \(grains.count) non-zero grains, \(inputBytes / 1_000_000) MB; \(threads) workers")
print("(1-thread MB/s: input MB per second of the thread's CPU time, i.e. per core)")
print(
    "setting          1-thread MB/s   grain records MB   ratio   parallel s   parallel MB/s   parallel cpu s   records bytes -> through ParallelCompressor"
)
print("(parallel: through ParallelCompressor, which stores incompressible grains uncompressed: StoredDeflate)")
for settings in settingsList {
    let compressor = try settings.makeCompressor(format: .zlib(windowBits: 15))
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: compressor.maximumCompressedSize(for: 65536), alignment: 64)
    defer { out.deallocate() }
    var records = 0
    let t0 = threadSeconds()
    for grain in grains {
        let n = try grain.withUnsafeBytes { try compressor.compress($0, into: out) } ?? 0
        records += (12 + n + 511) / 512 * 512
    }
    let single = threadSeconds() - t0
    let name = settings.description + String(repeating: " ", count: max(0, 14 - settings.description.count))
    if singleOnly {
        print(
            "\(name) \(f(Double(inputBytes) / single / 1e6, 14)) \(f(Double(records) / 1e6, 18)) \(f(Double(inputBytes) / Double(records), 7))"
        )
        fflush(nil)
        continue
    }

    let parallel = try ParallelCompressor(settings: settings, format: .zlib(windowBits: 15), workers: threads)
    var parallelRecords = 0
    let (t1, c1) = (now(), cpuSeconds())
    for (i, grain) in grains.enumerated() {
        try grain.withUnsafeBytes { bytes in
            try parallel.submit(bytes, tag: UInt64(i)) { parallelRecords += (12 + $0.compressed.count + 511) / 512 * 512 }
        }
    }
    try parallel.drain { parallelRecords += (12 + $0.compressed.count + 511) / 512 * 512 }
    let wall = now() - t1
    let cpu = cpuSeconds() - c1
    print(
        "\(name) \(f(Double(inputBytes) / single / 1e6, 14)) \(f(Double(records) / 1e6, 18)) "
            + "\(f(Double(inputBytes) / Double(records), 7)) \(f(wall, 12)) \(f(Double(inputBytes) / wall / 1e6, 15)) \(f(cpu, 16))   \(records) -> \(parallelRecords) bytes"
    )
    fflush(nil)
}
