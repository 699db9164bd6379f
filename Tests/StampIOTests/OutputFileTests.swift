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
        let dead = dir.file(".image.raw.stamp-999999-3-partial")
        let alive = dir.file(".image.raw.stamp-1-3-partial")
        let older = dir.file(".image.raw.stamp-999998-1.tmp")  // an earlier version's name
        for p in [dead, alive, older] { FileManager.default.createFile(atPath: p, contents: nil) }
        let file = try OutputFile(path: dir.file("image.raw"))
        file.discard()
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(!FileManager.default.fileExists(atPath: older))
        #expect(FileManager.default.fileExists(atPath: alive), "pid 1 is alive: its file stays")
    }

    /// nodepool-builder's cleanup worker deletes every file of its images directory that
    /// matches this pattern and that ZooKeeper does not know (nodepool/builder.py); a
    /// temporary output must never match it, or a build loses its output mid-write.
    @Test func temporaryNamesDoNotMatchNodepoolsCleanupPattern() throws {
        let nodepool = try NSRegularExpression(pattern: #"^(.*)-([abcdef\d]+)\.(?:\w+)$"#)
        func matches(_ name: String) -> Bool {
            nodepool.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        }
        // The pattern is what we think it is: nodepool's own outputs and our old name match.
        #expect(matches("ubuntu-jammy-0000000001.qcow2"))
        #expect(matches(".ubuntu-jammy-0000000001.qcow2.stamp-4242-1.tmp"))
        let dir = try TemporaryDirectory("stamp-io")
        for name in ["ubuntu-jammy-0000000001.qcow2", "debian-bookworm-abc123.vmdk", "image.raw", "a-1.vhd"] {
            let file = try OutputFile(path: dir.file(name))
            let temporary = String(file.temporaryPath.split(separator: "/").last!)
            #expect(!matches(temporary), "\(temporary) matches nodepool's cleanup pattern")
            #expect(temporary.hasPrefix("." + name + ".stamp-"))
            file.discard()
        }
        for pid: Int32 in [1, 0xabc, 999_999] {
            for serial in [1, 10, 0xdef] {
                let name = OutputFile.temporaryName(for: "img-0000000042.qcow2", pid: pid, serial: serial)
                #expect(!matches(name), "\(name)")
            }
        }
    }

    @Test func rawSinkKeepsHolesAndRejectsOutOfOrderWrites() throws {
        let dir = try TemporaryDirectory("stamp-io")
        let sink = try RawFileSink(path: dir.file("d.raw"))
        try [UInt8](repeating: 1, count: 4096).withUnsafeBytes { try sink.write($0, at: 1 << 20) }
        #expect(throws: IOError.self) { try [UInt8](repeating: 1, count: 16).withUnsafeBytes { try sink.write($0, at: 0) } }
        try sink.finish(size: 64 << 20)
        let st = try run(["stat", "-c", "%s %b", dir.file("d.raw")]).stdout.split(separator: " ").map {
            UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        #expect(st[0] == 64 << 20)
        #expect(st[1] * 512 < 1 << 20, "only the written block is allocated")
    }
}
