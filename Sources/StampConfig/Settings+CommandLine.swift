extension Settings {
    /// Every option `frontEnd` accepts under its current names (`-t`, `--types`, …), table order.
    public static func names(on frontEnd: FrontEnd) -> [String] {
        offered(by: frontEnd).flatMap { $0.spellings[frontEnd]!.names }
    }

    /// Rewrites deprecated spellings to the current ones, with one warning each:
    /// `stamp pack -c` becomes `--compress-qcow2` and warns that `-c` is deprecated.
    /// `--old=value` keeps its value. Words after `--` are left alone. An old spelling that is
    /// another front end's name of the same size setting keeps that front end's unit: `stamp
    /// build --image-size 3` is disk-image-create's 3 GiB, given on as `--size=3221225472`.
    public static func rewriteDeprecated(_ arguments: [String], on frontEnd: FrontEnd) -> (
        arguments: [String], warnings: [String]
    ) {
        var renames: [String: (current: String, unit: SizeUnit)] = [:]
        for setting in offered(by: frontEnd) {
            let spelling = setting.spellings[frontEnd]!
            for old in spelling.deprecated {
                let other = setting.spellings.values.first { $0.names.contains(old) && $0.unit != spelling.unit }
                renames[old] = (spelling.preferred, other?.unit ?? spelling.unit)
            }
        }
        guard !renames.isEmpty else { return (arguments, []) }
        /// A bare number in `unit` as bytes; anything else as given (the parser names it).
        func converted(_ value: String, _ unit: SizeUnit) -> String {
            guard unit != .bytes, let number = Double(value), number >= 0, number < 1e12 else { return value }
            return String(UInt64((number * unit.multiplier).rounded(.up)))
        }
        var rewritten: [String] = []
        var warnings: [String] = []
        var ended = false
        var convertNext: SizeUnit?
        for argument in arguments {
            if let unit = convertNext {
                convertNext = nil
                rewritten.append(converted(argument, unit))
                continue
            }
            if ended || argument == "--" {
                ended = true
                rewritten.append(argument)
                continue
            }
            let (name, value) =
                argument.firstIndex(of: "=").map { (String(argument[..<$0]), String(argument[$0...])) } ?? (argument, "")
            if let rename = renames[name] {
                let (current, unit) = rename
                if unit != .bytes && value.isEmpty { convertNext = unit }
                rewritten.append(current + (value.isEmpty ? "" : "=" + converted(String(value.dropFirst()), unit)))
                let warning = "\(name) is deprecated in \(frontEnd.command); use \(current)"
                if !warnings.contains(warning) { warnings.append(warning) }
            } else {
                rewritten.append(argument)
            }
        }
        return (rewritten, warnings)
    }

    /// `arguments` with the value of every secret setting (``Setting/secret``) replaced by
    /// `***`: what may be recorded (DIB's `DIB_ARGS`, which lands in the image's manifests)
    /// or logged. `--creds ci:token` and `--creds=ci:token` both become `--creds ***`-like.
    public static func redactingSecrets(_ arguments: [String], on frontEnd: FrontEnd) -> [String] {
        let secret = Set(offered(by: frontEnd).filter(\.secret).flatMap { $0.spellings[frontEnd]!.names })
        var redacted: [String] = []
        var hideNext = false
        for argument in arguments {
            if hideNext {
                redacted.append("***")
                hideNext = false
            } else if let eq = argument.firstIndex(of: "="), argument.hasPrefix("--"), secret.contains(String(argument[..<eq])) {
                redacted.append(argument[..<eq] + "=***")
            } else {
                hideNext = secret.contains(argument)
                redacted.append(argument)
            }
        }
        return redacted
    }

    /// The option a mistyped `unknown` most likely meant, or nil when none is close: a
    /// suggestion must be a small edit (a typo, a transposition) of a name `frontEnd`
    /// accepts, never a different word of similar length (`--quiet` is not `--uuid`).
    public static func suggestion(for unknown: String, on frontEnd: FrontEnd) -> String? {
        let typed = unknown.drop { $0 == "-" }
        guard typed.count >= 3 else { return nil }
        var best: (name: String, distance: Int)?
        for name in names(on: frontEnd) + ["--help"] where name.hasPrefix("--") && isTypo(unknown, of: name) {
            let distance = editDistance(Array(typed), Array(name.dropFirst(2)))
            if distance < (best?.distance ?? .max) { best = (name, distance) }
        }
        return best?.name
    }

    /// Whether `typed` is a small edit of the option `name`: at most one edit per four
    /// characters (at least one), so `--labl` is `--label` and `--quiet` is not `--uuid`.
    public static func isTypo(_ typed: String, of name: String) -> Bool {
        let a = Array(typed.drop { $0 == "-" })
        let b = Array(name.drop { $0 == "-" })
        guard a.count >= 3 else { return false }
        return editDistance(a, b) <= max(1, min(a.count, b.count) / 4)
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
    /// transpositions cost one each.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// The help text of `setting` on `frontEnd`, with its default when it has one worth showing.
    public static func helpText(_ setting: Setting, on frontEnd: FrontEnd) -> String {
        var text = setting.spellings[frontEnd]?.help ?? setting.help
        if setting.kind != .flag, let value = setting.defaultValue(on: frontEnd), !value.isEmpty {
            text += " (default: \(value))"
        }
        if let variable = setting.variable, frontEnd == .dib { text += " [\(variable)]" }
        return text
    }
}

extension Setting {
    /// A value of this setting as `frontEnd` is given it, and the typed value that must come
    /// out: the sample the table's tests feed every front end.
    public func example(on frontEnd: FrontEnd) -> (text: String, value: SettingValue) {
        let spelling = spellings[frontEnd] ?? Spelling()
        switch kind {
        case .flag: return ("true", .flag(!spelling.negated))
        case .size:
            switch spelling.unit {
            case .bytes: return ("3G", .bytes(3 << 30))
            case .gibibytes: return ("3", .bytes(3 << 30))
            case .mebibytes: return ("3072", .bytes(3 << 30))
            }
        case .integer(let range): return (String(range.lowerBound + 1), .integer(range.lowerBound + 1))
        case .choice(let choices, _): return (choices.last!.uppercased(), .text(choices.last!))
        case .text: return ("v1", .text("v1"))
        case .uuid: return ("7C3E1C1A-6A55-4A0E-9D0E-2F1F3F9F0A11", .text("7c3e1c1a-6a55-4a0e-9d0e-2f1f3f9f0a11"))
        case .file, .directory: return ("/etc/hostname", .text("/etc/hostname"))
        case .formats: return ("QCOW2,vpc", .list(["qcow2", "vhd"]))
        case .list(let commas): return commas ? ("a,b", .list(["a", "b"])) : ("/a,b", .list(["/a,b"]))
        case .assignments: return ("A=1", .list(["A=1"]))
        }
    }
}

extension SettingValues {
    /// The settings given, one `key=value` line each in key order (canonical values): what
    /// `STAMP_PRINT_SETTINGS=1` prints, so that a test can see what a command line parsed to.
    public var givenLines: [String] {
        given.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value.canonical)" }
    }
}
