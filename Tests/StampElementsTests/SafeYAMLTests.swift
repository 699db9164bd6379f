import Foundation
import StampBytes
import Testing

@testable import StampElements

/// Element YAML that Yams' `load` would trap on, or expand without bound, ends in an error
/// naming the place instead (found by the package-installs fuzzer).
@Suite struct SafeYAMLTests {
    @Test func plainDocumentsLoadAsYamsWould() throws {
        let value = try SafeYAML.load("a: [1, two]\nb: {c: null}\n<<: {d: e}\n") as? [String: Any]
        #expect(value?.keys.sorted() == ["a", "b", "d"])
        #expect(try SafeYAML.load("") == nil)
    }

    @Test func aComplexKeyIsAnErrorNamingItsLine() {
        #expect {
            _ = try SafeYAML.load("grub-pc: true\n? - dib\n  - x\n: arch\n")
        } throws: { error in
            "\(error)".contains("line 2") && "\(error)".contains("a mapping key must be a plain value, not a list")
        }
        #expect(throws: SafeYAML.Problem.self) { _ = try SafeYAML.load("? {a: b}\n: c\n") }
    }

    @Test func nestedAliasesThatExpandWithoutBoundAreRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...8 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect {
            _ = try SafeYAML.load(text)
        } throws: { error in
            "\(error)".contains("expands to more than")
        }
    }

    @Test func baseSixtyIntegersThatOverflowAreRefused() throws {
        #expect(try SafeYAML.load("a: 1:30\n") as? [String: Int] == ["a": 90])
        for text in [
            "a: -6666666666666666666:2", "a: 1:2:3:4:5:6:7:8:9:10:11", "a: 999999999999999999:59",
            "a: 211_____00000000010_00__221:11",
        ] {
            #expect(throws: SafeYAML.Problem.self, "\(text)") { _ = try SafeYAML.load(text + "\n") }
        }
        #expect(try SafeYAML.load("a: '1:2:3:4:5:6:7:8:9:10:11'\n") as? [String: String] != nil)  // quoted: a string
    }

    /// Yams composes by recursion: a few KiB of `[` or `- ` overflowed the stack.
    @Test func deepNestingIsRefusedBeforeYamsRecurses() throws {
        let deep = String(repeating: "[", count: 3200)
        for text in [
            deep, String(repeating: "- ", count: 600) + "x", String(repeating: "{a: ", count: 400),
            "r\": " + deep, "don't: " + deep, "a: \"x\\\"\" " + deep,
        ] {
            #expect(throws: SafeYAML.Problem.self) { _ = try SafeYAML.load(text) }
        }
        #expect(try SafeYAML.load(String(repeating: "[", count: 40) + String(repeating: "]", count: 40)) != nil)
    }

    /// The bound never refuses the YAML stamp ships: every element and fixture file is shallow.
    @Test func everyShippedYAMLFileIsFarBelowTheBound() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var checked = 0
        for dir in ["Elements", "Tests", "Fuzz/corpus"] {
            let walker = FileManager.default.enumerator(atPath: root.appendingPathComponent(dir).path)
            while let name = walker?.nextObject() as? String {
                guard name.hasSuffix(".yaml") || name.hasSuffix(".yml") else { continue }
                let text = try String(contentsOf: root.appendingPathComponent(dir).appendingPathComponent(name), encoding: .utf8)
                #expect(YAMLNesting.upperBound(text) < 100, "\(dir)/\(name): \(YAMLNesting.upperBound(text))")
                checked += 1
            }
        }
        #expect(checked >= 20)
    }

    @Test func packageInstallsWithAComplexKeyIsAProblemNotATrap() {
        #expect(throws: (any Error).self) {
            _ = try PackageInstalls.parse("grub-pc: true\n? - dib\n: arch\n", element: "e", arch: "amd64", installType: "package")
        }
    }
}
