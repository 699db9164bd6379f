import Foundation
import StampConfig

/// `disk-image-create`'s command line: DIB's whole GNU getopt surface, parsed in Swift.
///
/// DIB calls `getopt -o a:ho:t:xucnp: -l checksum,no-tmpfs,offline,help,version,min-tmpfs:,
/// image-size:,image-cache:,max-online-resize:,mkfs-options:,qemu-img-options:,ramdisk-element:,
/// root-label:,install-type:,docker-target:,logfile:`. GNU getopt rules reproduced here:
/// short options bundle (`-xu`) and take attached or separate values (`-oOUT`, `-o OUT`); long
/// options take `--opt=value` or `--opt value` and may be abbreviated to any unique prefix;
/// options and elements may be interleaved (permutation); `--` ends the options.
///
/// Additions and fixes: `--image-extra-size` and `--mkfs-journal-size`
/// work (DIB's getopt list forgets them); `--qemu-img-options` applies to qcow2 only; leading
/// words that `dib-cmd` may put before the flags (the subcommand name `disk-image-create`, or
/// `NAME=value` assignments) are accepted; an unknown `-t` format is an error up front, and
/// `-t` takes every format the `stamp` commands take (`vmdk-sparse`, `vhd-fixed`), none twice.
///
/// The option names, which take a value, and the usage text come from the settings table
/// (`Settings.offered(by: .dib)`); the parsed options also become typed settings
/// (``DIBBuildRequest/settings``), the ones `stamp build` gives.
public enum DIBCommandLine {
    /// The formats stamp writes (the settings table's list, as every front end names them).
    public static let supportedFormats = OutputFormats.names

    /// What the command line asks for.
    public enum Command: Sendable, Equatable {
        case help
        case version
        case build(DIBBuildRequest)
    }

    /// One problem with the command line; one lower-case line each.
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case unrecognizedOption(String)
        case ambiguousOption(String, candidates: [String])
        case missingArgument(String)
        case unexpectedArgument(String)
        case unknownFormat(String)
        /// A format given twice, or two that would write the same file.
        case formatList(String)
        case invalidValue(option: String, value: String, reason: String)
        case noElements

        public var description: String {
            switch self {
            case .unrecognizedOption(let option): return "unrecognized option '\(option)'"
            case .ambiguousOption(let option, let candidates):
                return "option '\(option)' is ambiguous; possibilities: " + candidates.map { "--\($0)" }.joined(separator: " ")
            case .missingArgument(let option): return "option '\(option)' requires an argument"
            case .unexpectedArgument(let option): return "option '\(option)' doesn't allow an argument"
            case .unknownFormat(let format):
                return "unknown image format '\(format)' (supported: \(supportedFormats.joined(separator: ", ")))"
            case .formatList(let message): return message
            case .invalidValue(let option, let value, let reason): return "invalid value '\(value)' for \(option): \(reason)"
            case .noElements: return "at least one distribution root element must be specified"
            }
        }
    }

    /// All command-line problems, reported together on one line.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var problems: [Problem]
        public var description: String { problems.map(\.description).joined(separator: "; ") }
    }

    // The getopt lists, from the settings table's disk-image-create spellings.
    static let spellings = Settings.offered(by: .dib).map { ($0, $0.spellings[.dib]!) }
    static let shortWithValue = Set(spellings.filter { $0.0.kind != .flag }.compactMap(\.1.short))
    static let shortFlags = Set(spellings.filter { $0.0.kind == .flag }.compactMap(\.1.short) + ["h"])
    static let longFlags = spellings.filter { $0.0.kind == .flag }.compactMap(\.1.long) + ["help", "version"]
    static let longWithValue = spellings.filter { $0.0.kind != .flag }.compactMap(\.1.long)
    /// The setting of each short (`o`) and long (`image-size`) name.
    static let settingByName: [String: Setting] = Dictionary(
        spellings.flatMap { setting, spelling in
            ((spelling.short.map { [String($0)] } ?? []) + (spelling.long.map { [$0] } ?? [])).map { ($0, setting) }
        }, uniquingKeysWith: { first, _ in first })

    /// Parses `arguments` (without the program name) against `environment`.
    /// - Throws: ``Failure`` listing every problem.
    public static func parse<S: Sequence>(_ arguments: S, environment: [String: String]) throws(Failure) -> Command
    where S.Element == String {
        var args = Array(arguments)
        var problems: [Problem] = []
        var request = DIBBuildRequest(environment: environment)
        request.arguments = args
        // Leading words from `dib-cmd`: the subcommand name and NAME=value assignments.
        while let first = args.first {
            if first == "disk-image-create" {
                args.removeFirst()
                continue
            }
            if let eq = first.firstIndex(of: "="), !first.hasPrefix("-"),
                first[..<eq].allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }), !first[..<eq].isEmpty
            {
                request.environment[String(first[..<eq])] = String(first[first.index(after: eq)...])
                args.removeFirst()
                continue
            }
            break
        }
        var options: [(name: String, value: String?)] = []
        var positionals: [String] = []
        var index = 0
        while index < args.count {
            let arg = args[index]
            index += 1
            if arg == "--" {
                positionals += args[index...]
                break
            }
            if arg.hasPrefix("--") {
                let body = arg.dropFirst(2)
                let (given, attached): (Substring, String?) =
                    body.firstIndex(of: "=").map {
                        (body[..<$0], String(body[body.index(after: $0)...]))
                    } ?? (body, nil)
                let all = longFlags + longWithValue
                var matches = all.filter { $0 == given }
                if matches.isEmpty { matches = all.filter { $0.hasPrefix(given) } }
                guard matches.count == 1, let name = matches.first else {
                    problems.append(matches.isEmpty ? .unrecognizedOption(arg) : .ambiguousOption(arg, candidates: matches))
                    continue
                }
                if longWithValue.contains(name) {
                    if let attached {
                        options.append((name, attached))
                    } else if index < args.count {
                        options.append((name, args[index]))
                        index += 1
                    } else {
                        problems.append(.missingArgument("--\(name)"))
                    }
                } else {
                    if attached != nil { problems.append(.unexpectedArgument("--\(name)")) }
                    options.append((name, nil))
                }
            } else if arg.hasPrefix("-") && arg.count > 1 {
                var chars = Substring(arg.dropFirst())
                while let flag = chars.first {
                    chars = chars.dropFirst()
                    if shortFlags.contains(flag) {
                        options.append((String(flag), nil))
                    } else if shortWithValue.contains(flag) {
                        if !chars.isEmpty {
                            options.append((String(flag), String(chars)))
                        } else if index < args.count {
                            options.append((String(flag), args[index]))
                            index += 1
                        } else {
                            problems.append(.missingArgument("-\(flag)"))
                        }
                        break
                    } else {
                        problems.append(.unrecognizedOption("-\(flag)"))
                    }
                }
            } else {
                positionals.append(arg)
            }
        }
        // The same options as typed settings (the table's checks are DIB's own below).
        var raw = RawSettings(.dib)
        for (name, value) in options {
            guard let setting = settingByName[name] else { continue }
            if setting.kind == .flag {
                raw.flag(setting.key, true)
            } else {
                raw.values[setting.key, default: []].append(value ?? "")
            }
        }
        request.settings = try? raw.resolve()
        for (name, value) in options {
            let value = value ?? ""
            switch name {
            case "h", "help": return .help
            case "version": return .version
            case "a": request.arch = value
            case "o": request.outputBase = value
            case "t":
                let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                problems += names.filter { OutputFormats.canonical($0) == nil }.map(Problem.unknownFormat)
                let known = names.filter { OutputFormats.canonical($0) != nil }.joined(separator: ",")
                let (formats, found) = known.isEmpty ? ([], []) : OutputFormats.parse(known, option: "-t")
                request.formats = formats
                problems += found.map(Problem.formatList)
            case "x": request.debugTrace += 1
            case "u": request.compress = false
            case "c": request.clearEnvironment = true
            case "n": request.skipBase = true
            case "p": request.extraPackages += value.split(separator: ",").map(String.init)
            case "checksum": request.checksum = true
            case "no-tmpfs": request.noTmpfs = true
            case "offline": request.offline = true
            case "image-size", "min-tmpfs", "image-extra-size", "mkfs-journal-size", "max-online-resize":
                if Double(value) == nil || (Double(value) ?? 0) < 0 {
                    problems.append(.invalidValue(option: "--\(name)", value: value, reason: "expected a number"))
                }
                request.numeric[name] = value
            case "image-cache": request.imageCache = value
            case "mkfs-options": request.mkfsOptions = value
            case "qemu-img-options":
                for pair in value.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, !parts[0].isEmpty else {
                        problems.append(
                            .invalidValue(option: "--qemu-img-options", value: String(pair), reason: "expected key=value"))
                        continue
                    }
                    if let reason = DIBBuildRequest.qemuImgOptionProblem(key: parts[0], value: parts[1]) {
                        problems.append(.invalidValue(option: "--qemu-img-options", value: String(pair), reason: reason))
                        continue
                    }
                    request.qemuImgOptions.append((parts[0], parts[1]))
                }
            case "ramdisk-element": request.ramdiskElement = value
            case "root-label": request.rootLabel = value
            case "install-type": request.installType = value
            case "docker-target": request.dockerTarget = value
            case "logfile": request.logfile = value
            default: break
            }
        }
        if request.formats.isEmpty { request.formats = ["qcow2"] }
        request.elements = positionals
        if positionals.isEmpty { problems.append(.noElements) }
        request.outputBase = OutputFormats.base(request.outputBase, formats: request.formats)
        if !problems.isEmpty { throw Failure(problems: problems) }
        return .build(request)
    }

    /// DIB's usage text, written from the settings table: exactly the options accepted.
    public static var usage: String {
        var lines = [
            "Usage: disk-image-create [OPTION]... [ELEMENT]...",
            "Build a disk image from diskimage-builder elements (stamp: no loop devices, no qemu-img).",
        ]
        for (setting, spelling) in spellings {
            let unit = spelling.unit == .bytes ? nil : spelling.unit.rawValue
            let value = setting.kind == .flag ? "" : " " + (unit ?? setting.valueName ?? "VALUE").uppercased()
            let names = spelling.names.joined(separator: ", ") + value
            let pad = String(repeating: " ", count: max(1, 28 - names.count))
            lines.append("  \(names)\(pad)\(Settings.helpText(setting, on: .dib))")
        }
        lines.append("  -h, --help                  this text")
        lines.append("  --version                   the version")
        lines.append("Environment: ELEMENTS_PATH, DIB_RELEASE, DIB_IMAGE_CACHE, DIB_CHECKSUM, TMPDIR, break, ...")
        lines.append("Output, as DIB's: DIB_QUIET=1 (nothing on stdout; implied by --logfile unless DIB_QUIET=0),")
        lines.append("  DIB_NO_TIMESTAMP=1 (bare lines on stdout; the log file keeps timestamps),")
        lines.append("  DIB_SHOW_IMAGE_USAGE=1 (size report; DIB_SHOW_IMAGE_USAGE_FULL=1: every file),")
        lines.append("  OVERWRITE_OLD_IMAGE=1 (replace NAME.FMT; otherwise it is kept as NAME-<date>.FMT)")
        return lines.joined(separator: "\n")
    }
}
