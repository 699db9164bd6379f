import Foundation
import StampTestSupport
import Testing

@testable import StampElements

/// The shell programs of `Sources/StampElements/Shell/`: what the binary carries is the file,
/// byte for byte, and every file passes shellcheck (Debian's `shellcheck`, from
/// scripts/install-deps; without it the check is a recorded skip, which CI fails).
@Suite struct EmbeddedShellTests {
    static let directory = Fixtures.repository.appendingPathComponent("Sources/StampElements/Shell")

    static func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sh") }.sorted()
    }

    @Test func embeddedTextIsTheFile() throws {
        let files = try Self.files()
        #expect(files.count >= 10, "\(files)")
        #expect(Set(EmbeddedShell.all.keys) == Set(files), "embedded \(EmbeddedShell.all.keys.sorted()), files \(files)")
        for name in files {
            let text = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
            #expect(EmbeddedShell.all[name] == text, "\(name): the embedded text differs from the file")
            #expect(text.hasSuffix("\n") && !text.contains("\t"), "\(name): no final newline, or a tab")
        }
    }

    /// The programs stamp writes are these texts (placeholders filled in).
    @Test func writtenProgramsComeFromTheFiles() {
        #expect(StageScript.text == EmbeddedShell.all["stage-driver.sh"])
        #expect(RunParts.runnerScript == EmbeddedShell.all["dib-run-parts.sh"])
        #expect(HostHelpers.sudo == EmbeddedShell.all["helper-sudo.sh"])
        #expect(!HostHelpers.imgDefaults.contains("@STAMP_") && HostHelpers.imgDefaults.contains("cloudimg-rootfs"))
        let functions = HostHelpers.bashFunctions(elements: [("base", "/e/base")])
        #expect(!functions.contains("@STAMP_") && functions.contains("echo '[base]='\\''/e/base'\\'''"), "\(functions)")
    }

    /// shellcheck on every file, at its default severity (style notes included); a file opts out
    /// of a rule only with a `# shellcheck disable=` directive at the line, which says why.
    @Test(.enabled(if: toolAvailable("shellcheck"), "needs shellcheck (Debian package shellcheck)"))
    func shellcheckPasses() throws {
        let paths = try Self.files().map { Self.directory.appendingPathComponent($0).path }
        // -x -P SCRIPTDIR: the files they source (`# shellcheck source=`) are read from beside them.
        let result = try run(["shellcheck", "--norc", "-x", "-P", "SCRIPTDIR", "--format=gcc"] + paths)
        #expect(result.status == 0, "shellcheck:\n\(result.output)")
        // Our own parse of its answer: gcc format is `FILE:LINE:COL: LEVEL: TEXT [SCnnnn]`.
        let findings = result.stdout.split(separator: "\n").filter { $0.contains(": error:") || $0.contains(": warning:") }
        #expect(findings.isEmpty, "\(findings.joined(separator: "\n"))")
    }
}
