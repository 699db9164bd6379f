import Foundation
import Testing

import StampConfig
import StampTestSupport

/// The settings table walked row by row (issue 20): every setting parses to one typed value
/// whichever front end spells it, the rows are consistent, conflicts and requirements end in
/// one line naming both settings, and the cache key is canonical.
@Suite struct SettingsTableTests {
    static func sample(_ setting: Setting, on frontEnd: FrontEnd) -> (text: String, expected: SettingValue) {
        let example = setting.example(on: frontEnd)
        return (example.text, example.value)
    }

    @Test(arguments: Settings.table.map(\.key))
    func everyFrontEndParsesASettingToTheSameTypedValue(key: Setting.Key) throws {
        let setting = Settings[key]
        #expect(!setting.spellings.isEmpty, "\(key) is offered by no command")
        var typed: [FrontEnd: SettingValue] = [:]
        for frontEnd in setting.spellings.keys {
            let (text, expected) = Self.sample(setting, on: frontEnd)
            let value = try Settings.parse(text, for: setting, on: frontEnd)
            #expect(value == expected, "\(frontEnd.command) \(setting.name(on: frontEnd)) \(text)")
            typed[frontEnd] = value
            // Its default (if any) parses too: a default that fails its own check is a bug.
            if let text = setting.defaultValue(on: frontEnd) {
                #expect(throws: Never.self, "default '\(text)' of \(key) on \(frontEnd)") {
                    try Settings.parse(text, for: setting, on: frontEnd, asDefault: true)
                }
            }
        }
        // The same meaning everywhere: DIB's -u is the negation of --compress-qcow2, so
        // compare what the flag means rather than its presence.
        if setting.kind != .flag { #expect(Set(typed.values).count == 1, "\(key): \(typed)") }
    }

    @Test func noTwoSettingsShareANameOnOneFrontEnd() {
        for frontEnd in FrontEnd.allCases {
            var seen: [String: Setting.Key] = [:]
            for setting in Settings.offered(by: frontEnd) {
                let spelling = setting.spellings[frontEnd]!
                #expect(!spelling.names.isEmpty, "\(setting.key) has no name on \(frontEnd)")
                for name in spelling.names + spelling.deprecated {
                    #expect(seen[name] == nil, "\(frontEnd.command): \(name) is both \(seen[name]!) and \(setting.key)")
                    seen[name] = setting.key
                }
            }
        }
    }

    @Test func relationsNameSettingsThatExistWhereTheyApply() {
        for setting in Settings.table {
            for conflict in setting.conflicts {
                let shared = Set(setting.spellings.keys).intersection(Settings[conflict.other].spellings.keys)
                #expect(!shared.isEmpty, "\(setting.key) conflicts with \(conflict.other), which no front end offers with it")
            }
            for case .setting(let other) in setting.requires {
                #expect(Set(setting.spellings.keys).isSubset(of: Settings[other].spellings.keys), "\(setting.key) needs \(other)")
            }
            // A secret is never written into a cache key or a log as itself.
            if setting.secret { #expect(setting.kind == .file || !setting.changesBytes, "\(setting.key)") }
        }
    }

    @Test func aConflictIsOneLineNamingBothSettings() throws {
        var raw = RawSettings(.pack)
        raw[.output] = "out"
        raw[.types] = "ova"
        raw[.cpus] = "4"
        raw[.ovfConfig] = "/etc/hostname"
        let error = try #require(throws: SettingsError.self) { try raw.resolve() }
        #expect(error.problems.count == 1)
        #expect(error.description.hasPrefix("--cpus conflicts with --ovf-config: "), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test func settingsThatWouldBeDroppedAreRefused() throws {
        func problems(_ front: FrontEnd, _ set: (inout RawSettings) -> Void) -> [String] {
            var raw = RawSettings(front)
            raw[.output] = "out"
            set(&raw)
            do {
                _ = try raw.resolve()
                return []
            } catch {
                return error.problems
            }
        }
        #expect(
            problems(.pack) { $0.flag(.compressQcow2, true) } == [
                "--compress-qcow2 applies to qcow2 output only: add qcow2 to --types (now raw)"
            ])
        #expect(
            problems(.pack) {
                $0[.signAlgorithm] = "sha512"
                $0[.types] = "ova"
            } == ["--sign-algorithm needs --sign, or it has no effect"])
        #expect(
            problems(.pack) {
                $0[.layout] = "mbr"
                $0[.blockDeviceConfig] = "/etc/hostname"
            }.first?.hasPrefix("--layout conflicts with --block-device-config") == true)
        #expect(
            problems(.pack) { $0[.types] = "raw,raw" } == ["format raw is given twice in --types 'raw,raw': each is written once"]
        )
        #expect(
            problems(.pack) {
                $0[.types] = "ova"
                $0[.nic] = "foo"
            } == ["invalid --nic 'foo': use vmxnet3 or e1000"])
        #expect(
            problems(.build) {
                $0[.qcow2Compat] = "0.10"
                $0[.types] = "raw"
            }.count == 1)
        #expect(
            problems(.pack) {
                $0[.types] = "qcow2"
                $0.flag(.compressQcow2, true)
            } == [])
        // disk-image-create takes what DIB takes: -u with no qcow2 is not an error there.
        #expect(
            problems(.dib) {
                $0[.types] = "raw"
                $0.flag(.compressQcow2, true)
            } == [])
    }

    @Test func outputFormatsAreOneList() {
        #expect(OutputFormats.base("disk.qcow2", formats: ["qcow2"]) == "disk")
        #expect(OutputFormats.base("disk.vmdk", formats: ["vmdk-sparse"]) == "disk")
        #expect(OutputFormats.base("disk.qcow2", formats: ["qcow2", "raw"]) == "disk.qcow2")
        #expect(OutputFormats.base("out/.qcow2", formats: ["qcow2"]) == "out/.qcow2")
        #expect(OutputFormats.parse("vmdk,vmdk-sparse", option: "-t").problems.count == 1)
        #expect(OutputFormats.parse("img,VPC", option: "-t").formats == ["raw", "vhd"])
        #expect(
            OutputFormats.parse("floppy", option: "-t").problems == [
                "unknown format 'floppy' in -t (use \(OutputFormats.names.joined(separator: ", ")))"
            ])
    }

    @Test func theCacheKeyIsCanonical() throws {
        func lines(_ set: (inout RawSettings) -> Void) throws -> [String] {
            var raw = RawSettings(.pack)
            raw[.output] = "out"
            set(&raw)
            return try raw.resolve().canonicalLines { "digest-of(\($0))" }
        }
        let plain = try lines { _ in }
        // The defaults spelled out, a format in capitals, another output name: same bytes, same key.
        #expect(
            try lines {
                $0[.layout] = "gpt"
                $0[.types] = "RAW"
                $0[.output] = "elsewhere"
                $0[.cpus] = nil
            } == plain)
        #expect(try lines { $0[.layout] = "mbr" } != plain)
        #expect(try lines { $0[.types] = "qcow2,raw" } == lines { $0[.types] = "RAW,qcow2" })
        #expect(plain.contains("layout=gpt") && plain.contains("label=\(Settings.defaultRootLabel)"))
        #expect(!plain.contains { $0.hasPrefix("output=") || $0.hasPrefix("stamped-cache=") || $0.hasPrefix("creds=") })
        #expect(plain == plain.sorted())
        // A file counts by its content's digest, never by its path alone.
        let signed = try lines {
            $0[.types] = "ova"
            $0[.sign] = "/etc/hostname"
        }
        #expect(signed.contains("sign=sha256:digest-of(/etc/hostname)"))
    }

    @Test func suggestionsAreTyposOnly() {
        #expect(Settings.suggestion(for: "--silent", on: .pack) == nil)
        #expect(Settings.suggestion(for: "--labl", on: .pack) == "--label")
        #expect(Settings.suggestion(for: "--inode-raito", on: .mkfs) == "--inode-ratio")
        #expect(Settings.suggestion(for: "--cpu", on: .pack) == "--cpus")
        #expect(Settings.suggestion(for: "--cpu", on: .mkfs) == nil)
    }

    @Test func deprecatedSpellingsAreRewrittenWithAWarning() {
        let (args, warnings) = Settings.rewriteDeprecated(["root", "-c", "--image-cache=/c", "--", "-c"], on: .pack)
        #expect(args == ["root", "--compress-qcow2", "--stamped-cache=/c", "--", "-c"])
        #expect(
            warnings == [
                "-c is deprecated in stamp pack; use --compress-qcow2",
                "--image-cache is deprecated in stamp pack; use --stamped-cache",
            ])
        #expect(Settings.rewriteDeprecated(["--image-cache", "/d"], on: .build).arguments == ["--download-cache", "/d"])
        #expect(Settings.rewriteDeprecated(["-c"], on: .dib).warnings.isEmpty)
    }

    @Test func secretsAreRedactedFromRecordedCommandLines() {
        let line = ["build", "vm", "--creds", "ci:tok", "--creds=ci:tok2", "--release", "bookworm", "--sign", "/k.pem"]
        let redacted = Settings.redactingSecrets(line, on: .build)
        #expect(redacted == ["build", "vm", "--creds", "***", "--creds=***", "--release", "bookworm", "--sign", "***"])
        #expect(!redacted.joined().contains("tok"))
    }

    @Test func defaultsAreDefinedOnce() throws {
        var raw = RawSettings(.pack)
        raw[.output] = "o"
        let pack = try raw.resolve()
        #expect(pack.text(.osType) == Settings.defaultGuestOS)
        #expect(pack.text(.label) == Settings.defaultRootLabel)
        #expect(pack.text(.qcow2Compat) == "1.1")
        #expect(pack.list(.types) == ["raw"])
        #expect(try RawSettings(.build).resolve().list(.types) == ["qcow2"])
        #expect(try RawSettings(.mkfs).resolve().text(.label) == "")
        #expect(try RawSettings(.dib).resolve().flag(.compressQcow2) == true)
        #expect(try RawSettings(.build).resolve().flag(.compressQcow2) == true)  // DIB's default, -u turns it off
    }

    /// docs/options.md is the table's reference, regenerated whenever the table changes.
    @Test func optionReferenceMatchesTheTable() throws {
        let path = repositoryRoot + "/docs/options.md"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == Settings.optionReference(), "docs/options.md is stale: run stamp options --markdown > docs/options.md")
        for setting in Settings.table { #expect(text.contains("`\(setting.key.rawValue)`"), "\(setting.key)") }
    }
}
