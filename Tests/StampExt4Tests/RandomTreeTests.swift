import Foundation
import Testing

import StampTestSupport

/// Property tests of `stamp mkfs` on trees no fixture anticipated (issue 10).
///
/// `Tests/tools/random_tree.py SEED` draws a tree: hard links at random depths across
/// subtrees, every file type, modes 0000..7777, owners up to 2^32-2, ns times from 1901 to
/// 2300, xattrs of every namespace with ACLs, sparse files, 255-byte and non-UTF-8 names.
/// Every image must pass check_ext4.sh (e2fsck -fn silent) and compare_tree.py --ns
/// (dissect.extfs, entry by entry, incl. link counts and hard-link identity).
@Suite(.serialized, .enabled(if: isRoot && toolAvailable("e2fsck") && toolAvailable("python3")))
struct RandomTreeTests {
    static let tools = repositoryRoot + "/Tests/tools"

    /// The outside report: a hard link whose first-scanned name lies deeper than a later
    /// one trapped in inode numbering (SIGILL). Both names must share one inode.
    @Test func hardLinkWhoseFirstNameIsDeeperThanTheOther() throws {
        let dir = try TemporaryDirectory("stamp-hardlink-depth")
        let t = dir.file("t")
        let image = dir.file("t.img")
        let made = try sh("mkdir -p \(t)/N/c/z/6 \(t)/X/A && echo hi > \(t)/N/c/z/6/V && ln \(t)/N/c/z/6/V \(t)/X/A/hl")
        try #require(made.status == 0, "\(made.output)")
        let mkfs = try run([stampBinary, "mkfs", "--size", "64M", t, image])
        try #require(mkfs.status == 0, "stamp mkfs: \(mkfs.output)")
        #expect(try strictFsck(image) == [])
        // --no-atime: the scan's own readdir moves these directories' (past) atimes.
        let compare = try run(["python3", "\(Self.tools)/compare_tree.py", t, image, "--ns", "--no-atime"])
        #expect(compare.status == 0 && compare.stdout.contains(" 0 differences"), "\(compare.output)")
        let stat = try run(["debugfs", "-R", "stat /X/A/hl", image])
        #expect(stat.stdout.contains("Links: 2"), "\(stat.output)")
    }

    /// 200 fixed seeds (CI); `Benchmarks/random-trees.sh` runs fresh ones.
    @Test func twoHundredRandomTreesMatchTheirSource() throws {
        let dir = try TemporaryDirectory("stamp-random-trees")
        let r = try run(
            ["bash", "\(Self.tools)/check_random_trees.sh", "--seeds", "1-200", "--work", dir.path],
            environment: ProcessInfo.processInfo.environment.merging(["STAMP_BIN": stampBinary]) { $1 })
        let closing = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(r.status == 0, "\(r.output.suffix(4000))")
        #expect(closing.hasPrefix("random trees: 200 checked") && closing.hasSuffix(", 0 failed"), "\(closing)")
    }
}
