import Foundation
import Testing
@testable import StampElements

/// Lints every shipped element (the rules of DIB's dib-lint that matter to us).
@Suite struct BuiltinElementsTests {
    static let header = """
        if [ ${DIB_DEBUG_TRACE:-0} -gt 0 ]; then set -x; fi
        set -eu
        set -o pipefail
        """
    static let required = [
        "base", "debian-minimal", "ubuntu-minimal", "vm", "block-device-mbr", "block-device-gpt", "block-device-efi",
        "bootloader", "package-installs", "pkg-map", "install-static", "cloud-init", "cloud-init-datasources",
        "openssh-server", "devuser", "growroot", "dhcp-all-interfaces", "open-vm-tools", "manifests", "cache-url",
    ]

    /// Every script in a phase directory or `bin/`.
    static func scripts() throws -> [URL] {
        let fm = FileManager.default
        var result: [URL] = []
        for element in try fm.contentsOfDirectory(atPath: Fixtures.builtin.path) {
            let dir = Fixtures.builtin.appendingPathComponent(element)
            for sub in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            where (sub.hasSuffix(".d") && sub != "environment.d") || sub == "bin" {
                for name in try fm.contentsOfDirectory(atPath: dir.appendingPathComponent(sub).path) {
                    result.append(dir.appendingPathComponent(sub).appendingPathComponent(name))
                }
            }
        }
        return result.sorted { $0.path < $1.path }
    }

    @Test func requiredElementsExistWithReadme() throws {
        let index = try ElementIndex(elementsPath: nil, builtinDirectory: Fixtures.builtin)
        for name in Self.required {
            #expect(index.elements[name] != nil, "missing element \(name)")
        }
        for (name, element) in index.elements {
            #expect(
                FileManager.default.fileExists(atPath: element.path.appendingPathComponent("README.rst").path),
                "\(name) has no README.rst")
            for dep in element.dependencies {
                #expect(index.elements[dep] != nil || dep == "block-device", "\(name) depends on unknown \(dep)")
            }
            #expect(element.dependencies == element.dependencies.sorted(), "\(name): element-deps not sorted")
        }
    }

    @Test func everyScriptHasShebangHeaderAndExecutableBit() throws {
        let scripts = try Self.scripts()
        #expect(scripts.count > 30)
        for script in scripts {
            let text = try String(contentsOf: script, encoding: .utf8)
            let name = script.path.replacingOccurrences(of: Fixtures.builtin.path + "/", with: "")
            #expect(FileManager.default.isExecutableFile(atPath: script.path), "\(name) is not executable")
            #expect(text.hasPrefix("#!/bin/bash\n"), "\(name) lacks #!/bin/bash")
            #expect(text.contains(Self.header), "\(name) lacks the standard header")
            #expect(!text.contains("\t"), "\(name) contains a tab")
            #expect(text.hasSuffix("\n"), "\(name) lacks a final newline")
            #expect(
                RunParts.isRunnableName(script.lastPathComponent)
                    || script.deletingLastPathComponent().lastPathComponent == "bin",
                "\(name): dib-run-parts would skip this name")
        }
    }

    @Test func scriptsParseWithBash() throws {
        for script in try Self.scripts() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-n", script.path]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "bash -n \(script.path)")
        }
    }

    @Test func packageFilesParse() throws {
        let index = try ElementIndex(elementsPath: nil, builtinDirectory: Fixtures.builtin)
        let packages = try PackageInstalls(elements: Array(index.elements.values), arch: "amd64", installType: "source")
        #expect(packages.entries.contains { $0.package == "linux-image-amd64" && $0.element == "debian-minimal" })
        #expect(!packages.entries.contains { $0.package == "linux-image-arm64" })
    }
}
