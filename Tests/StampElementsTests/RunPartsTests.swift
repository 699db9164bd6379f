import Foundation
import Testing
@testable import StampElements

@Suite struct RunPartsTests {
    static let directory = Fixtures.elements.appendingPathComponent("runparts/install.d")
    /// `sort -n`: no number counts as 0; 9 before 10; ties byte-wise; dots, non-executables skipped;
    /// symbolic links to files count.
    static let expected = ["a-nonum", "9-a", "10-a", "10-b", "30_under", "40-link", "100-z"]

    @Test func nameRules() {
        #expect(RunParts.isRunnableName("10-foo_bar"))
        #expect(!RunParts.isRunnableName("10-foo.sh"))
        #expect(!RunParts.isRunnableName("10 foo"))
        #expect(RunParts.isEnvironmentName("10-foo.bash"))
    }

    @Test func swiftOrder() {
        #expect(RunParts.scripts(in: Self.directory) == Self.expected)
        #expect(RunParts.order(["2", "10", "1-b", "1-a", "-1x"]) == ["-1x", "1-a", "1-b", "2", "10"])
    }

    /// The shell runner (what really runs) and the Swift description agree.
    @Test func shellRunnerListsTheSame() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = dir.appendingPathComponent("dib-run-parts")
        try RunParts.runnerScript.write(to: runner, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [runner.path, "--list", Self.directory.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(output.split(separator: "\n").map(String.init) == Self.expected)
    }

    @Test func breakPoints() {
        let (points, problems) = BreakPoint.parseList("before-install,after-root.d,after-error,bogus")
        #expect(points == [.before(.install), .after(.root), .afterError])
        #expect(problems == [.unknownBreakPoint("bogus")])
    }

    @Test func phaseTable() {
        #expect(
            Phase.allCases.map(\.directory) == [
                "root.d", "extra-data.d", "pre-install.d", "install.d", "post-install.d", "post-root.d",
                "block-device.d", "pre-finalise.d", "finalise.d", "cleanup.d",
            ])
        #expect(Phase.allCases.filter(\.runsInChroot) == [.preInstall, .install, .postInstall, .finalise])
        #expect(Phase.allCases.filter(\.hasTargetRoot) == [.root, .cleanup])
        #expect(Phase.allCases.filter(\.hasImageSize) == [.blockDevice, .preFinalise, .finalise, .cleanup])
    }
}

@Suite struct PackageInstallsTests {
    @Test func parseRules() throws {
        let yaml = """
            plain:
            only-amd64:
              arch: amd64
            not-on-amd64:
              not-arch: amd64
            early:
              phase: pre-install.d
            gone:
              uninstall: True
            temporary:
              build-only: True
            conditional:
              when:
                - DIB_BLOCK_DEVICE = efi
                - DISTRO_NAME != ubuntu
            other-type:
              installtype: package
            """
        let entries = try PackageInstalls.parse(yaml, element: "e", arch: "amd64", installType: "source")
        let summary = entries.map { "\($0.phase) \($0.uninstall ? "-" : "+")\($0.package) \($0.when.joined(separator: ";"))" }
        #expect(
            summary == [
                "install.d +conditional DIB_BLOCK_DEVICE = efi;DISTRO_NAME != ubuntu",
                "pre-install.d +early ",
                "install.d -gone ",
                "install.d +only-amd64 ",
                "install.d +plain ",
                "install.d +temporary ",
                "post-install.d -temporary ",
            ])
    }

    @Test func badFilesAreReported() throws {
        #expect(throws: (any Error).self) {
            try PackageInstalls.parse("- a list", element: "e", arch: "amd64", installType: "source")
        }
        #expect(throws: (any Error).self) {
            try PackageInstalls.parse("p:\n  phase: nowhere.d\n", element: "e", arch: "amd64", installType: "source")
        }
    }

    @Test func pkgMapFlattens() throws {
        let json =
            #"{"family": {"debian": {"grub": "grub-pc"}}, "default": {"grub": "grub2"}, "release": {"ubuntu": {"noble": {"grub": ""}}}}"#
        #expect(
            try PackageInstalls.flattenPkgMap(Data(json.utf8)) == [
                "release\tubuntu/noble\tgrub\t", "family\tdebian\tgrub\tgrub-pc", "default\t-\tgrub\tgrub2",
            ])
    }
}
