import Foundation
import Testing

import StampOCI
import StampTestSupport

/// Layers crafted to make the unpacker touch the host (issue 18, item 2), from
/// Tests/tools/oci/oci_fixture.py. Root: the layers carry owners.
@Suite(.enabled(if: isRoot && toolAvailable("python3")))
struct HostileLayerTests {
    /// `a/`, `a/x/` (0777, 1999) and then `a -> HOST`: the deferred mode and time fix-ups of
    /// `a/x` must not land on `HOST/x` (a host directory going 0700 → 0777).
    @Test func directoryFixupsNeverFollowASymlinkOntoTheHost() throws {
        let dir = try TemporaryDirectory("oci-fixup-escape")
        let host = dir.file("host")
        let r = try sh(
            """
            set -e
            mkdir -p '\(host)/x' && chmod 0700 '\(host)/x' && touch -d @1700000000 '\(host)/x'
            python3 '\(UnpackTests.script)' '\(dir.file("layout"))' dir-fixup-escape --link-target '\(host)'
            """)
        try #require(r.status == 0, "\(r.output)")
        let (root, _) = try UnpackTests.unpack("oci:\(dir.file("layout"))", dir, "root")
        var st = stat()
        #expect(lstat(host + "/x", &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o700, "the host directory's mode changed to \(String(st.st_mode & 0o7777, radix: 8))")
        #expect(st.st_mtim.tv_sec == 1_700_000_000, "the host directory's mtime changed to \(st.st_mtim.tv_sec)")
        // The image itself is as the layer says: `a` is the symlink.
        #expect(lstat(root + "/a", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
    }

    /// A file 2,100 directories deep is refused in one line naming the limit, and what was
    /// unpacked can be removed (it used to leave scratch no run could remove).
    @Test func aLayerDeeperThanTheLimitIsRefused() throws {
        let dir = try TemporaryDirectory("oci-deep")
        let (layout, _) = try UnpackTests.fixture(dir, "layout", "deep")
        do {
            try UnpackTests.unpack("oci:\(layout)", dir, "root")
            Issue.record("a 2,100-level layer was accepted")
        } catch let error as OCIError {
            #expect(error.description.contains("refused: nested deeper than 1024 directories"), "\(error)")
            #expect(!error.description.contains("\n"))
        }
        let r = try sh("rm -rf '\(dir.file("root"))' && echo removed")
        #expect(r.stdout.contains("removed"), "\(r.output)")
    }
}
