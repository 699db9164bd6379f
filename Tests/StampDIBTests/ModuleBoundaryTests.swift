import Foundation
import StampConfig
import StampTestSupport
import Testing

/// DIB compatibility lives in StampDIB; the element engine (StampElements) keeps elements,
/// resolution, hooks, phases and the chroot, and knows no output format, disk size or layout
/// rule (issue 20). Checked on the package manifest and on the engine's sources.
@Suite struct ModuleBoundaryTests {
    /// A target's `dependencies: [...]` list in Package.swift, as the names it holds: the
    /// list right after the target's `name: "…",` (a product's `name:` has `targets:` instead).
    static func dependencies(of target: String) throws -> [String] {
        let manifest = try String(contentsOfFile: repositoryRoot + "/Package.swift", encoding: .utf8)
        var rest = manifest[...]
        while let found = rest.range(of: "name: \"\(target)\",") {
            rest = rest[found.upperBound...]
            let after = rest.drop { $0 == " " || $0 == "\n" }
            guard after.hasPrefix("dependencies: ["), let close = after.firstIndex(of: "]") else { continue }
            let list = after[after.index(after.startIndex, offsetBy: 15)..<close]
            return list.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        Issue.record("no target \(target) with dependencies in Package.swift")
        return []
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
            "BlockDeviceSelection", "block-device-default.yaml", "block-device-efi", "block-device-mbr", "StandardLayout",
            "import StampDIB",
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
