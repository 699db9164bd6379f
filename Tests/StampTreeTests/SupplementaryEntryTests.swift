import Foundation
import Testing

import StampTestSupport
@testable import StampTree

/// The scan's supplements: the base system's device nodes a user namespace cannot create.
struct SupplementaryEntryTests {
    @Test func missingDeviceNodesAreAddedInNameOrderAndPresentOnesKept() throws {
        let dir = try TemporaryDirectory("stamp-supplements")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("dev"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("etc"), withIntermediateDirectories: true)
        // A tree entry of a supplement's name wins: `null` stays the regular file it is.
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.file("dev/null")))
        try FileManager.default.createSymbolicLink(atPath: dir.file("dev/mine"), withDestinationPath: "elsewhere")
        var options = ScanOptions()
        options.supplements = SupplementaryEntry.baseSystemDevices
        let tree = try TreeScanner(options: options).scan(dir.path)

        func entry(_ path: String) -> Entry? {
            tree.entries.indices.first { tree.path(of: $0) == path }.map { tree.entries[$0] }
        }
        let dev = try #require(tree.entries.indices.first { tree.path(of: $0) == "/dev" })
        let names = tree.entries[dev].children.map { String(decoding: tree.entries[Int($0)].name, as: UTF8.self) }
        #expect(
            names == [
                "console", "fd", "full", "mine", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
                "urandom", "zero",
            ])
        #expect(entry("/dev/null")?.kind == .regular && entry("/dev/null")?.size == 1)
        let console = try #require(entry("/dev/console"))
        #expect(console.kind == .characterDevice && console.mode == 0o020666)
        #expect(console.deviceMajor == 5 && console.deviceMinor == 1 && console.uid == 0 && console.gid == 0)
        #expect(entry("/dev/zero").map { ($0.deviceMajor, $0.deviceMinor) } ?? (0, 0) == (1, 5))
        #expect(entry("/dev/pts")?.kind == .directory && entry("/dev/pts")?.mode == 0o040755)
        let stdin = try #require(entry("/dev/stdin"))
        #expect(stdin.kind == .symlink && stdin.symlinkTarget == Array("/proc/self/fd/0".utf8) && stdin.size == 15)
        #expect(stdin.modificationTime == tree.entries[dev].modificationTime)
        // Only in the directory they name.
        #expect(tree.entries.filter { String(decoding: $0.name, as: UTF8.self) == "console" }.count == 1)
        #expect(entry("/etc")?.children.isEmpty == true)
    }

    @Test func aTreeWithoutTheDirectoryGetsNothing() throws {
        let dir = try TemporaryDirectory("stamp-supplements")
        defer { dir.cleanup() }
        var options = ScanOptions()
        options.supplements = SupplementaryEntry.baseSystemDevices
        let tree = try TreeScanner(options: options).scan(dir.path)
        #expect(tree.entries.count == 1)
    }
}
