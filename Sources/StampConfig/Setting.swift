/// The commands that take settings. Each binds its options to the rows of ``Settings/table``
/// that name it in ``Setting/spellings``; nothing else declares an option's name, default or
/// validation.
public enum FrontEnd: String, CaseIterable, Sendable, Hashable {
    case pack
    case mkfs
    case build
    /// `stamp images`: the cache of stamped container images.
    case images
    /// `stamp convert`: one disk image to another container format.
    case convert
    /// `stamp inspect`: what an image holds.
    case inspect
    /// `stamp verify`: an OVA's digests and signature.
    case verify
    /// `disk-image-create`, diskimage-builder's command line.
    case dib = "disk-image-create"

    /// How the command is typed, for messages and docs (`stamp pack`, `disk-image-create`).
    public var command: String { self == .dib ? "disk-image-create" : "stamp \(rawValue)" }
}

/// How one front end spells one setting on its command line.
///
/// ```swift
/// Spelling(long: "compress-qcow2", deprecated: ["-c"])   // --compress-qcow2; -c still works, with a warning
/// Spelling(short: "u", negated: true)                    // disk-image-create -u turns the setting off
/// ```
public struct Spelling: Sendable, Equatable {
    /// The long name without dashes (`size` is `--size`); nil for a short-only DIB flag.
    public var long: String?
    /// The one-letter name (`o` is `-o`).
    public var short: Character?
    /// Old spellings still accepted, each rewritten to the current one with a warning
    /// (`-c`, `--image-cache`).
    public var deprecated: [String]
    /// The flag turns the setting off (DIB's `-u`: do not compress).
    public var negated: Bool
    /// For sizes: the unit of a bare number (DIB's `--image-size` counts GiB).
    public var unit: SizeUnit
    /// The default on this front end, when it differs from the setting's own.
    public var defaultValue: String?
    /// The help on this front end, when the setting's own would mislead (a negated flag, a
    /// number in other units).
    public var help: String?

    public init(
        long: String? = nil, short: Character? = nil, deprecated: [String] = [], negated: Bool = false,
        unit: SizeUnit = .bytes, defaultValue: String? = nil, help: String? = nil
    ) {
        self.help = help
        self.long = long
        self.short = short
        self.deprecated = deprecated
        self.negated = negated
        self.unit = unit
        self.defaultValue = defaultValue
    }

    /// Every spelling a user may type, in help order: `-t`, `--types`.
    public var names: [String] {
        (short.map { ["-\($0)"] } ?? []) + (long.map { ["--\($0)"] } ?? [])
    }

    /// The name messages use: the long one when there is one.
    public var preferred: String { long.map { "--\($0)" } ?? short.map { "-\($0)" } ?? "" }
}

/// The unit of a bare number in a size setting.
public enum SizeUnit: String, Sendable, Equatable {
    /// `4G`, `512M`, `1073741824`: a number with an optional K/M/G/T suffix.
    case bytes
    /// A number of MiB, fractions allowed (DIB's `--image-extra-size`).
    case mebibytes = "MiB"
    /// A number of GiB, fractions allowed (DIB's `--image-size`).
    case gibibytes = "GiB"

    var multiplier: Double {
        switch self {
        case .bytes: return 1
        case .mebibytes: return 1024 * 1024
        case .gibibytes: return 1024 * 1024 * 1024
        }
    }
}

/// What a setting's value is, which decides how it is parsed and checked.
public enum ValueKind: Sendable, Equatable {
    /// Present or not; takes no value.
    case flag
    /// Bytes (`4G`); `auto` too when `allowsAuto` (fit the tree).
    case size(allowsAuto: Bool)
    /// A whole number within the range.
    case integer(ClosedRange<Int64>)
    /// One of the names; `aliases` maps other accepted spellings to one of them.
    case choice([String], aliases: [String: String] = [:])
    /// Any text, at most `maxBytes` UTF-8 bytes when given.
    case text(maxBytes: Int?)
    /// A UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    case uuid
    /// A file that must be readable.
    case file
    /// A directory (created when missing by whoever uses it).
    case directory
    /// A comma-separated list of output formats (``OutputFormats``), none twice.
    case formats
    /// Repeatable; each occurrence is one item (`--elements-path DIR`), or with `commas` a
    /// comma-separated list of items (`-p vim,curl -p jq`).
    case list(commas: Bool)
    /// Repeatable `NAME=VALUE` items.
    case assignments
}

/// One row of the settings table: everything stamp knows about one setting.
public struct Setting: Sendable {
    /// The setting's name: its long option where it has one (`compress-qcow2`).
    public let key: Key
    public let kind: ValueKind
    /// The value when none is given, as it would be typed; nil when unset means "none".
    public let defaultValue: String?
    /// One sentence (or two) for `--help` and the option reference.
    public let help: String
    /// The placeholder in help (`size`, `file`).
    public let valueName: String?
    /// The front ends offering it, and how each spells it.
    public let spellings: [FrontEnd: Spelling]
    /// The environment variable that also sets it (DIB's `DIB_IMAGE_SIZE`); the flag wins.
    public let variable: String?
    /// Settings that cannot be given with this one, and why (the hint of the error line).
    public let conflicts: [Conflict]
    /// What must also be given for this setting to mean anything.
    public let requires: [Requirement]
    /// The setting changes the bytes written: it is part of a cache key.
    public let changesBytes: Bool
    /// The value is a secret: never logged, never in a cache key or an element's environment.
    public let secret: Bool

    public init(
        _ key: Key, _ kind: ValueKind, default defaultValue: String? = nil, help: String, valueName: String? = nil,
        spellings: [FrontEnd: Spelling], variable: String? = nil, conflicts: [Conflict] = [],
        requires: [Requirement] = [], changesBytes: Bool, secret: Bool = false
    ) {
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.valueName = valueName
        self.spellings = spellings
        self.variable = variable
        self.conflicts = conflicts
        self.requires = requires
        self.changesBytes = changesBytes
        self.secret = secret
    }

    /// The default on `frontEnd`: its own, else the setting's.
    public func defaultValue(on frontEnd: FrontEnd) -> String? {
        spellings[frontEnd]?.defaultValue ?? defaultValue
    }

    /// The name messages on `frontEnd` use (`--compress-qcow2`), falling back to the key.
    public func name(on frontEnd: FrontEnd) -> String {
        spellings[frontEnd].map(\.preferred) ?? "--\(key.rawValue)"
    }
}

/// Two settings that cannot both be given: naming the other one and saying why.
public struct Conflict: Sendable, Equatable {
    public let other: Setting.Key
    /// How to get what was meant (`set cpus in the config`).
    public let hint: String

    public init(_ other: Setting.Key, _ hint: String) {
        self.other = other
        self.hint = hint
    }
}

/// What a setting needs to have any effect; without it the setting would be dropped silently.
public enum Requirement: Sendable, Equatable {
    /// Another setting, given explicitly.
    case setting(Setting.Key)
    /// One of these output formats among `-t`'s.
    case format([String])
}
