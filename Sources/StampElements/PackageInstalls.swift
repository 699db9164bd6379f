import Foundation
import Yams

/// `package-installs.yaml` / `.json` of every element, squashed into one list, and every
/// element's `pkg-map`, flattened for the in-chroot helpers.
///
/// DIB squashes these with host python in `extra-data.d`; stamp reads and validates them up
/// front (a broken file is reported with the other problems before anything runs) and writes
/// two plain files into the hooks tree, read by the `package-installs` and `pkg-map` elements'
/// shell helpers inside the chroot:
///
/// - `package-installs.tsv`: `phase<TAB>install|uninstall<TAB>package<TAB>element<TAB>when`,
///   where `when` is the element's `when:` conditions joined by `;` (evaluated in the chroot,
///   because they usually test variables exported by `environment.d`);
/// - `pkg-map.d/<element>`: `release|distro|family|default<TAB>key<TAB>package<TAB>mapped`.
///
/// Keys honoured (diskimage-builder's package-installs element): `phase` (default `install.d`), `uninstall`,
/// `installtype`, `arch`, `not-arch`, `dib_python_version`, `build-only`, `when`.
public struct PackageInstalls: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var phase: String
        public var uninstall: Bool
        public var package: String
        public var element: String
        public var when: [String]
    }

    public var entries: [Entry] = []
    /// `pkg-map` lines per element.
    public var pkgMaps: [String: [String]] = [:]

    /// Reads the files of every element.
    /// - Parameters:
    ///   - arch: `ARCH`, for `arch` / `not-arch`.
    ///   - installType: `DIB_DEFAULT_INSTALLTYPE`, for `installtype`.
    public init(elements: [Element], arch: String, installType: String) throws(ElementProblems) {
        var problems: [ElementError] = []
        for element in elements {
            for file in ["package-installs.yaml", "package-installs.json"] {
                let url = element.path.appendingPathComponent(file)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                do {
                    entries += try Self.parse(text, element: element.name, arch: arch, installType: installType)
                } catch {
                    problems.append(.invalidElementFile(element: element.name, path: file, reason: "\(error)"))
                }
            }
            let mapURL = element.path.appendingPathComponent("pkg-map")
            if let data = SmallFile.read(mapURL.path).map({ Data($0) }) {
                do {
                    pkgMaps[element.name] = try Self.flattenPkgMap(data)
                } catch {
                    problems.append(.invalidElementFile(element: element.name, path: "pkg-map", reason: "\(error)"))
                }
            }
        }
        try ElementProblems(problems).throwIfAny()
    }

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    package static func parse(_ text: String, element: String, arch: String, installType: String) throws -> [Entry] {
        guard let loaded = try SafeYAML.load(text) else { return [] }
        guard let map = loaded as? [String: Any] else { throw FormatError(description: "expected a map of package names") }
        var result: [Entry] = []
        for (package, value) in map.sorted(by: { $0.key < $1.key }) {
            let specs: [[String: Any]]
            switch value {
            case is NSNull: specs = [[:]]
            case let dict as [String: Any]: specs = [dict]
            case let list as [[String: Any]]: specs = list
            default:
                if Mirror(reflecting: value).displayStyle == .optional {
                    specs = [[:]]
                    break
                }
                throw FormatError(description: "package '\(package)': expected null, a map or a list of maps")
            }
            for spec in specs {
                let archList = Self.list(spec["arch"])
                let notArch = Self.list(spec["not-arch"])
                if !archList.isEmpty && !notArch.isEmpty {
                    throw FormatError(description: "package '\(package)': arch and not-arch are exclusive")
                }
                if !archList.isEmpty && !archList.contains(arch) { continue }
                if notArch.contains(arch) { continue }
                if let type = spec["installtype"] as? String, type != installType { continue }
                if let version = spec["dib_python_version"], "\(version)" != "3" { continue }
                let phase = (spec["phase"] as? String) ?? "install.d"
                guard Phase(directory: phase) != nil else {
                    throw FormatError(description: "package '\(package)': unknown phase '\(phase)'")
                }
                var when: [String] = []
                if let single = spec["when"] as? String {
                    when = [single]
                } else if let many = spec["when"] as? [String] {
                    when = many
                }
                for condition in when where !condition.contains("=") {
                    throw FormatError(description: "package '\(package)': when '\(condition)' is not VAR = value")
                }
                let uninstall = Self.bool(spec["uninstall"])
                result.append(Entry(phase: phase, uninstall: uninstall, package: package, element: element, when: when))
                if Self.bool(spec["build-only"]) && !uninstall {
                    result.append(Entry(phase: "post-install.d", uninstall: true, package: package, element: element, when: when))
                }
            }
        }
        return result
    }

    static func list(_ value: Any?) -> [String] {
        guard let text = value as? String else { return [] }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func bool(_ value: Any?) -> Bool {
        if let flag = value as? Bool { return flag }
        if let text = value as? String { return ["true", "yes", "1"].contains(text.lowercased()) }
        return false
    }

    /// DIB's pkg-map JSON: `{"release": {distro: {release: {pkg: mapped}}}, "distro": {distro:
    /// {pkg: mapped}}, "family": {family: {pkg: mapped}}, "default": {pkg: mapped}}`.
    package static func flattenPkgMap(_ data: Data) throws -> [String] {
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FormatError(description: "expected a JSON object")
        }
        var lines: [String] = []
        func add(_ kind: String, _ key: String, _ map: Any?) {
            guard let map = map as? [String: Any] else { return }
            for (package, mapped) in map.sorted(by: { $0.key < $1.key }) {
                lines.append([kind, key, package, (mapped as? String) ?? ""].joined(separator: "\t"))
            }
        }
        for (distro, releases) in ((root["release"] as? [String: Any]) ?? [:]).sorted(by: { $0.key < $1.key }) {
            for (release, map) in ((releases as? [String: Any]) ?? [:]).sorted(by: { $0.key < $1.key }) {
                add("release", "\(distro)/\(release)", map)
            }
        }
        for kind in ["distro", "family"] {
            for (key, map) in ((root[kind] as? [String: Any]) ?? [:]).sorted(by: { $0.key < $1.key }) {
                add(kind, key, map)
            }
        }
        add("default", "-", root["default"])
        return lines
    }

    /// Writes `package-installs.tsv` and `pkg-map.d/` into the hooks tree.
    public func write(into hooks: URL) throws {
        let fm = FileManager.default
        let tsv = entries.map { entry in
            [
                entry.phase, entry.uninstall ? "uninstall" : "install", entry.package, entry.element,
                entry.when.joined(separator: ";"),
            ].joined(separator: "\t")
        }
        try (tsv.joined(separator: "\n") + (tsv.isEmpty ? "" : "\n"))
            .write(to: hooks.appendingPathComponent("package-installs.tsv"), atomically: true, encoding: .utf8)
        let mapDir = hooks.appendingPathComponent("pkg-map.d")
        try fm.createDirectory(at: mapDir, withIntermediateDirectories: true)
        for (element, lines) in pkgMaps {
            try (lines.joined(separator: "\n") + "\n")
                .write(to: mapDir.appendingPathComponent(element), atomically: true, encoding: .utf8)
        }
    }
}
