import Foundation
import StampTestSupport
import StampDisk
import StampIO

/// Runs an outside validator (they exit 0 even on problems: callers parse the output).
func run(_ tool: String, _ arguments: [String]) throws -> CommandResult {
    try StampTestSupport.run([tool] + arguments)
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
    FileManager.default.createFile(atPath: path, contents: nil)
        && (try? FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: size)) != nil
}

@discardableResult
func runWithInput(_ tool: String, _ arguments: [String], input: String) throws -> CommandResult {
    try StampTestSupport.run([tool] + arguments, input: input)
}
