import Foundation
import StampContainers
import StampIO
import StampTestSupport
import SystemPackage
import Testing

/// A fresh temporary directory, removed when the value is deinitialised.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "stamp-containers-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The result of running a tool.
struct ToolResult {
    var status: Int32
    var output: String
}

/// Runs `tool` (looked up in PATH) and captures stdout+stderr.
func run(_ tool: String, _ arguments: [String]) throws -> ToolResult {
    let r = try StampTestSupport.run([tool] + arguments)
    return ToolResult(status: r.status, output: r.output)
}

let hasQemuImg = toolAvailable("qemu-img")

func readAll(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// A deterministic synthetic disk: random data, compressible text, zero runs, writes that
/// start and end off grain boundaries, a source-file copy, and an unaligned tail.
struct SyntheticDisk {
    let size: UInt64
    /// (offset, bytes) in ascending order, as a producer would write them.
    let writes: [(UInt64, [UInt8])]
    /// A range to send with `copy` from `sourcePath` (offset in disk, length).
    let copyAt: UInt64
    let copyBytes: [UInt8]

    /// - Parameter large: more than 32 MiB (several VMDK grain tables, two VHD-block runs).
    init(large: Bool, seed: UInt64 = 42) {
        var rng = SplitMix(seed)
        func random(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        func text(_ n: Int) -> [UInt8] {
            Array(String(repeating: "stamp writes disk images. ", count: n / 26 + 1).utf8.prefix(n))
        }
        let mib: UInt64 = 1 << 20
        size = large ? 36 * mib + 3 * 65536 + 4096 + 512 : 5 * mib + 7 * 512
        var w: [(UInt64, [UInt8])] = []
        w.append((0, random(700)))  // a partial first grain
        w.append((4096, text(200_000)))  // crosses several grains, unaligned end
        w.append((mib, random(65536 * 2)))  // two whole grains
        w.append((mib + 3 * 65536 + 100, [1, 2, 3]))  // a tiny write mid-grain
        if large {
            w.append((33 * mib - 1000, random(3000)))  // across the 32 MiB grain-table boundary
            w.append((35 * mib, text(3 * 65536)))
            w.append((36 * mib + 65536, random(65536)))
        }
        w.append((size - 300, random(300)))  // the unaligned tail
        writes = w
        copyAt = large ? 34 * mib + 512 : 3 * mib + 512
        copyBytes = random(150_000)
    }

    /// The disk's bytes.
    var raw: [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(size))
        out.withUnsafeMutableBytes { o in
            for (at, bytes) in allWrites {
                bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: o[Int(at)...]).copyMemory(from: $0) }
            }
        }
        return out
    }

    private var allWrites: [(UInt64, [UInt8])] {
        (writes + [(copyAt, copyBytes)]).sorted { $0.0 < $1.0 }
    }

    /// Sends the disk to `sink` (the copy part through `copy` from a source file) and finishes it.
    func feed(_ sink: any ImageSink, sourceDirectory: TempDir, finish: Bool = true) throws {
        let source = sourceDirectory.file("source-\(copyAt).bin")
        if !fileExists(source) { try Data([0, 0, 0] + copyBytes).write(to: URL(fileURLWithPath: source)) }
        let fd = try FileDescriptor.open(FilePath(source), .readOnly)
        defer { try? fd.close() }
        for (at, bytes) in allWrites {
            if at == copyAt {
                try sink.copy(SourceRange(descriptor: fd, path: source, offset: 3, length: UInt64(bytes.count)), at: at)
            } else {
                try bytes.withUnsafeBytes { try sink.write($0, at: at) }
            }
        }
        if finish { try sink.finish(size: size) }
    }
}

/// Reads an image back through our reader into memory.
func readBack(_ path: String, format: ImageFormat? = nil) throws -> [UInt8] {
    let reader = try ImageDetector.open(path: path, format: format)
    let sink = ArraySink(size: Int(reader.virtualSize))
    try reader.replay(into: sink)
    #expect(sink.finishedSize == reader.virtualSize)
    return sink.bytes
}

/// An in-memory sink preallocated to the disk size (fast in debug builds: memcpy only).
final class ArraySink: ImageSink {
    var bytes: [UInt8]
    var finishedSize: UInt64?
    private let buffer = IOBuffer(size: 1 << 20)
    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }
    func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        precondition(Int(offset) + data.count <= bytes.count, "write past the end")
        bytes.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[Int(offset)...]).copyMemory(from: data) }
    }
    func copy(_ range: SourceRange, at offset: UInt64) throws {
        try range.forEachChunk(buffer: buffer.bytes) { chunk, at in try write(chunk, at: offset + at) }
    }
    func finish(size: UInt64) throws { finishedSize = size }
}

/// Byte equality with memcmp (Array's == is slow in debug builds).
func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count
        && a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}

/// Patches bytes of a file in place.
func patchFile(_ path: String, at offset: Int, _ bytes: [UInt8]) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: Data(bytes))
    try handle.close()
}

func truncateFile(_ path: String, to size: UInt64) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: size)
    try handle.close()
}

func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
func be64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }

/// Parses hex with optional spaces into bytes.
func hexBytes(_ s: String) -> [UInt8] {
    let h = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: h.count, by: 2).map { UInt8(String(h[$0..<($0 + 2)]), radix: 16)! }
}

/// qemu-img's name for the container `format` writes.
func qemuFormat(_ format: OutputFormat) -> String {
    switch format {
    case .raw: "raw"
    case .qcow2: "qcow2"
    case .vmdkStreamOptimized, .vmdkMonolithicSparse: "vmdk"
    case .vhdDynamic, .vhdFixed: "vpc"
    }
}

/// What qemu-img, a reader we did not write, finds wrong with `image` (written as `format`)
/// as a copy of the raw disk `raw`; empty when it agrees: `info --output=json` names the
/// format, `check` finds no errors (where qemu-img can check the format: qcow2 and VMDK),
/// and `compare` finds the guest-visible bytes identical to `raw`'s. qemu-img probes the
/// format itself, except for a fixed VHD, which has no header to probe (its only metadata is
/// the footer): that one is named (`-f vpc`), so qemu-img parses the footer.
func qemuImgDisagreements(_ image: String, format: OutputFormat, raw: String) throws -> [String] {
    let name = qemuFormat(format)
    var problems: [String] = []
    let info = try run("qemu-img", ["info", "--output=json"] + (format == .vhdFixed ? ["-f", "vpc"] : []) + [image])
    let json = try? JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any]
    if json?["format"] as? String != name { problems.append("qemu-img info: not \(name): \(info.output)") }
    if name == "qcow2" || name == "vmdk" {
        let check = try run("qemu-img", ["check", "-f", name, image])
        if check.status != 0 || !check.output.contains("No errors were found") {
            problems.append("qemu-img check: \(check.output)")
        }
    }
    let compare = try run("qemu-img", ["compare", "-f", "raw", "-F", name, raw, image])
    if compare.status != 0 || !compare.output.contains("Images are identical.") {
        problems.append("qemu-img compare: \(compare.output)")
    }
    return problems
}
