import Foundation
import Testing

import StampTestSupport

/// `stamp pack IMAGE_REF` end to end: the crafted image of Tests/tools/oci/oci_fixture.py
/// becomes an ext4 filesystem that matches `umoci unpack`'s tree entry by entry (through
/// dissect.extfs, ns mtimes) and passes `e2fsck -fn`; OUT.d/ records the config; hostile and
/// damaged images end in one line on stderr, a non-zero exit, and nothing written: no output,
/// no OUT.d/, and the scratch directory under TMPDIR gone.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("umoci")
            && toolAvailable("zstd") && (try? sh("python3 -c 'import dissect.extfs'").status) == 0))
struct ImagePackTests {
    static let fixture = repositoryRoot + "/Tests/tools/oci/oci_fixture.py"
    static let compareTree = repositoryRoot + "/Tests/tools/compare_tree.py"

    /// A case directory with the fixture layout (`layout/`), its docker archive (`saved.tar`),
    /// umoci's unpack of it (`bundle/rootfs`), and empty `out/` and `tmp/`.
    static func prepare(_ kind: String = "semantics") throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("image-pack")
        let r = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir out tmp
            python3 '\(fixture)' layout \(kind) --docker-archive saved.tar >/dev/null
            [ \(kind) != semantics ] || umoci unpack --image layout:latest bundle >/dev/null
            """)
        try #require(r.status == 0, "\(r.output)")
        return dir
    }

    @Test(arguments: ["oci:$D/layout:latest", "docker-archive:$D/saved.tar"])
    func packedImageMatchesUmociUnpack(_ reference: String) throws {
        let dir = try Self.prepare()
        let ref = reference.replacingOccurrences(of: "$D", with: dir.path)
        let r = try run(
            [stampBinary, "pack", ref, "-o", dir.file("out/node"), "-t", "raw", "--layout", "none"],
            environment: ["TMPDIR": dir.file("tmp")])
        try #require(r.status == 0, "\(r.output)")
        #expect(try strictFsck(dir.file("out/node.raw")) == [])
        let compare = try run([
            "python3", Self.compareTree, dir.file("bundle/rootfs"), dir.file("out/node.raw"), "--ns", "--no-atime",
        ])
        #expect(compare.status == 0, "\(compare.output)")
        #expect(compare.stdout.contains("compare_tree: 26 entries, 0 differences"), "\(compare.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)

        // OUT.d/: the summary, and the config exactly as verified (its sha256 is its digest).
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("out/node.d/image.json"))))
            as? [String: Any]
        #expect(summary?["env"] as? [String] == ["PATH=/usr/sbin:/usr/bin", "STAMP_FIXTURE=1"])
        #expect(summary?["entrypoint"] as? [String] == ["/bin/sh", "-c"])
        #expect(summary?["cmd"] as? [String] == ["echo hi"])
        #expect(summary?["labels"] as? [String: String] == ["org.example.role": "node"])
        let sum = try run(["sha256sum", dir.file("out/node.d/image-config.json")])
        #expect(
            "sha256:" + (sum.stdout.split(separator: " ").first.map(String.init) ?? "") == summary?["configDigest"] as? String)
    }

    @Test func theImageCacheServesTheSameDigestAndSettingsAndPrunes() throws {
        let dir = try Self.prepare()
        let cache = dir.file("cache")
        func pack(_ name: String, _ extra: [String] = []) throws -> CommandResult {
            let r = try run(
                [
                    stampBinary, "pack", "oci:\(dir.path)/layout", "-o", dir.file("out/" + name), "-t", "raw,qcow2", "--layout",
                    "none",
                    "--checksum", "--stamped-cache", cache,
                ] + extra,
                environment: ["TMPDIR": dir.file("tmp")])
            try #require(r.status == 0, "\(r.output)")
            return r
        }
        let first = try pack("first")
        #expect(first.stdout.contains("stored in the image cache"), "\(first.stdout)")
        let second = try pack("second")
        #expect(second.stdout.contains("served from the image cache"), "\(second.stdout)")
        #expect(!second.stdout.contains("applying layer"), "\(second.stdout)")
        for suffix in [".raw", ".qcow2", ".qcow2.sha256", ".d/image.json", ".d/image-config.json"] {
            let same = try run(["cmp", dir.file("out/first" + suffix), dir.file("out/second" + suffix)])
            #expect(same.status == 0, "\(suffix): \(same.output)")
        }
        let fsck = try strictFsck(dir.file("out/second.raw"))
        #expect(fsck == [])
        // The defaults spelled out (or spelled otherwise) are the same settings: the same entry.
        let spelledOut = try pack("spelled", ["--label", "cloudimg-rootfs", "--qcow2-compat", "v3", "-t", "QCOW2,raw"])
        #expect(spelledOut.stdout.contains("served from the image cache"), "\(spelledOut.stdout)")
        // Another setting is another entry.
        let relabelled = try pack("third", ["--label", "other"])
        #expect(relabelled.stdout.contains("stored in the image cache"), "\(relabelled.stdout)")
        let list = try run([stampBinary, "images", "--stamped-cache", cache])
        #expect(list.status == 0)
        #expect(list.stdout.contains("2 entries in \(cache)"), "\(list.stdout)")
        #expect(list.stdout.contains("oci:\(dir.path)/layout"), "\(list.stdout)")
        let kept = try run([stampBinary, "images", "prune", "--unused-days", "1", "--stamped-cache", cache])
        #expect(kept.stdout.contains("pruned 0 entries"), "\(kept.stdout)")
        let pruned = try run([stampBinary, "images", "prune", "--image-cache", cache])
        #expect(pruned.stderr.contains("--image-cache is deprecated in stamp images; use --stamped-cache"), "\(pruned.stderr)")
        #expect(pruned.stdout.contains("pruned 2 entries"), "\(pruned.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).isEmpty)
    }

    /// A pack with a tar output still unpacks the layers (the tar is written from a
    /// directory; every other output from the layers' model, LayerModelTests). Without TMPDIR
    /// the tree is unpacked in /dev/shm when memory has room (as here: the fixture is tiny),
    /// on disk with STAMP_NO_TMPFS=1; either way nothing is left behind.
    @Test func theTreeIsUnpackedInMemoryUnlessToldNot() throws {
        let dir = try Self.prepare()
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm"))
        let memory = try run(
            [
                "env", "-u", "TMPDIR", stampBinary, "pack", "oci:\(dir.path)/layout", "-o", dir.file("out/m"), "-t", "raw,tar",
                "--layout", "none",
            ])
        try #require(memory.status == 0, "\(memory.output)")
        #expect(memory.stdout.contains("unpacking into /dev/shm/stamp-image-"), "\(memory.stdout)")
        let disk = try run(
            [
                "env", "-u", "TMPDIR", "STAMP_NO_TMPFS=1", stampBinary, "pack", "oci:\(dir.path)/layout", "-o", dir.file("out/d"),
                "-t", "raw,tar",
                "--layout", "none",
            ])
        try #require(disk.status == 0, "\(disk.output)")
        #expect(disk.stdout.contains("unpacking into /var/tmp/stamp-image-"), "\(disk.stdout)")
        let compare = try run([
            "python3", Self.compareTree, dir.file("bundle/rootfs"), dir.file("out/m.raw"), "--ns", "--no-atime",
        ])
        #expect(compare.stdout.contains("compare_tree: 26 entries, 0 differences"), "\(compare.output)")
        // A scratch tree of a stamp killed with SIGKILL (a pid that no longer exists) is
        // removed by the next stamp; a live process's is not touched.
        let dead = try run(["bash", "-c", "sh -c 'echo $$' "]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.createDirectory(
            atPath: "/dev/shm/stamp-image-\(dead).TESTXX/rootfs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/dev/shm/stamp-image-1.TESTXX", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: "/dev/shm/stamp-image-1.TESTXX") }
        let again = try run(
            [
                "env", "-u", "TMPDIR", stampBinary, "pack", "oci:\(dir.path)/layout", "-o", dir.file("out/again"), "-t", "tar",
                "--layout", "none",
            ])
        try #require(again.status == 0, "\(again.output)")
        #expect(!FileManager.default.fileExists(atPath: "/dev/shm/stamp-image-\(dead).TESTXX"))
        #expect(FileManager.default.fileExists(atPath: "/dev/shm/stamp-image-1.TESTXX"))
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")).subtracting(["stamp-image-1.TESTXX"])
        #expect(after.subtracting(before).filter { $0.hasPrefix("stamp-") }.isEmpty)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var kind: String
        var damage = ""
        var reference = "oci:$D/layout"
        var needle: String
        var testDescription: String { kind + (damage.isEmpty ? "" : " + " + damage) }
    }

    static let cases: [Case] = [
        Case(kind: "traversal", needle: "member '../escaped' refused: path traversal ('..')"),
        Case(kind: "absolute", needle: "member '/escaped' refused: absolute path"),
        Case(kind: "symlink-escape", needle: "member 'esc/pwned' refused: path goes through the symlink 'esc'"),
        Case(kind: "hardlink-escape", needle: "member 'esc/passwd' refused: path goes through the symlink 'esc'"),
        Case(kind: "absurd-size", needle: ": declared size 4611686018427387904 bytes is out of bounds (0...68719476736)"),
        Case(
            kind: "semantics",
            damage: "f=$(ls -S layout/blobs/sha256/* | head -1); printf X | dd of=$f bs=1 seek=99 conv=notrunc status=none",
            needle: ": digest mismatch: expected sha256:"),
        Case(
            kind: "semantics", damage: "f=$(ls -S layout/blobs/sha256/* | head -1); truncate -s -10 $f",
            needle: ": size mismatch: descriptor says 10240 bytes, blob has 10230 (truncated or tampered)"),
        // A docker archive whose last layer was altered: it no longer hashes to its diff_id.
        Case(
            kind: "semantics", damage: "printf X | dd of=saved.tar bs=1 seek=30000 conv=notrunc status=none",
            reference: "docker-archive:$D/saved.tar", needle: ": digest mismatch: expected sha256:"),
        Case(
            kind: "semantics", damage: "head -c 20000 saved.tar > cut.tar", reference: "docker-archive:$D/cut.tar",
            needle: "cut.tar: read header: truncated input file"),
        Case(kind: "semantics", reference: "oci:$D/layout:nosuchtag", needle: "tag 'nosuchtag' (has latest): not found"),
    ]

    @Test(arguments: cases) func badImagesEndInOneLineAndWriteNothing(_ c: Case) throws {
        let dir = try Self.prepare(c.kind)
        if !c.damage.isEmpty {
            let r = try sh("cd '\(dir.path)' && \(c.damage)")
            try #require(r.status == 0, "\(r.output)")
        }
        try? FileManager.default.removeItem(atPath: "/tmp/pwned")
        let ref = c.reference.replacingOccurrences(of: "$D", with: dir.path)
        let r = try run(
            [stampBinary, "pack", ref, "-o", dir.file("out/node"), "-t", "raw,qcow2", "--layout", "none"],
            environment: ["TMPDIR": dir.file("tmp")])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(c.needle), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned"))
    }
}
