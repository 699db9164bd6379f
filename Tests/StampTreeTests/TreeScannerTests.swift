import Foundation
import Testing

import CStampSupport
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

    /// Every field of every entry, one line each, in entry order.
    static func dump(_ tree: RootTree) -> [String] {
        tree.entries.enumerated().map { i, e in
            let xattrs = e.xattrs.map { "\($0.nameString)=\($0.value)" }.joined(separator: ",")
            return
                "\(i) \(tree.path(of: i)) p\(e.parent) \(e.kind) \(String(e.mode, radix: 8)) \(e.uid):\(e.gid) s\(e.size) "
                + "\(e.accessTime) \(e.modificationTime) \(e.changeTime) \(String(describing: e.creationTime)) "
                + "d\(e.deviceMajor),\(e.deviceMinor) n\(e.linkCount) h\(String(describing: e.hardLinkOf)) x[\(xattrs)] "
                + "l\(String(describing: e.symlinkTarget)) r\(String(describing: e.dataRegions)) c\(e.children) "
                + "\(e.sourceDevice)/\(e.sourceInode)"
        }
    }

    @Test func scansOnManyThreadsGiveTheOneThreadModel() throws {
        let dir = try TemporaryDirectory("stamp-tree")
        // Hard links whose names fall in different directories (so in different tasks of the
        // parallel scan), in the same directory, and to a symlink; xattrs on a linked file;
        // deep and wide directories; a sparse file; a directory left empty by the options.
        try sh(
            """
            set -e; cd \(dir.path); mkdir -p r/z/deep/er/still r/a r/m/empty/x r/wide
            echo x > r/z/first; ln r/z/first r/a/second; ln r/z/first r/m/third; ln r/z/first r/z/fourth
            setfattr -n user.k -v v r/z/first 2>/dev/null || true
            ln -s target r/z/link; ln -P r/z/link r/a/linked-link
            for i in $(seq 1 60); do mkdir r/wide/d$i; echo $i > r/wide/d$i/f; ln r/wide/d$i/f r/a/l$i; done
            echo deep > r/z/deep/er/still/file; truncate -s 1M r/m/sparse
            """)
        var options = ScanOptions()
        options.emptyDirectories = ["m/empty"]
        options.threads = 1
        // A first scan sets the access times (relatime) that reading directories and symlinks
        // update, so that the scans compared see the same ones.
        _ = try TreeScanner(options: options).scan(dir.file("r"))
        let one = Self.dump(try TreeScanner(options: options).scan(dir.file("r")))
        // The default backlog, and backlogs so small that the threads mostly wait for the
        // directory the splice needs (one entry: every fragment is spliced before the next
        // directory but that one is read).
        for (threads, backlog) in [(2, 16384), (8, 16384), (8, 1), (3, 7)] {
            options.threads = threads
            options.spliceBacklog = backlog
            let many = Self.dump(try TreeScanner(options: options).scan(dir.file("r")))
            #expect(many == one, "\(threads) threads, backlog \(backlog)")
        }
        // r; z a m wide; z: deep first fourth link, deep/er/still/file; a: 62; m: 3; wide: 60 + 60
        #expect(one.count == 1 + 4 + 4 + 3 + 62 + 3 + 120, "\(one.count) entries")
    }

    @Test func xattrsReadTheSameWithAndWithoutTheAtCalls() throws {
        let dir = try TemporaryDirectory("stamp-tree")
        try sh(
            """
            set -e; cd \(dir.path); mkdir -p r/d; echo x > r/d/f; ln -s f r/d/l
            setfattr -n user.one -v 1 r/d/f; setfattr -n user.two -v 0x000102 r/d/f; setfattr -n user.dir -v d r/d
            if [ "$(id -u)" = 0 ]; then setfattr -h -n trusted.link -v l r/d/l; fi
            """)
        var options = ScanOptions()
        options.threads = 1
        _ = try TreeScanner(options: options).scan(dir.file("r"))  // access times, as above
        let at = Self.dump(try TreeScanner(options: options).scan(dir.file("r")))
        stamp_use_xattrat(0)
        defer { stamp_use_xattrat(1) }
        let proc = Self.dump(try TreeScanner(options: options).scan(dir.file("r")))
        #expect(at == proc)
        #expect(at.contains { $0.contains("/d/f ") && $0.contains("user.one=[49]") && $0.contains("user.two=[0, 1, 2]") })
        if getuid() == 0 { #expect(at.contains { $0.contains("/d/l ") && $0.contains("trusted.link=[108]") }) }
    }

    @Test func aSystemDirectoryScansTheSameOnManyThreads() throws {
        // A real tree with hard links across directories (Debian's tzdata has them), when the
        // machine has it.
        let root = ["/usr/share/zoneinfo", "/usr/share/doc"].first { FileManager.default.fileExists(atPath: $0) }
        let path = try #require(root, "no system directory to scan")
        var options = ScanOptions()
        options.threads = 1
        _ = try TreeScanner(options: options).scan(path)  // access times, as above
        let one = Self.dump(try TreeScanner(options: options).scan(path))
        options.threads = 8
        #expect(Self.dump(try TreeScanner(options: options).scan(path)) == one)
    }

    @Test func theFirstErrorInScanOrderIsReportedOnEveryThreadCount() throws {
        // Unreadable directories need a caller that permissions bind (not root).
        guard getuid() != 0 else { return }
        let dir = try TemporaryDirectory("stamp-tree")
        try sh(
            """
            set -e; cd \(dir.path); mkdir -p r/b/shut r/c/shut r/a/open
            for i in $(seq 1 40); do mkdir r/c/d$i; echo $i > r/c/d$i/f; done
            chmod 000 r/b/shut r/c/shut
            """)
        defer { _ = try? sh("chmod 755 \(dir.path)/r/b/shut \(dir.path)/r/c/shut") }
        var options = ScanOptions()
        for (threads, backlog) in [(1, 16384), (2, 16384), (8, 16384), (8, 1)] {
            options.threads = threads
            options.spliceBacklog = backlog
            #expect(
                throws: TreeError.unreadable(
                    path: dir.file("r") + "/b/shut", operation: "open directory", errno: .permissionDenied)
            ) {
                try TreeScanner(options: options).scan(dir.file("r"))
            }
        }
    }

    @Test func missingAndNonDirectoryRootsAreNamed() throws {
        #expect(throws: TreeError.notFound(path: "/nonexistent-stamp")) { try TreeScanner().scan("/nonexistent-stamp") }
        #expect(throws: TreeError.notDirectory(path: "/etc/hostname")) { try TreeScanner().scan("/etc/hostname") }
    }
}
