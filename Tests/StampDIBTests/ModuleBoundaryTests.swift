import Foundation
import StampConfig
import StampTestSupport
import Testing

/// DIB compatibility lives in StampDIB; the element engine (StampElements) keeps elements,
/// resolution, hooks, phases and the chroot, and knows no output format, disk size or layout
/// rule (issue 20). Checked on the package manifest and on the engine's sources.
@Suite struct ModuleBoundaryTests {
    /// A target's `dependencies: [...]` list in Package.swift, as the names it holds.
    static func dependencies(of target: String) throws -> [String] {
        let manifest = try String(contentsOfFile: repositoryRoot + "/Package.swift", encoding: .utf8)
        let start = try #require(manifest.range(of: "name: \"\(target)\""), "no target \(target) in Package.swift")
        let rest = manifest[start.upperBound...]
        let open = try #require(rest.range(of: "dependencies: ["))
        let close = try #require(rest[open.upperBound...].range(of: "]"))
        let list = rest[open.upperBound..<close.lowerBound]
        return list.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    static func sources(of module: String) throws -> [(name: String, text: String)] {
        let directory = repositoryRoot + "/Sources/" + module
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".swift") }.sorted().map {
            ($0, try String(contentsOfFile: directory + "/" + $0, encoding: .utf8))
        }
    }

    @Test func stampDIBSitsBetweenTheElementEngineAndThePipeline() throws {
        #expect(try !Self.dependencies(of: "StampElements").contains("StampDIB"))
        #expect(try !Self.dependencies(of: "StampElements").contains("StampDisk"))
        #expect(try Self.dependencies(of: "StampDIB").contains("StampElements"))
        #expect(try Self.dependencies(of: "StampPipeline").contains("StampDIB"))
        #expect(try !Self.dependencies(of: "StampDIB").contains("StampPipeline"))
    }

    /// No DIB format name, disk-size rule or layout rule in the engine: no format list, no
    /// format name as a literal, no size variable read, no block-device selection.
    @Test func theElementEngineHoldsNoFormatSizeOrLayoutRule() throws {
        let sources = try Self.sources(of: "StampElements")
        #expect(!sources.isEmpty)
        var words = [
            "OutputFormats", "supportedFormats", "outputPath(for", "checksumAlgorithms", "qemuImg", "QEMU_IMG_OPTIONS",
            "ImageSizeInputs", "DIB_IMAGE_EXTRA_SIZE", "DIB_JOURNAL_SIZE", "MAX_ONLINE_RESIZE", "DIB_MKFS_OPTS",
            "BlockDeviceSelection", "block-device-default.yaml", "block-device-efi", "block-device-mbr", "StandardLayout", "import StampDIB",
            "import StampDisk", "DIBCommandLine", "DIBBuildRequest",
        ]
        words += OutputFormats.names.map { "\"\($0)\"" }  // a format name as a Swift string literal
        for (name, text) in sources {
            // Doc comments may name what lives elsewhere; code may not.
            let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
                .joined(separator: "\n")
            for word in words {
                #expect(!code.contains(word), "Sources/StampElements/\(name) holds \(word)")
            }
        }
    }
}
