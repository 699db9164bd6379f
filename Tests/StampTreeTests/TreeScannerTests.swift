import Foundation
import Testing

import StampTestSupport
@testable import StampTree

struct TreeScannerTests {
    @Test func recordsMetadataWithoutReadingData() throws {
        let dir = try TemporaryDirectory("stamp-tree")
        try sh(
            """
            set -e; cd \(dir.path); mkdir -p r/b r/a; echo x > r/a/file; ln r/a/file r/b/hard; ln -s ../a/file r/b/link
            truncate -s 10M r/sparse; printf data | dd of=r/sparse bs=4096 seek=100 conv=notrunc status=none
            mkfifo r/fifo; touch -d '2001-02-03 04:05:06.123456789' r/a/file
            setfattr -n user.k -v v r/a/file 2>/dev/null || true
            """)
        let tree = try TreeScanner().scan(dir.file("r"))
        let names = tree.entries[0].children.map { String(decoding: tree.entries[Int($0)].name, as: UTF8.self) }
        #expect(names == ["a", "b", "fifo", "sparse"], "children sorted by name bytes")
        func entry(_ path: String) -> Entry? { tree.entries.indices.first { tree.path(of: $0) == path }.map { tree.entries[$0] } }
        let file = try #require(entry("/a/file"))
        #expect(file.kind == .regular && file.size == 2)
        #expect(file.modificationTime == Timestamp(seconds: 981_173_106, nanoseconds: 123_456_789))
        #expect(file.linkCount == 2 && file.hardLinkOf == nil)
        let hard = try #require(entry("/b/hard"))
        #expect(hard.hardLinkOf != nil && tree.path(of: Int(hard.hardLinkOf!)) == "/a/file")
        #expect(entry("/b/link")?.symlinkTarget == Array("../a/file".utf8))
        #expect(entry("/fifo")?.kind == .fifo)
        let sparse = try #require(entry("/sparse"))
        #expect(sparse.size == 10 << 20)
        #expect(
            sparse.dataRegions?.count == 1 && sparse.dataRegions?.first?.lowerBound == 409_600,
            "\(String(describing: sparse.dataRegions))")
        if file.xattrs.isEmpty == false { #expect(file.xattrs.first?.nameString == "user.k") }
        #expect(tree.totalFileBytes == 2 + (10 << 20))
    }

    @Test func missingAndNonDirectoryRootsAreNamed() throws {
        #expect(throws: TreeError.notFound(path: "/nonexistent-stamp")) { try TreeScanner().scan("/nonexistent-stamp") }
        #expect(throws: TreeError.notDirectory(path: "/etc/hostname")) { try TreeScanner().scan("/etc/hostname") }
    }
}
