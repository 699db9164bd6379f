import Foundation
import SystemPackage
import Testing

@testable import StampIO
import StampTestSupport

/// The staged writer against an in-memory model of the file: random writes with short and
/// long gaps, skips, and patches below, across and inside the stage being filled.
struct StagedWriterTests {
    /// Non-zero bytes that differ from write to write (and within one, every 251 bytes).
    func pattern(count: Int, seed: UInt64) -> [UInt8] {
        let base = UInt8(truncatingIfNeeded: seed % 200) &+ 1
        var bytes = [UInt8](repeating: base, count: count)
        var i = Int(seed % 251)
        while i < count {
            bytes[i] = base &+ 50
            i += 251
        }
        return bytes
    }

    @Test(arguments: [(true, UInt64(1)), (true, 2), (true, 3), (false, 4)])
    func matchesAModelOfTheFile(direct: Bool, seed: UInt64) throws {
        let dir = try TemporaryDirectory("stamp-staged")
        let path = dir.file("out.img")
        var random = SplitMix(seed)
        // Small stages, so that writes cross many stage boundaries.
        let writer = try StagedWriter(path: path, direct: direct, stageSize: 64 << 10, stages: 2)
        // A source file for copies (ImageSink.copy: read straight into the stages).
        let source = pattern(count: 300_000, seed: seed &+ 77).enumerated().map {
            UInt8(truncatingIfNeeded: $0.offset / 7) ^ $0.element
        }
        try Data(source).write(to: URL(fileURLWithPath: dir.file("source")))
        let sourceFD = try FileDescriptor.open(dir.file("source"), .readOnly)
        defer { try? sourceFD.close() }
        var model = [UInt8]()
        func extend(to n: Int) { if model.count < n { model += [UInt8](repeating: 0, count: n - model.count) } }
        var lent = 0
        for step in 0..<400 {
            switch random.below(11) {
            case 0...5:  // a write after a gap: none, short (zeros), or long (a hole)
                let gap = [0, 0, random.below(5000), random.below(70_000), 65536 + random.below(300_000)][random.below(5)]
                let offset = model.count + gap
                let bytes = pattern(count: 1 + random.below(90_000), seed: random.next())
                try bytes.withUnsafeBytes { try writer.write($0, at: UInt64(offset)) }
                extend(to: offset)
                model += bytes
            case 6:
                let n = random.below([3000, 200_000][random.below(2)])
                writer.skip(UInt64(n))
                extend(to: model.count + n)
            case 7:  // a copy of part of the source file after a gap
                let gap = [0, random.below(5000), 65536 + random.below(100_000)][random.below(3)]
                let from = random.below(source.count - 1)
                let n = 1 + random.below(min(source.count - from, 150_000))
                let offset = model.count + gap
                try writer.copy(
                    SourceRange(descriptor: sourceFD, path: "source", offset: UInt64(from), length: UInt64(n)), at: UInt64(offset)
                )
                extend(to: offset)
                model += source[from..<(from + n)]
            case 8:  // a lent region after a gap, filled in place (a write where none is lent)
                let gap = [0, random.below(5000), 4096 * random.below(20), 65536 + random.below(100_000)][random.below(4)]
                let offset = model.count + gap
                let bytes = pattern(count: 1 + random.below([4096, 70_000][random.below(2)]), seed: random.next())
                if let region = try writer.lend(at: UInt64(offset), count: bytes.count) {
                    #expect(region.count == bytes.count)
                    region.copyBytes(from: bytes)
                    lent += 1
                } else {
                    try bytes.withUnsafeBytes { try writer.write($0, at: UInt64(offset)) }
                }
                extend(to: offset)
                model += bytes
            default:  // a patch anywhere in what exists
                guard !model.isEmpty else { continue }
                // Half of them near the end: into the stage, or a skip the next write follows.
                let offset = random.below(2) == 0 ? random.below(model.count) : max(0, model.count - 1 - random.below(6000))
                let n = 1 + random.below(min(model.count - offset, 100_000))
                let bytes = pattern(count: n, seed: random.next() &+ UInt64(step))
                try bytes.withUnsafeBytes { try writer.patch($0, at: UInt64(offset)) }
                model.replaceSubrange(offset..<(offset + n), with: bytes)
            }
        }
        let size = model.count + random.below(10_000)
        extend(to: size)
        try writer.finish(size: UInt64(size))
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(data.count == model.count)
        #expect(lent > 0, "no region lent")
        if data != model, let first = zip(data, model).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            Issue.record("first difference at byte \(first.offset) (seed \(seed))")
        }
    }

    @Test func aPatchIntoASkipSurvivesTheNextWrite() throws {
        // Before the first write there is no stage: the patch goes to the file, and the stage
        // the write then starts (at 0, the 4 KiB boundary) must not zero it.
        let dir = try TemporaryDirectory("stamp-staged")
        let path = dir.file("out.img")
        let writer = try StagedWriter(path: path)
        writer.skip(1000)
        try [UInt8](repeating: 5, count: 100).withUnsafeBytes { try writer.patch($0, at: 500) }
        try [UInt8](repeating: 6, count: 3000).withUnsafeBytes { try writer.write($0, at: 1000) }
        try writer.finish(size: 4000)
        let expected =
            [UInt8](repeating: 0, count: 500) + [UInt8](repeating: 5, count: 100)
            + [UInt8](repeating: 0, count: 400) + [UInt8](repeating: 6, count: 3000)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == expected)
    }

    @Test func aCopyPastTheSourcesEndNamesTheFile() throws {
        let dir = try TemporaryDirectory("stamp-staged")
        try Data(repeating: 3, count: 5000).write(to: URL(fileURLWithPath: dir.file("short")))
        let fd = try FileDescriptor.open(dir.file("short"), .readOnly)
        defer { try? fd.close() }
        let writer = try StagedWriter(path: dir.file("out.img"))
        #expect {
            try writer.copy(SourceRange(descriptor: fd, path: dir.file("short"), offset: 0, length: 9000), at: 0)
        } throws: { error in
            "\(error)".contains(dir.file("short"))
        }
        writer.discard()
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    @Test func longGapsStayHoles() throws {
        let dir = try TemporaryDirectory("stamp-staged")
        let path = dir.file("sparse.img")
        let writer = try StagedWriter(path: path, stageSize: 1 << 20)
        let block = [UInt8](repeating: 0xAB, count: 4096)
        for i in 0..<8 { try block.withUnsafeBytes { try writer.write($0, at: UInt64(i) << 24) } }  // every 16 MiB
        try writer.finish(size: 128 << 20)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var stats = stat()
        fstat(fd, &stats)
        #expect(stats.st_size == 128 << 20)
        #expect(stats.st_blocks * 512 <= 8 * 65536, "allocated \(stats.st_blocks * 512) bytes for 32 KiB of data")
        // The data is where it was written, and nothing else is allocated.
        let regions = try Syscalls.dataRegions(of: FileDescriptor(rawValue: fd), size: 128 << 20)
        #expect(regions.map(\.lowerBound) == (0..<8).map { UInt64($0) << 24 })
    }

    @Test func outOfOrderWritesAreRefusedAndDiscardLeavesNothing() throws {
        let dir = try TemporaryDirectory("stamp-staged")
        let path = dir.file("out.img")
        let writer = try StagedWriter(path: path)
        let bytes = [UInt8](repeating: 1, count: 8192)
        try bytes.withUnsafeBytes { try writer.write($0, at: 8192) }
        #expect(throws: IOError.self) { try bytes.withUnsafeBytes { try writer.write($0, at: 0) } }
        writer.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func aFailedWriteIsReportedWithThePath() throws {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let dir = try TemporaryDirectory("stamp-staged")
        let path = dir.file("full.img")
        let writer = try StagedWriter(path: path, direct: false, stageSize: 4096, stages: 2)
        // Put /dev/full in the temporary file's descriptor slot.
        let full = open("/dev/full", O_WRONLY)
        #expect(full >= 0)
        #expect(dup2(full, writer.descriptor.rawValue) >= 0)
        close(full)
        let bytes = [UInt8](repeating: 9, count: 64 << 10)
        #expect {
            try bytes.withUnsafeBytes { try writer.write($0, at: 0) }
            try writer.finish(size: 64 << 10)
        } throws: { error in
            "\(error)".contains("full.img")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
