import Foundation
import Testing

import StampOCI
import StampTestSupport

/// Decompression bombs and oversized declarations (issue 18, item 7), from
/// Tests/tools/oci/oci_fixture.py: refused in one line naming the layer and the limit,
/// before the bytes are written; a docker archive's unreferenced member is never staged.
@Suite(.enabled(if: toolAvailable("python3") && toolAvailable("zstd")))
struct ExpansionLimitTests {
    /// A zstd layer of a few KB that expands to 96 MiB, with a 64 MiB limit: measuring it
    /// and applying it both stop at the limit; nothing of it is written.
    @Test func aZstdBombStopsAtTheLimit() throws {
        let dir = try TemporaryDirectory("oci-bomb")
        let (layout, _) = try UnpackTests.fixture(dir, "layout", "zstd-bomb")
        let source = ImageSource(reference: try ImageReference(parsing: "oci:\(layout)"), scratch: dir.path)
        source.maxExpandedBytes = 64 << 20
        let image = try source.resolve()
        #expect(image.manifest.layers[0].size < 64 << 10, "the fixture is not a bomb: \(image.manifest.layers[0].size) bytes")
        let files = try source.fetchLayers(image)
        let needle = "layer 0 \(image.manifest.layers[0].digest): expands past the limit of 64 MiB on expanded image bytes"
        #expect {
            _ = try source.expandedSize(image, files: files)
        } throws: { "\($0)".contains(needle) }
        try FileManager.default.createDirectory(atPath: dir.file("root"), withIntermediateDirectories: false)
        #expect {
            try source.apply(image, files: files, into: dir.file("root"))
        } throws: { "\($0)".contains(needle) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("root/zeros")))
        // Under the default limit it unpacks, and measures what it is.
        source.maxExpandedBytes = ExpansionBudget.defaultLimit
        #expect(try source.expandedSize(image, files: files) == (96 << 20) + 512)
    }

    /// A manifest that declares a layer over the limit is refused before the blob is read
    /// (not with a size mismatch after reading it).
    @Test func aDeclaredSizeOverTheLimitIsRefusedBeforeReading() throws {
        let dir = try TemporaryDirectory("oci-declared")
        let (layout, _) = try UnpackTests.fixture(dir, "layout", "semantics", ["--declare-size", String(2 << 30)])
        let source = ImageSource(reference: try ImageReference(parsing: "oci:\(layout)"), scratch: dir.path)
        source.maxExpandedBytes = 1 << 30
        let image = try source.resolve()
        #expect {
            _ = try source.fetchLayers(image)
        } throws: {
            "\($0)".contains(
                "layer 0 \(image.manifest.layers[0].digest): declared size 2147483648 bytes (2147483648 with the layers below it) exceeds the limit of 1 GiB"
            )
        }
    }

    /// `docker save` output with a 64 MiB member nothing references: only the config and
    /// the layers are staged.
    @Test func aDockerArchiveStagesOnlyWhatItsManifestReferences() throws {
        let dir = try TemporaryDirectory("oci-junk")
        _ = try UnpackTests.fixture(
            dir, "layout", "semantics", ["--docker-archive", dir.file("saved.tar"), "--junk-member", String(64 << 20)])
        let staging = dir.file("staging")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        let source = ImageSource(
            reference: try ImageReference(parsing: "docker-archive:\(dir.file("saved.tar"))"), scratch: staging)
        let image = try source.resolve()
        let staged = try FileManager.default.contentsOfDirectory(atPath: staging)
        #expect(staged.count == 1 + image.manifest.layers.count, "staged: \(staged)")
        let sizes = try staged.map { try FileManager.default.attributesOfItem(atPath: staging + "/" + $0)[.size] as? UInt64 ?? 0 }
        #expect(sizes.allSatisfy { $0 < 1 << 20 }, "\(sizes)")
    }
}
