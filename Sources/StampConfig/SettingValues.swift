import StampBytes

/// A setting's value after parsing: what the pipeline reads, never the text it came from.
public enum SettingValue: Sendable, Hashable {
    case flag(Bool)
    /// A size in bytes; `nil` is `auto`.
    case bytes(UInt64?)
    case integer(Int64)
    /// Text, a choice (canonical spelling), a UUID (lower case) or a path.
    case text(String)
    /// A `-t` list (canonical names) or a repeatable option's items, in order.
    case list([String])

    /// The one canonical spelling of the value, for cache keys and docs.
    public var canonical: String {
        switch self {
        case .flag(let on): return on ? "true" : "false"
        case .bytes(let bytes): return bytes.map(String.init) ?? "auto"
        case .integer(let n): return String(n)
        case .text(let text): return text
        case .list(let items): return items.joined(separator: ",")
        }
    }
}

/// The settings one command was given, parsed and checked against the table: typed values,
/// defaults filled in per front end.
///
/// ```swift
/// var raw = RawSettings(.pack)
/// raw[.size] = "4G"
/// raw[.cpus] = "4"
/// let values = try raw.resolve()      // every problem at once, one line each
/// values.bytes(.size)                 // 4294967296
/// values.integer(.cpus)               // 4
/// values.isGiven(.memory)             // false: 2048 from the table
/// ```
public struct SettingValues: Sendable, Equatable {
    public let frontEnd: FrontEnd
    /// The values given on the command line (or in the environment).
    public let given: [Setting.Key: SettingValue]

    /// Whether the user gave `key` (rather than its default applying).
    public func isGiven(_ key: Setting.Key) -> Bool { given[key] != nil }

    /// The value of `key`: given, else the front end's default, else nil.
    public func value(_ key: Setting.Key) -> SettingValue? {
        if let value = given[key] { return value }
        let setting = Settings[key]
        guard setting.spellings[frontEnd] != nil, let text = setting.defaultValue(on: frontEnd) else { return nil }
        return try? Settings.parse(text, for: setting, on: frontEnd, asDefault: true)
    }

    public func flag(_ key: Setting.Key) -> Bool {
        if case .flag(let on) = value(key) { return on }
        return false
    }

    /// A size: nil when unset or `auto`.
    public func bytes(_ key: Setting.Key) -> UInt64? {
        if case .bytes(let bytes) = value(key) { return bytes }
        return nil
    }

    public func integer(_ key: Setting.Key) -> Int64? {
        if case .integer(let n) = value(key) { return n }
        return nil
    }

    public func text(_ key: Setting.Key) -> String? {
        switch value(key) {
        case .text(let text): return text
        case .list(let items): return items.joined(separator: ",")
        default: return nil
        }
    }

    public func list(_ key: Setting.Key) -> [String] {
        if case .list(let items) = value(key) { return items }
        return text(key).map { [$0] } ?? []
    }

    /// The canonical encoding of the settings that change the output bytes: one `key=value`
    /// line per such setting offered by the front end, given or default, sorted. A
    /// setting whose value is a file contributes the file's digest (``fileDigest``), never
    /// its path; a secret contributes only the digest. Two invocations that write the same
    /// bytes (`--layout gpt` and the default, `-t raw,qcow2` and `-t QCOW2,raw`) give the same lines.
    public func canonicalLines(fileDigest: (String) -> String) -> [String] {
        var lines: [String] = []
        for setting in Settings.table.sorted(by: { $0.key < $1.key })
        where setting.changesBytes && setting.spellings[frontEnd] != nil {
            guard let value = value(setting.key) else {
                lines.append("\(setting.key.rawValue)=")
                continue
            }
            if setting.kind == .file, case .text(let path) = value {
                lines.append("\(setting.key.rawValue)=sha256:\(fileDigest(path))")
            } else if setting.kind == .formats, case .list(let formats) = value {
                // Which files are written, not the order they were named in.
                lines.append("\(setting.key.rawValue)=\(formats.sorted().joined(separator: ","))")
            } else if setting.secret {
                lines.append("\(setting.key.rawValue)=sha256:\(fileDigest(value.canonical))")
            } else {
                lines.append("\(setting.key.rawValue)=\(value.canonical)")
            }
        }
        return lines.sorted()
    }
}

/// The text one command was given for each setting, before parsing: what a front end
/// collects from its parser, keyed by setting.
public struct RawSettings: Sendable {
    public let frontEnd: FrontEnd
    public var values: [Setting.Key: [String]] = [:]
    public init(_ frontEnd: FrontEnd) { self.frontEnd = frontEnd }

    /// One value (nil: not given). A flag is given as `"true"`; `false` means not given.
    public subscript(_ key: Setting.Key) -> String? {
        get { values[key]?.last }
        set { values[key] = newValue.map { [$0] } }
    }

    /// A flag: given when true.
    public mutating func flag(_ key: Setting.Key, _ on: Bool) { if on { values[key] = ["true"] } }

    /// A repeatable option's items (none: not given).
    public mutating func list(_ key: Setting.Key, _ items: [String]) { if !items.isEmpty { values[key] = items } }

    /// Parses every value and checks the whole: kinds, conflicts, requirements.
    /// - Throws: ``SettingsError`` with every problem, one line each.
    public func resolve() throws(SettingsError) -> SettingValues {
        var problems: [String] = []
        var given: [Setting.Key: SettingValue] = [:]
        for (key, texts) in values.sorted(by: { $0.key < $1.key }) {
            let setting = Settings[key]
            guard setting.spellings[frontEnd] != nil else {
                problems.append("\(frontEnd.command) has no \(setting.name(on: frontEnd))")
                continue
            }
            do {
                switch setting.kind {
                case .list, .assignments:
                    var items: [String] = []
                    for text in texts {
                        guard case .list(let parsed) = try Settings.parse(text, for: setting, on: frontEnd) else { continue }
                        items += parsed
                    }
                    given[key] = .list(items)
                default:
                    given[key] = try Settings.parse(texts.last ?? "", for: setting, on: frontEnd)
                }
            } catch {
                problems.append(error.description)
            }
        }
        let values = SettingValues(frontEnd: frontEnd, given: given)
        problems += Settings.relationProblems(values)
        if !problems.isEmpty { throw SettingsError(problems: problems) }
        return values
    }
}

/// Problems with a command's settings, all of them, on one line.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}

/// One value that does not parse.
public struct ValueProblem: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Settings {
    /// Parses `text` as `setting`'s value on `frontEnd`.
    public static func parse(_ text: String, for setting: Setting, on frontEnd: FrontEnd, asDefault: Bool = false)
        throws(ValueProblem)
        -> SettingValue
    {
        let name = setting.name(on: frontEnd)
        let spelling = setting.spellings[frontEnd] ?? Spelling()
        func invalid(_ reason: String) -> ValueProblem { ValueProblem(description: "invalid \(name) '\(text)': \(reason)") }
        switch setting.kind {
        case .flag:
            let on = text == "true" || text == "1"
            return .flag(asDefault ? on : (spelling.negated ? !on : on))
        case .size(let allowsAuto):
            if allowsAuto && text == "auto" { return .bytes(nil) }
            if spelling.unit != .bytes {
                guard let number = Double(text), number >= 0, number < 1e12 else {
                    throw invalid("expected a number of \(spelling.unit.rawValue)")
                }
                return .bytes(UInt64((number * spelling.unit.multiplier).rounded(.up)))
            }
            guard let bytes = parseSize(text) else {
                throw invalid("use a number with an optional K/M/G/T suffix\(allowsAuto ? ", or 'auto'" : "")")
            }
            return .bytes(bytes)
        case .integer(let range):
            guard let n = Int64(text), range.contains(n) else {
                throw invalid("use a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return .integer(n)
        case .choice(let choices, let aliases):
            let lower = text.lowercased()
            if let c = choices.first(where: { $0.lowercased() == lower }) ?? aliases[lower] { return .text(c) }
            throw invalid(
                "use " + (choices.count > 1 ? choices.dropLast().joined(separator: ", ") + " or " + choices.last! : choices[0]))
        case .text(let maxBytes):
            if let maxBytes, text.utf8.count > maxBytes { throw invalid("longer than \(maxBytes) bytes") }
            return .text(text)
        case .uuid:
            guard isUUID(text) else { throw invalid("expected a UUID, xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") }
            return .text(text.lowercased())
        case .file, .directory:
            if text.isEmpty { throw invalid("an empty path") }
            return .text(text)
        case .formats:
            let (formats, problems) = OutputFormats.parse(text, option: name)
            if !problems.isEmpty { throw ValueProblem(description: problems.joined(separator: "; ")) }
            if formats.isEmpty { throw invalid("no format given") }
            return .list(formats)
        case .list(let commas):
            return .list(commas ? text.split(separator: ",").map(String.init).filter { !$0.isEmpty } : [text])
        case .assignments:
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw invalid("expected NAME=VALUE") }
            return .list([text])
        }
    }

    static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// Conflicts and requirements: one line each, naming both settings.
    static func relationProblems(_ values: SettingValues) -> [String] {
        let frontEnd = values.frontEnd
        var problems: [String] = []
        let formats = values.list(.types)
        for (key, _) in values.given.sorted(by: { $0.key < $1.key }) {
            let setting = Settings[key]
            for conflict in setting.conflicts where values.isGiven(conflict.other) {
                problems.append(
                    "\(setting.name(on: frontEnd)) conflicts with \(Settings[conflict.other].name(on: frontEnd)): \(conflict.hint)"
                )
            }
            // disk-image-create accepts what DIB accepts, used or not.
            guard frontEnd != .dib else { continue }
            for requirement in setting.requires {
                switch requirement {
                case .setting(let other) where !values.isGiven(other):
                    problems.append(
                        "\(setting.name(on: frontEnd)) needs \(Settings[other].name(on: frontEnd)), or it has no effect")
                // Only where the command takes -t (convert's --fast has its own -O).
                case .format(let names)
                where Settings[.types].spellings[frontEnd] != nil && !formats.contains(where: names.contains):
                    let typesName = Settings[.types].name(on: frontEnd)
                    problems.append(
                        "\(setting.name(on: frontEnd)) applies to \(names.joined(separator: " or ")) output only: add \(names[0]) to \(typesName) (now \(formats.joined(separator: ",")))"
                    )
                default: break
                }
            }
        }
        return problems
    }
}
