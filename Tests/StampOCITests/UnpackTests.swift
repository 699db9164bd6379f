import Foundation
import Testing

import StampOCI
import StampTestSupport

/// Images crafted by Tests/tools/oci/oci_fixture.py (Python's tarfile, independent of
/// stamp), unpacked by ``ImageSource`` and compared with `umoci unpack` of the same layout,
/// and hostile or damaged images refused with the error naming the culprit. Root: the layers
/// carry owners, a device node and `security.capability`.
@Suite(.enabled(if: isRoot && toolAvailable("python3") && toolAvailable("zstd")))
struct UnpackTests {
    static let script = repositoryRoot + "/Tests/tools/oci/oci_fixture.py"

    /// Writes a fixture layout into `dir/name`; returns its path and the manifest digest printed.
    static func fixture(_ dir: TemporaryDirectory, _ name: String, _ kind: String, _ extra: [String] = []) throws -> (
        String, String
    ) {
        let layout = dir.file(name)
        let r = try run(["python3", script, layout, kind] + extra)
        try #require(r.status == 0, "\(r.output)")
        return (layout, r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Resolves and unpacks `reference` into `dir/name`, returning the root and the image.
    @discardableResult
    static func unpack(_ reference: String, _ dir: TemporaryDirectory, _ name: String) throws -> (String, ResolvedImage) {
        let root = dir.file(name)
        let scratch = dir.file(name + ".scratch")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let source = ImageSource(reference: try ImageReference(parsing: reference), scratch: scratch)
        let image = try source.resolve()
        try source.unpack(image, into: root)
        return (root, image)
    }

    /// Every entry of a tree as one line: type, mode, owner, size, link count, mtime (ns),
    /// symlink target, xattrs and content hash; atimes are left out (umoci sets them to now).
    static func listing(_ root: String) throws -> [String] {
        let r = try sh(
            """
            cd '\(root)' && find . -mindepth 1 -printf '%p %y %m %U:%G %s %n %T@ %l\\n' | sort
            find . -type f -exec sha256sum {} + | sort -k2
            getfattr -R -h -d -m - -e hex . 2>/dev/null
            """)
        try #require(r.status == 0, "\(r.output)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// "gzip-members" writes each gzip layer as two gzip members (pigz, `cat a.gz b.gz`).
    @Test(arguments: ["semantics", "gzip-members"]) func layersMatchUmociUnpack(_ kind: String) throws {
        try #require(toolAvailable("umoci"), "umoci (Debian package) is needed")
        let dir = try TemporaryDirectory("oci-umoci")
        let (layout, digest) = try Self.fixture(dir, "layout", kind)
        let r = try sh("cd '\(dir.path)' && umoci unpack --image layout:latest bundle")
        try #require(r.status == 0, "\(r.output)")
        let (root, image) = try Self.unpack("oci:\(layout):latest", dir, "ours")
        #expect(image.manifestDigest.description == digest)
        let theirs = try Self.listing(dir.file("bundle/rootfs"))
        let ours = try Self.listing(root)
        #expect(
            ours.count == theirs.count && Set(ours) == Set(theirs),
            "differs from umoci: \(Set(ours).symmetricDifference(theirs).sorted())")
        // Spot checks that the fixture did what it says (so equality above is not vacuous).
        #expect(ours.contains { $0.hasPrefix("./data/cross f 640 1000:1000 22 3 1700000000.0") })
        #expect(ours.contains { $0.hasPrefix("./repl f 600 ") })
        #expect(ours.contains { $0.hasPrefix("./file2dir/inside f ") })
        #expect(ours.contains { $0 == "security.capability=0x0100000200200000000000000000000000000000" })
        #expect(!ours.contains { $0.hasPrefix("./gone") || $0.hasPrefix("./opq/old1") || $0.hasPrefix("./opq/sub") })
        #expect(!ours.contains { $0.hasPrefix("./etc/removed") })
        #expect(ours.contains { $0.hasPrefix("./etc d 755 0:0 4096 2 1700000022.2200000000") })
    }

    @Test func zstdLayersAndDockerArchivesGiveTheSameTree() throws {
        let dir = try TemporaryDirectory("oci-formats")
        let (gzip, _) = try Self.fixture(dir, "gzip", "semantics", ["--docker-archive", dir.file("saved.tar")])
        let (zstd, _) = try Self.fixture(dir, "zstd", "semantics", ["--zstd"])
        let a = try Self.listing(try Self.unpack("oci:\(gzip)", dir, "a").0)
        let b = try Self.listing(try Self.unpack("oci:\(zstd)", dir, "b").0)
        let (c, archived) = try Self.unpack("docker-archive:\(dir.file("saved.tar"))", dir, "c")
        #expect(a.count > 40)
        #expect(a == b, "zstd: \(Set(a).symmetricDifference(b).sorted())")
        let archive = try Self.listing(c)
        #expect(a == archive, "docker-archive: \(Set(a).symmetricDifference(archive).sorted())")
        #expect(archived.config.env == ["PATH=/usr/sbin:/usr/bin", "STAMP_FIXTURE=1"])
        #expect(archived.config.labels == ["org.example.role": "node"])
    }

    @Test func indexesChooseTheAMD64Manifest() throws {
        let dir = try TemporaryDirectory("oci-index")
        let (layout, digest) = try Self.fixture(dir, "layout", "semantics", ["--index", "--tag", "v2"])
        let (_, image) = try Self.unpack("oci:\(layout):v2", dir, "root")
        #expect(image.manifestDigest.description == digest)
        #expect(throws: OCIError.self) { try Self.unpack("oci:\(layout):v3", dir, "missing") }
    }

    /// One damaged or hostile image: the error's text, and nothing written outside the root.
    struct Hostile: Sendable, CustomTestStringConvertible {
        var kind: String
        /// bash run in the layout directory after it is written ($M: manifest blob).
        var damage = ""
        var needle: String
        var testDescription: String { kind + (damage.isEmpty ? "" : " + " + damage) }
    }

    static let hostile: [Hostile] = [
        Hostile(kind: "traversal", needle: "member '../escaped' refused: path traversal ('..')"),
        Hostile(kind: "absolute", needle: "member '/escaped' refused: absolute path"),
        Hostile(kind: "symlink-escape", needle: "member 'esc/pwned' refused: path goes through the symlink 'esc'"),
        Hostile(kind: "hardlink-escape", needle: "member 'esc/passwd' refused: path goes through the symlink 'esc'"),
        Hostile(kind: "absurd-size", needle: "declared size 4611686018427387904 bytes is out of bounds"),
        // A byte flipped in the biggest layer blob: same size, other digest.
        Hostile(
            kind: "semantics",
            damage: "f=$(ls -S blobs/sha256/* | head -1); printf 'X' | dd of=$f bs=1 seek=100 conv=notrunc status=none",
            needle: "digest mismatch: expected sha256:"),
        Hostile(
            kind: "semantics", damage: "f=$(ls -S blobs/sha256/* | head -1); truncate -s -10 $f",
            needle: "size mismatch: descriptor says 10240 bytes, blob has 10230 (truncated or tampered)"),
        Hostile(
            kind: "semantics", damage: "rm $(ls -S blobs/sha256/* | head -1)", needle: "not found"),
        // Damaged gzip whose digest is the damaged blob's: the inflate finds it.
        Hostile(kind: "gzip-corrupt", needle: ": decompress: corrupt compressed data: "),
        Hostile(kind: "gzip-truncated", needle: ": decompress: compressed data ends before its stream does"),
        Hostile(
            kind: "gzip-trailing",
            needle: ": decompress: corrupt compressed data: bytes after a gzip member are not a gzip header"),
        // Stopped early, with the inflating thread mid-stream: one line, no trap.
        Hostile(kind: "gzip-not-tar", needle: ": open: unrecognized archive format"),
        Hostile(kind: "gzip-traversal", needle: "member '../escaped' refused: path traversal ('..')"),
        // Whiteouts whose hidden name is "..", "." or empty: removing it would reach the
        // root's parent, the root itself, or get past the check that spares the layer's own.
        Hostile(kind: "whiteout-dotdot", needle: "member '.wh...' refused: a whiteout that names no entry ('..')"),
        Hostile(kind: "whiteout-dot", needle: "member '.wh..' refused: a whiteout that names no entry ('.')"),
        Hostile(kind: "whiteout-empty", needle: "member 'keep/.wh.' refused: a whiteout that names no entry ('')"),
    ]

    @Test(arguments: hostile) func hostileImagesAreRefused(_ c: Hostile) throws {
        let dir = try TemporaryDirectory("oci-hostile")
        let (layout, _) = try Self.fixture(dir, "layout", c.kind)
        if !c.damage.isEmpty {
            let r = try sh("cd '\(layout)' && \(c.damage)")
            try #require(r.status == 0, "\(r.output)")
        }
        let marker = "/tmp/pwned"
        try? FileManager.default.removeItem(atPath: marker)
        do {
            try Self.unpack("oci:\(layout)", dir, "root")
            Issue.record("\(c.kind) was accepted")
        } catch let error as OCIError {
            #expect(error.description.contains(c.needle), "\(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("escaped")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("root/escaped")))
        #expect(!FileManager.default.fileExists(atPath: marker))
        // Nothing beside the root was touched (the layout is its sibling), and a refused
        // whiteout removed nothing of the layer below.
        #expect(FileManager.default.fileExists(atPath: layout + "/index.json"))
        if c.kind.hasPrefix("whiteout-") {
            #expect(FileManager.default.fileExists(atPath: dir.file("root/keep/f")))
        }
    }

    /// An opaque marker in a directory no layer made hides nothing and creates nothing.
    @Test func anOpaqueMarkerForAMissingDirectoryIsANoOp() throws {
        let dir = try TemporaryDirectory("oci-opaque-missing")
        let (layout, _) = try Self.fixture(dir, "layout", "opaque-missing")
        let (root, _) = try Self.unpack("oci:\(layout)", dir, "root")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["f"])
    }

    /// A damaged blob anywhere stops the unpack before the first layer is applied.
    @Test func aBadLastLayerLeavesTheRootEmpty() throws {
        let dir = try TemporaryDirectory("oci-last")
        let (layout, _) = try Self.fixture(dir, "layout", "semantics")
        // The plain-tar layer (10240 bytes) is the last one.
        let r = try sh(
            "cd '\(layout)' && f=$(ls -S blobs/sha256/* | head -1); printf 'X' | dd of=$f bs=1 seek=600 conv=notrunc status=none")
        try #require(r.status == 0)
        #expect(throws: OCIError.self) { try Self.unpack("oci:\(layout)", dir, "root") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("root")).isEmpty)
    }
}
