/// GRUB's `moddep.lst` (one line per module: `name: dep dep …`) and the order in which
/// `grub-mkimage` embeds a module set: each module after everything it depends on, as
/// GRUB's `util/resolve.c` visits them, so that an image of ours carries the same modules in
/// the same order as `grub-mkimage`'s (the kernel links each module against those before it).
///
/// The file comes from the tree and is untrusted: lines, names and depth are bounded, a
/// dependency cycle is cut where `grub-mkimage` would recurse forever, and a name must be a
/// plain file name.
struct GrubModuleList {
    /// Dependencies per module, each list in the order `resolve.c` walks it (the line's
    /// order reversed); for a module listed twice, the last line wins, as there.
    private var dependencies: [String: [String]] = [:]

    static let maximumLines = 4096
    static let maximumDepth = 64

    init(text: String, path: String) throws(BootError) {
        var count = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            count += 1
            guard count <= Self.maximumLines else {
                throw .invalidGrubFile(path: path, reason: "more than \(Self.maximumLines) lines")
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw .invalidGrubFile(path: path, reason: "line \(count) has no ':'")
            }
            let name = String(line[..<colon])
            let deps = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(
                String.init)
            for n in [name] + deps where !Self.isPlainName(n) {
                throw .invalidGrubFile(path: path, reason: "line \(count): '\(n.prefix(64))' is not a module name")
            }
            dependencies[name] = deps.reversed()
        }
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && !name.contains("/") && name != "." && name != ".."
            && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// `modules` and everything they need, dependencies first.
    func resolve(_ modules: [String], path: String) throws(BootError) -> [String] {
        var added: Set<String> = []
        var order: [String] = []
        var visiting: Set<String> = []
        func add(_ name: String, depth: Int) throws(BootError) {
            guard !added.contains(name), !visiting.contains(name) else { return }
            guard depth <= Self.maximumDepth else {
                throw .invalidGrubFile(path: path, reason: "dependencies nest deeper than \(Self.maximumDepth)")
            }
            visiting.insert(name)
            for dep in dependencies[name] ?? [] { try add(dep, depth: depth + 1) }
            visiting.remove(name)
            added.insert(name)
            order.append(name)
        }
        for m in modules { try add(m, depth: 0) }
        return order
    }
}
