import Foundation
import StampDisk
import StampIO

/// Runs an outside validator and captures its output (they exit 0 even on problems).
struct ToolResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func run(_ tool: String, _ arguments: [String]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(
        status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func toolAvailable(_ name: String) -> Bool {
    ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "stamp-disk-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Writes a disk to a sparse file and returns its path.
func writeDisk(_ assembler: DiskAssembler, to path: String) throws -> String {
    let sink = try RawFileSink(path: path)
    try assembler.write(to: sink)
    return path
}

func readBytes(_ path: String, offset: UInt64, count: Int) throws -> [UInt8] {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    return [UInt8](handle.readData(ofLength: count))
}

func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// A producer that writes a recognisable first and last sector over `size` bytes.
final class MarkerProducer: ImageProducer {
    let size: UInt64
    let marker: UInt8
    init(size: UInt64, marker: UInt8) {
        self.size = size
        self.marker = marker
    }
    func emit(into sink: ImageSink, at base: UInt64) throws {
        let sector = [UInt8](repeating: marker, count: 512)
        try sector.withUnsafeBytes { try sink.write($0, at: base) }
        if size >= 1024 { try sector.withUnsafeBytes { try sink.write($0, at: base + size - 512) } }
    }
}

func FileManagerTruncate(_ path: String, size: UInt64) -> Bool {
    FileManager.default.createFile(atPath: path, contents: nil) && (try? FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: size)) != nil
}

@discardableResult
func runWithInput(_ tool: String, _ arguments: [String], input: String) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let inp = Pipe(), out = Pipe(), err = Pipe()
    process.standardInput = inp
    process.standardOutput = out
    process.standardError = err
    try process.run()
    inp.fileHandleForWriting.write(Data(input.utf8))
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}
