extension Settings {
    /// `docs/options.md`: the option reference, written from the table alone
    /// (`stamp options --markdown`); a test checks the file in the repository matches.
    public static func optionReference() -> String {
        var out = """
            # Option reference

            Generated from stamp's settings table (`Sources/StampConfig`) by `stamp options --markdown`;
            do not edit by hand. Every setting is declared once there, with its type, default,
            checks, the options and the environment variable that set it, the settings it excludes,
            whether it changes the bytes written (and so the image cache key) and whether it is a
            secret. The commands below accept exactly these options (and `--help`).

            A setting given where it has no effect is an error, not silently dropped: a line names
            the setting and what it needs (`--cpus applies to ova output only`) or the setting it
            conflicts with. Deprecated spellings still work and print a warning naming the new one.


            """
        for frontEnd in FrontEnd.allCases {
            out += "## \(frontEnd.command)\n\n"
            out += "| Option | Value | Default | Description |\n|---|---|---|---|\n"
            for setting in offered(by: frontEnd) {
                let spelling = setting.spellings[frontEnd]!
                var names = spelling.names.map { "`\($0)`" }.joined(separator: ", ")
                if !spelling.deprecated.isEmpty {
                    names += " (deprecated: " + spelling.deprecated.map { "`\($0)`" }.joined(separator: ", ") + ")"
                }
                let value = valueDescription(setting, spelling)
                // A flag is off unless given (DIB's -u too: it turns compression off).
                let defaultValue =
                    setting.kind == .flag
                    ? "" : setting.defaultValue(on: frontEnd).map { $0.isEmpty ? "(empty)" : "`\($0)`" } ?? ""
                out += "| \(names) | \(value) | \(defaultValue) | \(cell(spelling.help ?? setting.help)) |\n"
            }
            out += "\n"
        }
        out += """
            ## Settings

            One row per setting. *Bytes*: the setting changes the output bytes and is part of the
            image cache key (a file's digest, never its path). *Secret*: never logged, never in a
            cache key or an element's environment.

            | Setting | Variable | Bytes | Secret | Conflicts with | Needs |
            |---|---|---|---|---|---|

            """
        for setting in table {
            let conflicts = setting.conflicts.map { "`\($0.other.rawValue)`" }.joined(separator: ", ")
            let needs = setting.requires.map { requirement -> String in
                switch requirement {
                case .setting(let key): return "`\(key.rawValue)`"
                case .format(let names): return names.map { "`-t \($0)`" }.joined(separator: " or ")
                }
            }.joined(separator: ", ")
            out += "| `\(setting.key.rawValue)` | \(setting.variable.map { "`\($0)`" } ?? "") | "
            out += "\(setting.changesBytes ? "yes" : "no") | \(setting.secret ? "yes" : "no") | \(conflicts) | \(needs) |\n"
        }
        return out
    }

    static func valueDescription(_ setting: Setting, _ spelling: Spelling) -> String {
        switch setting.kind {
        case .flag: return spelling.negated ? "flag (turns it off)" : "flag"
        case .size(let auto):
            let unit = spelling.unit == .bytes ? "size (K/M/G/T)" : "number of \(spelling.unit.rawValue)"
            return auto ? "\(unit) or `auto`" : unit
        case .integer(let range): return "\(range.lowerBound)–\(range.upperBound)"
        case .choice(let choices, _): return choices.map { "`\($0)`" }.joined(separator: ", ")
        case .text(let max): return max.map { "text (≤ \($0) bytes)" } ?? (setting.valueName ?? "text")
        case .uuid: return "UUID"
        case .file: return "file"
        case .directory: return "directory"
        case .formats: return "format list"
        case .list(let commas): return commas ? "comma list (repeatable)" : "repeatable"
        case .assignments: return "`NAME=VALUE` (repeatable)"
        }
    }

    static func cell(_ text: String) -> String {
        text.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
    }
}
