import ArgumentParser
import Foundation
import StampConfig

// How the `stamp` commands bind their options to the settings table: every `@Option` and
// `@Flag` takes its names and help from the table's row, its value is kept as the text given
// (nil or false when absent, so that a default is never mistaken for a choice), and
// `RawSettings.resolve()` parses and checks them all together.
//
//     @Option(name: .setting(.size, .pack), help: .setting(.size, .pack)) var size: String?

extension NameSpecification {
    /// The names `frontEnd` gives the setting `key` in the table.
    static func setting(_ key: Setting.Key, _ frontEnd: FrontEnd) -> NameSpecification {
        let spelling = Settings[key].spellings[frontEnd] ?? Spelling(long: key.rawValue)
        var elements: [NameSpecification.Element] = []
        if let long = spelling.long { elements.append(.customLong(long)) }
        if let short = spelling.short { elements.append(.customShort(short)) }
        return NameSpecification(elements)
    }
}

extension ArgumentHelp {
    /// The table's help for `key` on `frontEnd`, with its default and value name.
    static func setting(_ key: Setting.Key, _ frontEnd: FrontEnd) -> ArgumentHelp {
        let setting = Settings[key]
        return ArgumentHelp(Settings.helpText(setting, on: frontEnd), valueName: setting.valueName)
    }
}

extension CompletionKind {
    /// What a shell completes after the option of `key` on `frontEnd`: file and directory names
    /// for files and directories, the choices of a choice (`--layout`), the output formats of a
    /// `-t` list one comma at a time; nothing for numbers, sizes and free text.
    static func setting(_ key: Setting.Key, _ frontEnd: FrontEnd) -> CompletionKind {
        let setting = Settings[key]
        switch setting.kind {
        case .file: return .file()
        case .directory: return .directory
        case .choice(let choices, _): return .list(choices)
        case .formats: return .custom { _, _, prefix in OutputFormats.completions(of: prefix) }
        default:
            switch setting.valueName {
            case "file", "out": return .file()
            case "dir": return .directory
            default: return .default
            }
        }
    }
}

extension [String] {
    /// The problems once each, in the order first found (two checks may find the same one).
    func uniqued() -> [String] {
        var seen: Set<String> = []
        return filter { seen.insert($0).inserted }
    }
}

extension RawSettings {
    /// Parses and checks; the problems become one validation line.
    func resolved() throws -> SettingValues {
        do {
            return try resolve().printedIfAsked()
        } catch {
            throw ValidationError(error.description)
        }
    }
}

extension SettingValues {
    /// With `STAMP_PRINT_SETTINGS=1` (for the settings table's tests): prints the settings
    /// given, as typed values, and exits before any other check or work.
    @discardableResult
    func printedIfAsked() -> SettingValues {
        guard getenv("STAMP_PRINT_SETTINGS").map({ String(cString: $0) }) == "1" else { return self }
        print(givenLines.joined(separator: "\n"))
        exit(0)
    }
}
