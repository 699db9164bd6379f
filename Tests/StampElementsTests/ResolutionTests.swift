import Foundation
import StampDIB
import Testing
@testable import StampElements

@Suite struct ResolutionTests {
    let index: ElementIndex

    init() throws {
        index = try ElementIndex(elementsPath: Fixtures.elements.path, builtinDirectory: Fixtures.builtin)
    }

    @Test func unknownElementNamesWhoNeededIt() throws {
        let error = #expect(throws: ElementProblems.self) {
            try ElementResolution(requested: ["fake-os", "needs-missing"], index: index)
        }
        #expect(error?.problems == [.elementNotFound(name: "does-not-exist", requiredBy: "needs-missing")])
        #expect(error?.description == "element 'does-not-exist' not found (required by 'needs-missing')")
    }

    @Test func twoProvidersOfOneName() throws {
        let error = #expect(throws: ElementProblems.self) {
            try ElementResolution(requested: ["fake-os", "provider-a", "provider-b"], index: index)
        }
        #expect(error?.problems == [.providedTwice(name: "thing", providers: ["provider-a", "provider-b"])])
    }

    @Test func requestedElementAlreadyProvided() throws {
        let error = #expect(throws: ElementProblems.self) {
            try ElementResolution(requested: ["fake-os", "block-device-mbr", "block-device"], index: index)
        }
        #expect(error?.problems == [.requestedButProvided(name: "block-device", provider: "block-device-mbr")])
    }

    @Test func operatingSystemIsRequired() throws {
        let error = #expect(throws: ElementProblems.self) { try ElementResolution(requested: ["probe"], index: index) }
        #expect(error?.problems == [.noOperatingSystem])
        #expect(error?.description.hasPrefix("please include an operating system element") == true)
    }

    @Test func everyProblemIsReportedTogether() throws {
        let error = #expect(throws: ElementProblems.self) {
            try ElementResolution(requested: ["nope", "provider-a", "provider-b", "needs-missing"], index: index)
        }
        #expect(error?.problems.count == 3)
        #expect(error?.description.hasPrefix("3 problems: ") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func virtualElementSatisfiedByProvider() throws {
        let resolution = try ElementResolution(
            requested: ["fake-os", "block-device-efi", "wants-thing", "provider-a"], index: index)
        let names = resolution.elements.map(\.name)
        #expect(names.contains("provider-a") && !names.contains("thing"))
        #expect(resolution.providers["operating-system"] == "fake-os")
        #expect(resolution.providers["block-device"] == "block-device-efi")
    }

    @Test func builtinDebianVMExpands() throws {
        let requested = ElementResolution.implicitElements(["debian-minimal", "vm"], skipBase: false, arch: "amd64")
        #expect(requested == ["base", "debian-minimal", "vm", "block-device-mbr"])
        let resolution = try ElementResolution(requested: requested, index: index)
        #expect(
            Set(resolution.elements.map(\.name)) == [
                "base", "debian-minimal", "vm", "block-device-mbr", "package-installs", "pkg-map", "debootstrap",
                "bootloader", "dpkg", "manifests",
            ])
        #expect(
            ElementResolution.implicitElements(["ubuntu-minimal", "vm"], skipBase: true, arch: "arm64")
                == ["ubuntu-minimal", "vm", "block-device-efi"])
        #expect(
            ElementResolution.implicitElements(["x", "vm", "block-device-gpt"], skipBase: true, arch: "amd64")
                == ["x", "vm", "block-device-gpt"])
    }

    @Test func earlierPathEntryOverridesLater() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("vm"), withIntermediateDirectories: true)
        let collector = LineCollector()
        let index = try ElementIndex(elementsPath: dir.path, builtinDirectory: Fixtures.builtin, logger: collector.logger)
        #expect(index.elements["vm"]?.path.path == dir.appendingPathComponent("vm").resolvingSymlinksInPath().path)
        #expect(index.elements["vm"]?.dependencies == [])
        #expect(index.overridden.count == 1)
        #expect(collector.lines.contains { $0.contains("overrides") })
    }

    /// stamp writes the boot code itself: an upstream `bootloader` (grub-install on a loop
    /// device) on ELEMENTS_PATH does not replace the built-in one.
    @Test func builtinBootloaderIsKept() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["bootloader", "vm"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        let collector = LineCollector()
        let index = try ElementIndex(elementsPath: dir.path, builtinDirectory: Fixtures.builtin, logger: collector.logger)
        #expect(
            index.elements["bootloader"]?.path.path
                == Fixtures.builtin.appendingPathComponent("bootloader").resolvingSymlinksInPath().path)
        #expect(index.elements["vm"]?.path.path == dir.appendingPathComponent("vm").resolvingSymlinksInPath().path)
        #expect(index.overridden.count == 2)
        #expect(
            index.overridden.contains {
                $0.winner.name == "bootloader" && $0.hidden.path.path.hasPrefix(dir.resolvingSymlinksInPath().path)
            })
        #expect(collector.lines.contains { $0.contains("bootloader is not used") })
    }

    @Test func invalidElementsDirectory() throws {
        let error = #expect(throws: ElementProblems.self) {
            try ElementIndex(elementsPath: "/nonexistent/a:/nonexistent/b", builtinDirectory: nil)
        }
        #expect(
            error?.problems == [
                .invalidElementsDirectory(path: "/nonexistent/a", reason: "does not exist"),
                .invalidElementsDirectory(path: "/nonexistent/b", reason: "does not exist"),
            ])
    }

    @Test func duplicateHooksAreAllReported() throws {
        let elements = ["dup-a", "dup-b"].compactMap { index.elements[$0] }
        let error = #expect(throws: ElementProblems.self) { try HooksTree(elements: elements) }
        #expect(error?.problems == [.duplicateHook(element: "dup-b", path: "install.d/50-same", firstElement: "dup-a")])
        #expect(error?.description.contains("there is a duplicated hook in your elements: dup-b/install.d/50-same") == true)
    }

    @Test func staticDirectoriesMerge() throws {
        let tree = try HooksTree(elements: ["dup-a", "probe"].compactMap { index.elements[$0] })
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try tree.materialize(at: dir)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("static/etc/a").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("static/etc/probe-static").path))
        #expect(FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("install.d/50-same").path))
        #expect(tree.origins["install.d/50-probe-install"] == "probe")
    }

    @Test func validateCollectsAcrossStages() throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        var plan = Fixtures.plan(["fake-os", "dup-a", "dup-b"], work: work, extra: ["break": "before-install,sometime"])
        plan.elementsPath = Fixtures.elements.path
        let error = #expect(throws: ElementProblems.self) { try ElementBuild.validate(plan) }
        #expect(error?.problems.contains(.unknownBreakPoint("sometime")) == true)
        #expect(error?.problems.contains { if case .duplicateHook = $0 { return true } else { return false } } == true)
    }
}
