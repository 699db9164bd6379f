import Foundation
import Testing

@testable import StampIO
import StampTestSupport

struct OutputFileTests {
    @Test func nothingAppearsUnderTheFinalNameUntilCommit() throws {
        let dir = try TemporaryDirectory("stamp-io")
        let path = dir.file("image.raw")
        let file = try OutputFile(path: path)
        try [UInt8](repeating: 7, count: 4096).withUnsafeBytes { _ = try file.descriptor.writeAll(toAbsoluteOffset: 0, $0) }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: file.temporaryPath))
        try file.commit(size: 1 << 20)
        #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64
        #expect(size == 1 << 20)
    }

    @Test func discardRemovesTheTemporaryAndKeepsTheOldFile() throws {
        let dir = try TemporaryDirectory("stamp-io")
        let path = dir.file("image.raw")
        FileManager.default.createFile(atPath: path, contents: Data("old".utf8))
        do {
            let file = try OutputFile(path: path)
            file.discard()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["image.raw"])
    }

    @Test func staleTemporariesOfDeadProcessesAreRemoved() throws {
        let dir = try TemporaryDirectory("stamp-io")
        let dead = dir.file(".image.raw.stamp-999999-3.tmp"), alive = dir.file(".image.raw.stamp-1-3.tmp")
        for p in [dead, alive] { FileManager.default.createFile(atPath: p, contents: nil) }
        let file = try OutputFile(path: dir.file("image.raw"))
        file.discard()
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: alive), "pid 1 is alive: its file stays")
    }

    @Test func rawSinkKeepsHolesAndRejectsOutOfOrderWrites() throws {
        let dir = try TemporaryDirectory("stamp-io")
        let sink = try RawFileSink(path: dir.file("d.raw"))
        try [UInt8](repeating: 1, count: 4096).withUnsafeBytes { try sink.write($0, at: 1 << 20) }
        #expect(throws: IOError.self) { try [UInt8](repeating: 1, count: 16).withUnsafeBytes { try sink.write($0, at: 0) } }
        try sink.finish(size: 64 << 20)
        let st = try run(["stat", "-c", "%s %b", dir.file("d.raw")]).stdout.split(separator: " ").map { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        #expect(st[0] == 64 << 20)
        #expect(st[1] * 512 < 1 << 20, "only the written block is allocated")
    }
}
