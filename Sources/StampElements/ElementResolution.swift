/// The expanded element set of one build: DIB's `_expand_element_dependencies`, but
/// reporting every problem at once.
///
/// The algorithm is a breadth-first walk from the requested names:
/// - a name already provided by an element in the set is skipped (so `block-device` is
///   satisfied by `block-device-mbr` when that was listed or reached first);
/// - an unknown name is an error naming the element that asked for it;
/// - each element's `element-provides` names are recorded; two providers of one name are an
///   error, and so is a requested element that another element provides;
/// - `operating-system` must be provided by something;
/// - the result is every reached name minus the provided names.
///
/// DIB returns an unordered set; here the order is the order of discovery, which makes logs
/// and tests deterministic without giving the order any meaning.
public struct ElementResolution: Sendable {
    /// The names asked for (after the implicit `base` / `block-device-*` additions).
    public let requested: [String]
    /// The final element set, in discovery order.
    public let elements: [Element]
    /// Which element provides each virtual name.
    public let providers: [String: String]

    /// Expands `requested` against `index`.
    ///
    /// - Parameter requireOperatingSystem: DIB always requires one; tests of small fixture
    ///   sets may turn it off.
    /// - Throws: ``ElementProblems`` with every unknown element, provider conflict and the
    ///   missing operating system, together.
    public init(requested: [String], index: ElementIndex, requireOperatingSystem: Bool = true) throws(ElementProblems) {
        var problems: [ElementError] = []
        if requested.isEmpty { throw ElementProblems([.noElements]) }
        var finalNames: [String] = []
        var inFinal = Set<String>()
        for name in requested where inFinal.insert(name).inserted { finalNames.append(name) }
        var queue: [(name: String, requiredBy: String?)] = finalNames.map { ($0, nil) }
        var provided: [String: [String]] = [:]
        var expanded = Set<String>()
        var missing = Set<String>()
        var head = 0
        while head < queue.count {
            let (name, requiredBy) = queue[head]
            head += 1
            if provided[name] != nil || expanded.contains(name) { continue }
            guard let element = index.elements[name] else {
                if missing.insert(name).inserted {
                    problems.append(.elementNotFound(name: name, requiredBy: requiredBy))
                }
                continue
            }
            expanded.insert(name)
            problems += ElementIndex.unreadableLists(of: element)
            for virtual in element.provides {
                provided[virtual, default: []].append(name)
            }
            for dep in element.dependencies {
                if inFinal.insert(dep).inserted { finalNames.append(dep) }
                if provided[dep] == nil && !expanded.contains(dep) {
                    queue.append((dep, name))
                }
            }
        }
        for (name, providers) in provided.sorted(by: { $0.key < $1.key }) where providers.count > 1 {
            problems.append(.providedTwice(name: name, providers: providers))
        }
        for name in requested {
            if let providers = provided[name], let provider = providers.first(where: { $0 != name }) {
                problems.append(.requestedButProvided(name: name, provider: provider))
            }
        }
        if requireOperatingSystem && provided["operating-system"] == nil && missing.isEmpty {
            problems.append(.noOperatingSystem)
        }
        try ElementProblems(problems).throwIfAny()
        self.requested = requested
        self.elements = finalNames.filter { provided[$0] == nil }.compactMap { index.elements[$0] }
        self.providers = provided.compactMapValues(\.first)
    }

    /// The element names, space-separated, as DIB exports `IMAGE_ELEMENT`.
    public var imageElement: String { elements.map(\.name).joined(separator: " ") }

    /// `IMAGE_ELEMENT_YAML`: a YAML map from element name to its directory.
    public var imageElementYAML: String {
        elements.map { "\($0.name): \($0.path.path)" }.joined(separator: "\n")
    }

    /// The engine's implicit addition: `base` first unless `skipBase`. DIB's other additions
    /// (a `block-device-*` element for `vm`) are StampDIB's, made before validation.
    public static func withBase(_ names: [String], skipBase: Bool) -> [String] {
        var result = names
        if !skipBase && !result.contains("base") { result.insert("base", at: 0) }
        return result
    }
}
