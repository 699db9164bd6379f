import Foundation
import StampTestSupport
import Testing

/// The repository's documents cite only what the repository holds: every path they name in
/// backticks exists, and none points outside (`../`, a sibling checkout, notes kept elsewhere).
@Suite struct DocsTests {
    /// README.md and every page under docs/.
    static var documents: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/docs")) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    /// Paths in backticks that start with one of the repository's top-level directories.
    static func citedPaths(in text: String) -> [String] {
        let roots = ["docs/", "Sources/", "Tests/", "scripts/", "Benchmarks/", "Elements/", "Fuzz/", "deploy/", ".ci/"]
        var found: [String] = []
        for piece in text.components(separatedBy: "`").enumerated() where piece.offset % 2 == 1 {
            let candidate = piece.element
            guard roots.contains(where: { candidate.hasPrefix($0) }), !candidate.contains(where: \.isWhitespace) else { continue }
            // A glob or a placeholder names a family of files, not one path.
            guard !candidate.contains("*"), !candidate.contains("…"), !candidate.contains("<") else { continue }
            found.append(candidate)
        }
        return found
    }

    @Test func everyCitedPathExists() throws {
        var missing: [String] = []
        for document in Self.documents {
            let text = try String(contentsOfFile: repositoryRoot + "/" + document, encoding: .utf8)
            for path in Self.citedPaths(in: text) {
                let bare = path.split(separator: ":").first.map(String.init) ?? path
                if !FileManager.default.fileExists(atPath: repositoryRoot + "/" + bare) {
                    missing.append("\(document): \(path)")
                }
            }
        }
        #expect(missing.isEmpty, "cited paths that do not exist: \(missing)")
    }

    @Test func nothingOutsideTheRepositoryIsCited() throws {
        var outside: [String] = []
        for document in Self.documents {
            let text = try String(contentsOfFile: repositoryRoot + "/" + document, encoding: .utf8)
            for marker in ["../shared/", "reference/", "DESIGN.md", "/work/"] where text.contains(marker) {
                outside.append("\(document): \(marker)")
            }
        }
        #expect(outside.isEmpty, "documents cite paths outside the repository: \(outside)")
    }

    @Test func theReadmeIsAGuideNotANotebook() throws {
        let size = try FileManager.default.attributesOfItem(atPath: repositoryRoot + "/README.md")[.size] as? Int ?? 0
        #expect(size <= 12 * 1024, "README.md is \(size) bytes; move detail into docs/")
    }
}
