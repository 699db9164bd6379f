import Foundation
import Testing

import StampTestSupport

/// The whole fidelity gate of the ext4 issue, with tools stamp did not write: the fixture of
/// `Tests/tools/make_fixture.sh --big` (every file type, modes, 32-bit owners, ns times,
/// xattrs of every namespace, ACLs, spill and sharing, holes, a 100,000-entry directory,
/// a 4.5 GiB sparse file, long and UTF-8 names) through `stamp mkfs`, then e2fsck/dumpe2fs
/// (`check_ext4.sh`), dissect.extfs (`compare_tree.py --ns`) and debugfs (`check_debugfs.py`).
@Suite(.serialized, .enabled(if: isRoot && toolAvailable("e2fsck") && toolAvailable("python3")))
struct FidelityTests {
    static let tools = repositoryRoot + "/Tests/tools"

    @Test func bigFixtureMatchesItsSourceUnderIndependentReaders() throws {
        let dir = try TemporaryDirectory("stamp-fidelity")
        let fixture = dir.file("fx")
        let image = dir.file("fx.img")
        let made = try run(["bash", "\(Self.tools)/make_fixture.sh", fixture, "--big"])
        try #require(made.status == 0, "make_fixture: \(made.output)")
        let mkfs = try run([stampBinary, "mkfs", fixture, image, "--uuid", "0f0e0d0c-0b0a-4908-8706-050403020100"])
        try #require(mkfs.status == 0, "stamp mkfs: \(mkfs.output)")

        let check = try run(["bash", "\(Self.tools)/check_ext4.sh", image])
        #expect(check.status == 0, "check_ext4: \(check.output)")
        let compare = try run(["python3", "\(Self.tools)/compare_tree.py", fixture, image, "--ns", "--crtime"])
        #expect(compare.status == 0 && compare.stdout.contains(" 0 differences"), "compare_tree: \(compare.output.suffix(3000))")
        #expect(
            compare.stdout.contains("compare_tree: 1021"),
            "the fixture should have over 102,000 entries: \(compare.stdout.suffix(200))")
        let debugfs = try run(["python3", "\(Self.tools)/check_debugfs.py", fixture, image, "--ns"])
        #expect(debugfs.status == 0 && debugfs.output.contains(" 0 differences"), "check_debugfs: \(debugfs.output.suffix(3000))")
    }

    /// The checkers this suite trusts can fail: Tests/tools/selftest.sh runs check_ext4.sh,
    /// compare_tree.py and check_debugfs.py on mke2fs images and on mutated copies of the
    /// fixture, and expects each known mke2fs difference and each planted fault (~30 s).
    @Test func checkersPassAndFailWhereTheyShould() throws {
        let dir = try TemporaryDirectory("stamp-selftest")
        let r = try run(["bash", "\(Self.tools)/selftest.sh", dir.path])
        let lines = r.stdout.split(separator: "\n")
        let ok = lines.filter { $0.hasPrefix("ok   - ") }.count
        let failed = lines.filter { $0.hasPrefix("FAIL - ") }
        #expect(r.status == 0 && failed.isEmpty, "selftest: \(failed)\n\(r.output.suffix(4000))")
        #expect(lines.last == "selftest: 0 failure(s)", "\(r.output.suffix(2000))")
        #expect(ok >= 30, "only \(ok) expectations ran: \(r.output.suffix(2000))")
    }

    @Test func cliRunsAreByteIdentical() throws {
        let dir = try TemporaryDirectory("stamp-determinism")
        let fixture = dir.file("fx")
        try #require(try run(["bash", "\(Self.tools)/make_fixture.sh", fixture]).status == 0)
        let args = ["--uuid", "0f0e0d0c-0b0a-4908-8706-050403020100", "--source-date-epoch", "1700000000", "--label", "root"]
        for name in ["a.img", "b.img"] {
            let r = try run([stampBinary, "mkfs", fixture, dir.file(name)] + args)
            try #require(r.status == 0, "\(r.output)")
        }
        let cmp = try run(["cmp", dir.file("a.img"), dir.file("b.img")])
        #expect(cmp.status == 0, "images differ: \(cmp.output)")
        #expect(try strictFsck(dir.file("a.img")) == [])
    }

    /// A real Debian root (debootstrap, cached by scripts/debootstrap-root): needs network
    /// on the first run.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STAMP_SKIP_NETWORK"] == nil && toolAvailable("grub-fstest")))
    func debootstrappedDebianRoot() throws {
        let root = try debianRoot()
        let dir = try TemporaryDirectory("stamp-debian")
        let image = dir.file("root.img")
        let mkfs = try run([stampBinary, "mkfs", root, image, "--label", "cloudimg-rootfs"])
        try #require(mkfs.status == 0, "\(mkfs.output)")
        let check = try run(["bash", "\(Self.tools)/check_ext4.sh", image])
        #expect(check.status == 0, "check_ext4: \(check.output)")
        let compare = try run([
            "python3", "\(Self.tools)/compare_tree.py", root, image, "--ns", "--ignore-root-times", "--no-atime",
        ])
        #expect(compare.status == 0 && compare.stdout.contains(" 0 differences"), "compare_tree: \(compare.output.suffix(3000))")
        let debugfs = try run([
            "python3", "\(Self.tools)/check_debugfs.py", root, image, "--ns", "--no-atime", "--ignore-root-times",
        ])
        #expect(debugfs.status == 0, "check_debugfs: \(debugfs.output.suffix(3000))")
        let kernels = try FileManager.default.contentsOfDirectory(atPath: root + "/boot").filter { $0.hasPrefix("vmlinuz") }
        #expect(!kernels.isEmpty, "no kernel in \(root)/boot")
        for k in kernels {
            let r = try run(["grub-fstest", image, "cmp", "/boot/\(k)", "\(root)/boot/\(k)"])
            #expect(r.status == 0 && r.output.isEmpty, "grub-fstest \(k): \(r.output)")
        }
    }
}
