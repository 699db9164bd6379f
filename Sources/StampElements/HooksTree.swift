import Foundation

/// The merged hooks tree (`$TMP_HOOKS_PATH`): every element's subdirectories laid on top of
/// each other, as DIB's `generate_hooks` does.
///
/// Rules, in DIB's words and ours:
/// - every subdirectory of every element (except `tests` and `__pycache__`) is merged into
///   `hooks/<subdir>/`;
/// - each *direct* entry of such a subdirectory is copied; if a **file** of that name already
///   came from another element, that is a duplicated hook and the build must not start
///   (`environment.d`, `bin` and phase script names are therefore unique across elements);
/// - a direct entry that is a *directory* merges with the same directory from other elements,
///   and deeper files silently overwrite (e.g. `static/etc/...`);
/// - top-level files of every element are copied into the hooks root, last one wins.
///
/// Inside the chroot the tree is bind-mounted read-only at chroot-relative `tmp/in_target.d`.
public struct HooksTree: Sendable {
    /// Subdirectories never merged (DIB excludes them: python unit tests).
    static let excludedDirectories: Set<String> = ["tests", "__pycache__", "test-elements"]

    /// One entry of the merged tree: `relativePath` (e.g. `install.d/50-foo`) and its source.
    public struct Entry: Sendable, Equatable {
        public var relativePath: String
        public var source: URL
        public var element: String
        public var isDirectory: Bool
    }

    /// Entries in copy order.
    public let entries: [Entry]
    /// The element each hook file came from, keyed by `relativePath` (for error messages).
    public let origins: [String: String]

    /// Plans the merge without touching the disk.
    /// - Throws: ``ElementProblems`` listing every duplicated hook.
    public init(elements: [Element]) throws(ElementProblems) {
        let fm = FileManager.default
        var entries: [Entry] = []
        var owner: [String: (element: String, isDirectory: Bool)] = [:]
        var problems: [ElementError] = []
        for element in elements {
            let names = ((try? fm.contentsOfDirectory(atPath: element.path.path)) ?? []).sorted()
            for name in names where !name.hasPrefix(".") {
                let url = element.path.appendingPathComponent(name)
                if Self.isDirectory(url) {
                    if Self.excludedDirectories.contains(name) { continue }
                    let children = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
                    for child in children {
                        let source = url.appendingPathComponent(child)
                        let relative = name + "/" + child
                        let childIsDirectory = Self.isDirectory(source)
                        if let previous = owner[relative] {
                            if !(previous.isDirectory && childIsDirectory) {
                                problems.append(
                                    .duplicateHook(element: element.name, path: relative, firstElement: previous.element))
                                continue
                            }
                        } else {
                            owner[relative] = (element.name, childIsDirectory)
                        }
                        entries.append(
                            Entry(
                                relativePath: relative, source: source, element: element.name,
                                isDirectory: childIsDirectory))
                    }
                } else {
                    entries.append(Entry(relativePath: name, source: url, element: element.name, isDirectory: false))
                }
            }
        }
        try ElementProblems(problems).throwIfAny()
        self.entries = entries
        self.origins = owner.mapValues(\.element)
    }

    /// Copies the planned entries into `destination` (created), preserving modes and symbolic
    /// links; directories merge.
    public func materialize(at destination: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        for entry in entries {
            let target = destination.appendingPathComponent(entry.relativePath)
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Self.copyMerging(from: entry.source, to: target)
        }
    }

    /// The phase scripts the tree will run, for a dry-run plan.
    public func scripts(in phase: Phase) -> [String] {
        let prefix = phase.directory + "/"
        let names = entries.filter { $0.relativePath.hasPrefix(prefix) && !$0.isDirectory }
            .map { String($0.relativePath.dropFirst(prefix.count)) }
        return RunParts.order(names.filter { RunParts.isRunnableName($0) })
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// `cp -a`-like copy: symbolic links stay links, modes are kept, directories merge and
    /// files inside them overwrite.
    static func copyMerging(from source: URL, to target: URL) throws {
        let fm = FileManager.default
        let attributes = try fm.attributesOfItem(atPath: source.path)
        let type = attributes[.type] as? FileAttributeType
        if type == .typeSymbolicLink {
            if (try? fm.attributesOfItem(atPath: target.path)) != nil { try fm.removeItem(at: target) }
            try fm.createSymbolicLink(atPath: target.path, withDestinationPath: fm.destinationOfSymbolicLink(atPath: source.path))
        } else if type == .typeDirectory {
            if !isDirectory(target) {
                try fm.createDirectory(at: target, withIntermediateDirectories: true)
                if let mode = attributes[.posixPermissions] {
                    try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: target.path)
                }
            }
            for child in try fm.contentsOfDirectory(atPath: source.path) {
                try copyMerging(from: source.appendingPathComponent(child), to: target.appendingPathComponent(child))
            }
        } else {
            if (try? fm.attributesOfItem(atPath: target.path)) != nil { try fm.removeItem(at: target) }
            try fm.copyItem(at: source, to: target)
            if let mode = attributes[.posixPermissions] {
                try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: target.path)
            }
        }
    }
}
