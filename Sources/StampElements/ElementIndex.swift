import Foundation
import Logging

/// One element: a directory whose name is the element's name (DIB's on-disk format).
///
/// ```
/// <name>/
///   element-deps          newline list of elements this one needs
///   element-provides      newline list of (virtual) names this one satisfies
///   environment.d/        shell snippets sourced before every phase
///   <phase>.d/NN-name     hook scripts, run by dib-run-parts
///   bin/ static/ pkg-map package-installs.yaml block-device-default.yaml README.rst ...
/// ```
public struct Element: Sendable, Equatable, Hashable {
    /// The directory name, which is the element's name.
    public var name: String
    /// The element's directory (symbolic links resolved).
    public var path: URL
    /// Names from `element-deps` (blank lines ignored, no comment syntax, as in DIB).
    public var dependencies: [String]
    /// Names from `element-provides`.
    public var provides: [String]

    public init(name: String, path: URL, dependencies: [String], provides: [String]) {
        self.name = name
        self.path = path
        self.dependencies = dependencies
        self.provides = provides
    }

    /// Reads an element directory.
    public init(directory: URL) {
        let path = directory.resolvingSymlinksInPath()
        self.init(
            name: directory.lastPathComponent, path: path,
            dependencies: Element.readList(path.appendingPathComponent("element-deps")),
            provides: Element.readList(path.appendingPathComponent("element-provides")))
    }

    /// DIB's list format: one name per line, surrounding space trimmed, blank lines ignored.
    static func readList(_ file: URL) -> [String] {
        guard let text = SmallFile.text(file.path) else { return [] }
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }
}

/// Every element visible through `ELEMENTS_PATH` plus the built-in elements directory.
///
/// DIB's rules: the search path is `ELEMENTS_PATH` (colon list) with the built-in directory
/// always appended; every entry must be a directory; each subdirectory of an entry is an
/// element; a name found in an earlier entry overrides the same name in a later one (whole
/// element, no merging), with a warning `element <a> overrides <b>`.
///
/// Exception: the elements in ``nativeElements`` always come from the built-in directory.
/// DIB's `bootloader` runs `grub-install` on the loop device of the image (`IMAGE_BLOCK_DEVICE`);
/// stamp has no such device and writes the boot code itself, so its own `bootloader` (GRUB's
/// files and configuration for that writer) replaces one found on `ELEMENTS_PATH`, with a warning.
public struct ElementIndex: Sendable {
    /// Elements whose built-in version wins over `ELEMENTS_PATH`.
    public static let nativeElements: [String] = ["bootloader"]

    /// The search path actually used, earliest (strongest) first.
    public let searchPath: [URL]
    /// The winning element for each name.
    public let elements: [String: Element]
    /// Elements hidden by an earlier entry, for `stamp elements` and for the log.
    public let overridden: [(winner: Element, hidden: Element)]

    /// Scans the search path.
    ///
    /// - Parameters:
    ///   - elementsPath: the `ELEMENTS_PATH` value (colon list), or nil.
    ///   - builtinDirectory: stamp's own `Elements/` directory, appended last.
    ///   - logger: receives one warning per override.
    /// - Throws: ``ElementProblems`` listing every entry that is not a directory.
    public init(elementsPath: String?, builtinDirectory: URL?, logger: Logger? = nil) throws(ElementProblems) {
        var entries: [URL] = []
        for part in (elementsPath ?? "").split(separator: ":", omittingEmptySubsequences: true) {
            entries.append(URL(fileURLWithPath: String(part)))
        }
        if let builtinDirectory { entries.append(builtinDirectory) }
        var problems: [ElementError] = []
        var found: [String: Element] = [:]
        var overridden: [(winner: Element, hidden: Element)] = []
        let fm = FileManager.default
        for entry in entries {
            if let reason = Self.notADirectory(entry.path) {
                problems.append(.invalidElementsDirectory(path: entry.path, reason: reason))
                continue
            }
            let names = ((try? fm.contentsOfDirectory(atPath: entry.path)) ?? []).sorted()
            for name in names where !name.hasPrefix(".") {
                let dir = entry.appendingPathComponent(name)
                var sub: ObjCBool = false
                guard fm.fileExists(atPath: dir.path, isDirectory: &sub), sub.boolValue else { continue }
                let element = Element(directory: dir)
                if let winner = found[name] {
                    if winner.path != element.path {
                        overridden.append((winner, element))
                        logger?.warning("element \(winner.path.path) overrides \(element.path.path)")
                    }
                    continue
                }
                found[name] = element
            }
        }
        try ElementProblems(problems).throwIfAny()
        // Elements stamp implements natively keep their built-in version.
        if let builtinDirectory {
            for name in Self.nativeElements {
                let builtin = Element(directory: builtinDirectory.appendingPathComponent(name))
                guard let winner = found[name], winner.path.standardizedFileURL != builtin.path.standardizedFileURL,
                    fm.fileExists(atPath: builtin.path.path)
                else { continue }
                overridden.removeAll { $0.winner.path == winner.path && $0.hidden.name == name }
                overridden.append((builtin, winner))
                found[name] = builtin
                logger?.warning(
                    "element \(winner.path.path) is not used: stamp writes the boot code itself and keeps its own \(builtin.path.path)"
                )
            }
        }
        self.searchPath = entries
        self.elements = found
        self.overridden = overridden
    }

    /// Why `path` cannot serve as an elements directory, or nil when it is a directory.
    static func notADirectory(_ path: String) -> String? {
        var st = stat()
        if stat(path, &st) == 0 {
            return (st.st_mode & S_IFMT) == S_IFDIR ? nil : "is not a directory"
        }
        let reason = String(cString: strerror(errno))
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            return "is a broken symbolic link (to \(target))"
        }
        return errno == ENOENT ? "does not exist" : "cannot be read: \(reason.prefix(1).lowercased() + reason.dropFirst())"
    }

    /// `element-deps` and `element-provides` files that exist but cannot be read as text (a
    /// directory, no permission, not UTF-8): DIB would fail on them, so the build must not
    /// go on as if they were empty.
    public static func unreadableLists(of element: Element) -> [ElementError] {
        var problems: [ElementError] = []
        for name in ["element-deps", "element-provides"] {
            let file = element.path.appendingPathComponent(name).path
            var st = stat()
            guard lstat(file, &st) == 0 else { continue }
            if stat(file, &st) != 0 {
                problems.append(.invalidElementFile(element: element.name, path: name, reason: "is a broken symbolic link"))
            } else if (st.st_mode & S_IFMT) != S_IFREG {
                problems.append(.invalidElementFile(element: element.name, path: name, reason: "is not a regular file"))
            } else if let data = SmallFile.read(file) {
                if String(validating: data, as: UTF8.self) == nil {
                    problems.append(.invalidElementFile(element: element.name, path: name, reason: "is not UTF-8 text"))
                }
            } else {
                problems.append(.invalidElementFile(element: element.name, path: name, reason: "cannot be read"))
            }
        }
        return problems
    }

    /// An index over explicit elements (tests, previews).
    public init(elements: [Element]) {
        self.searchPath = []
        self.elements = Dictionary(elements.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.overridden = []
    }
}
