import Foundation
import Testing

import StampOCI
import StampTestSupport
import StampTree

/// The tree model built straight from the layers (``LayerTree``), against the directory the
/// same layers are applied to (``ImageSource/apply(_:files:into:log:)``, itself held to
/// `umoci unpack` by UnpackTests) read back with ``TreeScanner``: entry by entry, every file's
/// data read from the compressed blobs. Hostile layers are refused with the applier's words.
/// Root: the fixtures carry owners and device nodes.
@Suite(.enabled(if: isRoot && toolAvailable("python3") && toolAvailable("zstd")))
struct LayerTreeTests {
    /// The fixture `kind` resolved: its source, image, and verified layer files.
    static func layers(_ dir: TemporaryDirectory, _ kind: String, _ extra: [String] = []) throws -> (
        ImageSource, ResolvedImage, [String]
    ) {
        let (layout, _) = try UnpackTests.fixture(dir, "layout", kind, extra)
        let source = ImageSource(reference: try ImageReference(parsing: "oci:\(layout)"), scratch: dir.path)
        let image = try source.resolve()
        return (source, image, try source.fetchLayers(image))
    }

    static func model(_ image: ResolvedImage, _ files: [String], limit: UInt64 = 1 << 30) throws -> RootTree {
        let names = image.manifest.layers.enumerated().map { "layer \($0.offset) \($0.element.digest)" }
        return try LayerTree.build(
            files: files, names: names, budget: ExpansionBudget(limit: limit), rootTime: Timestamp(seconds: 0),
            treeName: "test")
    }

    /// One line per entry: path, kind, mode, owner, size, ns mtime, device, target, xattrs
    /// (POSIX ACLs left out: the applier drops them), the index of its inode's first name.
    static func lines(_ tree: RootTree) -> [String: String] {
        var out: [String: String] = [:]
        var first: [Int: String] = [:]
        for i in tree.entries.indices.dropFirst() {
            let owner = Int(tree.entries[i].hardLinkOf ?? Int32(i))
            let e = tree.entries[owner]  // a later name of a hard link reads its inode's metadata there
            let xattrs = e.xattrs.filter { !$0.nameString.hasPrefix("system.posix_acl") }
                .map { "\($0.nameString)=\($0.value)" }.sorted()
            let inode = e.kind == .directory ? "" : (first[owner] ?? tree.path(of: i))
            if e.kind != .directory && first[owner] == nil { first[owner] = tree.path(of: i) }
            out[tree.path(of: i)] =
                "\(e.kind) \(String(e.mode, radix: 8)) \(e.uid):\(e.gid) \(e.kind == .directory ? 0 : e.size) "
                + "\(e.modificationTime.seconds).\(e.modificationTime.nanoseconds) \(e.deviceMajor),\(e.deviceMinor) "
                + "\(String(decoding: e.symlinkTarget ?? [], as: UTF8.self)) \(xattrs) \(e.kind == .regular ? inode : "")"
        }
        return out
    }

    /// `semantics --zstd`: the middle layer zstd (libarchive's filter reads it, in both passes).
    @Test(arguments: ["semantics", "semantics --zstd", "model"]) func theModelIsTheAppliedTree(_ fixture: String) throws {
        let dir = try TemporaryDirectory("oci-model")
        let words = fixture.split(separator: " ").map(String.init)
        let kind = words[0]
        let (source, image, files) = try Self.layers(dir, kind, Array(words.dropFirst()))
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        try source.apply(image, files: files, into: root)
        let scanned = try TreeScanner().scan(root)
        let model = try Self.model(image, files)
        let a = Self.lines(model)
        let b = Self.lines(scanned)
        #expect(a.count > 20)
        // Hard-link groups are named by the first name each tree lists: compare the groups.
        func groups(_ t: RootTree) -> Set<[String]> {
            var byOwner: [Int: [String]] = [:]
            for i in t.entries.indices where t.entries[i].kind == .regular {
                byOwner[Int(t.entries[i].hardLinkOf ?? Int32(i)), default: []].append(t.path(of: i))
            }
            return Set(byOwner.values.map { $0.sorted() })
        }
        #expect(groups(model) == groups(scanned))
        func strip(_ l: [String: String]) -> [String: String] {
            l.mapValues { String($0.split(separator: " ").dropLast().joined(separator: " ")) }
        }
        let diff = Set(strip(a).map { "\($0.key) \($0.value)" }).symmetricDifference(strip(b).map { "\($0.key) \($0.value)" })
        #expect(diff.isEmpty, "\(diff.sorted())")
        // Every file's data, read from the blobs in the model's order and then backwards
        // (each read out of order reopens its layer), is the applied file's.
        let regular = model.entries.indices.filter { model.entries[$0].kind == .regular }
        for i in regular + regular.reversed() {
            let path = model.path(of: i)
            let data = try model.readData(of: i, limit: 16 << 20)
            let disk = try #require(FileManager.default.contents(atPath: root + path))
            #expect(data == [UInt8](disk), "\(path)")
        }
        if kind == "model" {
            let journal = try #require(model.lookup("/var/log/journal"))
            #expect(
                model.entries[journal].xattrs.map(\.nameString).sorted() == [
                    "system.posix_acl_access", "system.posix_acl_default",
                ])
            let link = try #require(model.lookup("/base/link"))
            #expect(model.entries[link].linkCount == 2 && model.lookup("/base/target") == nil)
            #expect(model.entries[try #require(model.lookup("/devs/sda"))].kind == .blockDevice)
        }
    }

    @Test(arguments: [
        ("traversal", "member '../escaped' refused: path traversal ('..')"),
        ("absolute", "member '/escaped' refused: absolute path"),
        ("symlink-escape", "member 'esc/pwned' refused: path goes through the symlink 'esc'"),
        ("hardlink-escape", "member 'esc/passwd' refused: path goes through the symlink 'esc'"),
        ("gzip-corrupt", ": decompress: corrupt compressed data: "),
        ("gzip-truncated", ": decompress: compressed data ends before its stream does"),
        ("gzip-not-tar", ": open: unrecognized archive format"),
        ("gzip-traversal", "member '../escaped' refused: path traversal ('..')"),
        ("whiteout-dotdot", "member '.wh...' refused: a whiteout that names no entry ('..')"),
        ("whiteout-empty", "member 'keep/.wh.' refused: a whiteout that names no entry ('')"),
        ("deep", "nested deeper than 1024 directories"),
        ("zstd-bomb", "expands past the limit of 64 MiB"),
    ])
    func hostileLayersAreRefused(_ kind: String, _ needle: String) throws {
        let dir = try TemporaryDirectory("oci-model-hostile")
        let (_, image, files) = try Self.layers(dir, kind)
        #expect {
            _ = try Self.model(image, files, limit: 64 << 20)
        } throws: { error in
            "\(error)".contains(needle) && !"\(error)".contains("\n")
        }
    }

    /// A blob that changes between the metadata pass and the data pass (an OCI layout is the
    /// user's directory) is never read as if it were the same: the read fails naming the file.
    @Test func aBlobChangedAfterTheMetadataPassIsNotRead() throws {
        let dir = try TemporaryDirectory("oci-model-changed")
        let (_, image, files) = try Self.layers(dir, "model")
        let model = try Self.model(image, files)
        let big = try #require(model.lookup("/big/first"))
        // Damaged in place, its size and mtime put back: the same file to stat, so the data
        // pass reads it, and the inflater finds the damage.
        let damage = try sh(
            "f='\(files[0])'; t=$(stat -c %y \"$f\"); printf 'XXXXXXXX' | dd of=\"$f\" bs=1 seek=3000 conv=notrunc status=none; touch -d \"$t\" \"$f\""
        )
        try #require(damage.status == 0, "\(damage.output)")
        #expect {
            _ = try model.readData(of: big, limit: 16 << 20)
        } throws: { error in
            "\(error)".hasPrefix("/big/first: reading it from layer 0 sha256:") && !"\(error)".contains("\n")
        }
        // Cut short (another size): not read at all.
        let cut = try sh("truncate -s 4096 '\(files[0])'")
        try #require(cut.status == 0)
        #expect {
            _ = try model.readData(of: big, limit: 16 << 20)
        } throws: { error in
            "\(error)".hasPrefix("/big/first: layer 0 sha256:")
                && "\(error)".hasSuffix("changed after its metadata was read (not read)")
        }
    }

    /// A `docker save` archive stores its layers as plain tars: they are staged gzip-compressed
    /// (nothing of the image lands uncompressed in the scratch directory), still verified
    /// against the config's diff_ids, and give the layout's model.
    @Test func aDockerArchivesPlainLayersAreStagedCompressed() throws {
        let dir = try TemporaryDirectory("oci-model-archive")
        let (_, image, files) = try Self.layers(dir, "model", ["--docker-archive", dir.file("saved.tar")])
        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let source = ImageSource(
            reference: try ImageReference(parsing: "docker-archive:\(dir.file("saved.tar"))"), scratch: scratch)
        let archived = try source.resolve()
        let staged = try source.fetchLayers(archived)
        #expect(staged.count == 4)
        for file in staged {
            #expect(file.hasPrefix(scratch + "/"))
            let head = try #require(FileHandle(forReadingAtPath: file)?.readData(ofLength: 2))
            #expect([UInt8](head) == [0x1f, 0x8b], "\(file) is not gzip")
        }
        // The plain tar layer (layer 2) is much smaller staged than stored: it was compressed.
        let stored = try #require(archived.manifest.layers[2].size as Int64?)
        let stagedSize = try #require(try FileManager.default.attributesOfItem(atPath: staged[2])[.size] as? Int64)
        #expect(stagedSize < stored, "\(stagedSize) >= \(stored)")
        #expect(Self.lines(try Self.model(archived, staged)) == Self.lines(try Self.model(image, files)))
    }
}
