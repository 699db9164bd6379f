import StampArchive
import StampTree

/// The tree model of an image, built straight from its layers: nothing is unpacked.
///
/// The metadata pass reads every layer's tar headers, bottom first, and applies each member
/// to an in-memory model with the OCI changeset rules, as ``LayerApplier`` (and
/// `umoci unpack`) apply them to a directory:
///
/// ```
///  layer 0 … n ─headers─► LayerModel (nodes by name, inodes shared by hard links)
///      .wh..wh..opq   the parent's lower-layer children dropped (this layer's kept)
///      .wh.NAME       the lower layers' NAME dropped, a whole subtree for a directory
///      directory      merged with a directory already there (its metadata replaced)
///      anything else  what is at the name dropped first, then the member recorded:
///                     owner, mode, ns times, xattrs (capabilities, POSIX ACLs), device
///                     numbers, symlink target; a regular file as (layer, member), its
///                     data left in the blob; a hard link as one more name of an inode
///  ─► RootTree (entries sorted by name; files' content .member(layer:member:))
/// ```
///
/// The data pass is the ext4 writer's: it reads the members through ``LayerMembers`` in
/// (layer, member) order. Memory is O(entries): names, metadata and xattrs, never data.
/// The hostile-input rules are ``LayerApplier``'s: names are normalized (absolute and `..`
/// refused), a path through a symlink or a non-directory is refused, hard links must name
/// an existing non-directory, depth is bounded, and every member's size (with its xattrs
/// and link target) counts against the ``ExpansionBudget``.
public enum LayerTree {
    /// The most members all layers together may hold: a distribution's root holds a few
    /// hundred thousand; each costs a few hundred bytes of memory here (at most ~1.5 GB).
    public static let maximumMembers = 4_000_000

    /// Builds the model of the layers at `files` (bottom first; verified blobs, compressed as
    /// pulled). `names` name them in messages (`layer 2 sha256:…`). The root is 0755 root:root
    /// at `rootTime` unless a layer lists it; directories a layer implies without listing
    /// them get the same.
    public static func build(
        files: [String], names: [String], budget: ExpansionBudget, rootTime: Timestamp, treeName: String
    ) throws -> RootTree {
        // Identities first: the data pass reads only blobs that are still these files.
        let members = LayerMembers(files: files, names: names)
        var model = LayerModel(rootTime: rootTime)
        for (index, file) in files.enumerated() {
            try OCIError.rethrowingArchiveErrors {
                try model.applyLayer(file, layer: Int32(index), name: names[index], budget: budget)
            }
        }
        return RootTree(name: treeName, entries: model.entries(), memberData: members)
    }
}

/// The image's tree while the layers' headers are applied.
struct LayerModel {
    /// One name in the tree. Removed nodes are only unlinked from their parent.
    struct Node {
        var name: [UInt8]
        var parent: Int32
        var inode: Int32
        /// The layer whose member made this name, or -1 for a directory implied by a path.
        var createdIn: Int32
        var children: [[UInt8]: Int32] = [:]
    }

    /// What names share when hard-linked: everything but the name.
    struct Inode {
        var kind: FileKind
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var size: UInt64 = 0
        var accessTime: Timestamp
        var modificationTime: Timestamp
        var deviceMajor: UInt32 = 0
        var deviceMinor: UInt32 = 0
        var xattrs: [ExtendedAttribute] = []
        var symlinkTarget: [UInt8]?
        var content: EntryContent = .bytes([])
    }

    var nodes: [Node]
    var inodes: [Inode]
    let rootTime: Timestamp
    var members = 0

    init(rootTime: Timestamp) {
        self.rootTime = rootTime
        inodes = [Inode(kind: .directory, mode: 0o040755, uid: 0, gid: 0, accessTime: rootTime, modificationTime: rootTime)]
        nodes = [Node(name: [], parent: 0, inode: 0, createdIn: -1)]
    }

    mutating func applyLayer(_ path: String, layer: Int32, name: String, budget: ExpansionBudget) throws {
        let gzip = try GzipLayerStream.open(path)
        defer { gzip?.close() }
        let reader = try gzip.map { try ArchiveReader(name: path, source: $0) } ?? ArchiveReader(path: path)
        defer { reader.close() }
        var ordinal: Int32 = 0
        while let member = try reader.next() {
            defer { ordinal += 1 }
            members += 1
            if members > LayerTree.maximumMembers {
                throw OCIError.hostileMember(
                    layer: name, path: LayerPath.display(member.path),
                    reason: "the layers hold more than \(LayerTree.maximumMembers) entries")
            }
            let xattrs = member.extendedAttributes
            // What the model keeps of the member beyond its data: name, link targets, xattrs.
            let names = member.path.count + (member.symlinkTarget?.count ?? 0) + (member.hardLink?.count ?? 0)
            let extra = xattrs.reduce(UInt64(names)) { $0 + UInt64($1.name.count + $1.value.count) }
            try budget.spend(UInt64(max(0, member.size)) &+ extra, layer: name)
            try apply(member, xattrs: xattrs, layer: layer, ordinal: ordinal, name: name)
        }
        try gzip?.drain()
    }

    // MARK: - one member

    mutating func apply(
        _ member: ArchiveMember, xattrs: [(name: [UInt8], value: [UInt8])], layer: Int32, ordinal: Int32, name layerName: String
    ) throws {
        let path = try LayerPath.normalizeBytes(member.path, layer: layerName)
        func hostile(_ reason: String, _ at: [UInt8] = []) -> OCIError {
            OCIError.hostileMember(layer: layerName, path: LayerPath.display(at.isEmpty ? path : at), reason: reason)
        }
        let hostileAt: (String, [UInt8]) -> OCIError = { hostile($0, $1) }
        if path.lazy.filter({ $0 == LayerPath.slash }).count >= LayerApplier.maximumDepth {
            throw OCIError.hostileMember(
                layer: layerName, path: LayerPath.display(Array(path.prefix(120))) + "…",
                reason: "nested deeper than \(LayerApplier.maximumDepth) directories")
        }
        let (parentPath, name) = LayerPath.split(path)
        let whiteout = Array(".wh.".utf8)
        if name.starts(with: whiteout) {
            guard let parent = try directory(parentPath, creating: false, member: path, hostile: hostileAt) else { return }
            if name == Array(".wh..wh..opq".utf8) {
                removeChildren(of: parent, keepingCreatedIn: layer)
            } else if name.starts(with: whiteout + whiteout) {
                return  // AUFS's own metadata (.wh..wh.plnk): not a whiteout of anything
            } else {
                let hidden = Array(name.dropFirst(whiteout.count))
                guard !hidden.isEmpty, hidden != [LayerPath.dot], hidden != [LayerPath.dot, LayerPath.dot] else {
                    throw hostile("a whiteout that names no entry ('\(LayerPath.display(hidden))')")
                }
                if let target = nodes[Int(parent)].children[hidden], nodes[Int(target)].createdIn != layer {
                    nodes[Int(parent)].children[hidden] = nil
                }
            }
            return
        }
        // A hard link's own type bits are not its target's (libarchive reports them as a
        // regular file's, or none): the target decides.
        guard let kind = FileKind(mode: member.fileType) ?? (member.hardLink != nil ? .regular : nil) else {
            throw hostile("unsupported member type (mode \(String(member.mode, radix: 8)))")
        }
        guard (0...Int64(UInt32.max)).contains(member.uid), (0...Int64(UInt32.max)).contains(member.gid) else {
            throw hostile("owner \(member.uid):\(member.gid) is out of range")
        }
        let times = member.times
        var inode = Inode(
            kind: kind, mode: member.mode, uid: UInt32(member.uid), gid: UInt32(member.gid),
            accessTime: Timestamp(seconds: Int64(times.access.tv_sec), nanoseconds: UInt32(clamping: times.access.tv_nsec)),
            modificationTime: Timestamp(
                seconds: Int64(times.modification.tv_sec), nanoseconds: UInt32(clamping: times.modification.tv_nsec)))
        inode.xattrs = xattrs.map { ExtendedAttribute(name: $0.name, value: $0.value) }
        if path.isEmpty {
            guard kind == .directory, member.hardLink == nil else {
                throw hostile("the root is not a directory", [LayerPath.dot])
            }
            inodes[0] = inode
            return
        }
        let parent = try directory(parentPath, creating: true, member: path, hostile: hostileAt)!
        if let existing = nodes[Int(parent)].children[name] {
            if kind == .directory && member.hardLink == nil && inodes[Int(nodes[Int(existing)].inode)].kind == .directory {
                // Merged: the lower directory's children stay, its metadata is the member's.
                inodes[Int(nodes[Int(existing)].inode)] = inode
                nodes[Int(existing)].createdIn = layer
                return
            }
            nodes[Int(parent)].children[name] = nil
        }
        let inodeIndex: Int32
        if let link = member.hardLink {
            let target = try LayerPath.normalizeBytes(link, layer: layerName)
            let (targetParent, targetName) = LayerPath.split(target)
            guard let directory = try directory(targetParent, creating: false, member: target, hostile: hostileAt),
                let found = target.isEmpty ? 0 : nodes[Int(directory)].children[targetName]
            else { throw hostile("hard link to '\(LayerPath.display(target))', which does not exist") }
            guard inodes[Int(nodes[Int(found)].inode)].kind != .directory else { throw hostile("hard link to a directory") }
            inodeIndex = nodes[Int(found)].inode
        } else {
            switch kind {
            case .regular:
                inode.size = UInt64(max(0, member.size))
                inode.content = .member(layer: layer, member: ordinal)
            case .symlink:
                let target = member.symlinkTarget ?? []
                guard !target.isEmpty else { throw hostile("a symlink with no target") }
                inode.symlinkTarget = target
                inode.size = UInt64(target.count)
            case .characterDevice, .blockDevice:
                inode.deviceMajor = member.deviceMajor
                inode.deviceMinor = member.deviceMinor
            default:
                break
            }
            inodeIndex = Int32(inodes.count)
            inodes.append(inode)
        }
        let node = Int32(nodes.count)
        nodes.append(Node(name: name, parent: parent, inode: inodeIndex, createdIn: layer))
        nodes[Int(parent)].children[name] = node
    }

    /// The directory node at `path`: each component must be a directory (a symlink or any
    /// other file on the way is refused, as a layer could otherwise write through it);
    /// missing ones are made (0755, root, the root's time, implied by no member) when
    /// `creating`, else nil is returned.
    mutating func directory(
        _ path: [UInt8], creating: Bool, member: [UInt8], hostile: (String, [UInt8]) -> OCIError
    ) throws -> Int32? {
        var current: Int32 = 0
        var prefix: [UInt8] = []
        for component in path.split(separator: LayerPath.slash) {
            let name = Array(component)
            prefix = LayerPath.join(prefix, name)
            guard let next = nodes[Int(current)].children[name] else {
                guard creating else { return nil }
                inodes.append(
                    Inode(kind: .directory, mode: 0o040755, uid: 0, gid: 0, accessTime: rootTime, modificationTime: rootTime))
                let made = Int32(nodes.count)
                nodes.append(Node(name: name, parent: current, inode: Int32(inodes.count - 1), createdIn: -1))
                nodes[Int(current)].children[name] = made
                current = made
                continue
            }
            switch inodes[Int(nodes[Int(next)].inode)].kind {
            case .directory: current = next
            case .symlink: throw hostile("path goes through the symlink '\(LayerPath.display(prefix))'", member)
            default: throw hostile("'\(LayerPath.display(prefix))' is not a directory", member)
            }
        }
        return current
    }

    /// Drops a directory's children; those `layer` made stay (and directories among them
    /// lose only their children from lower layers), as an opaque whiteout asks.
    mutating func removeChildren(of directory: Int32, keepingCreatedIn layer: Int32) {
        for (name, child) in nodes[Int(directory)].children {
            if nodes[Int(child)].createdIn == layer {
                if inodes[Int(nodes[Int(child)].inode)].kind == .directory { removeChildren(of: child, keepingCreatedIn: layer) }
            } else {
                nodes[Int(directory)].children[name] = nil
            }
        }
    }

    // MARK: - the tree model

    /// The model's entries: the root first, then breadth first, each directory's children
    /// sorted by name bytes. The first name of a hard-linked inode holds its metadata and
    /// data; later names point to it (``Entry/hardLinkOf``).
    func entries() -> [Entry] {
        var out: [Entry] = []
        var firstName = [Int32](repeating: -1, count: inodes.count)
        var names = [UInt32](repeating: 0, count: inodes.count)
        var queue: [(node: Int32, parent: Int32)] = [(0, 0)]
        var head = 0
        while head < queue.count {
            let (node, parent) = queue[head]
            head += 1
            let index = Int32(out.count)
            let inodeIndex = Int(nodes[Int(node)].inode)
            let inode = inodes[inodeIndex]
            var entry = Entry(
                name: nodes[Int(node)].name, parent: parent, kind: inode.kind, mode: inode.mode, uid: inode.uid, gid: inode.gid,
                size: inode.size, accessTime: inode.accessTime, modificationTime: inode.modificationTime,
                changeTime: inode.modificationTime, creationTime: nil, deviceMajor: inode.deviceMajor,
                deviceMinor: inode.deviceMinor, linkCount: 1, hardLinkOf: nil, xattrs: inode.xattrs,
                symlinkTarget: inode.symlinkTarget, dataRegions: nil, children: [])
            entry.content = inode.content
            if inode.kind != .directory {
                names[inodeIndex] += 1
                if firstName[inodeIndex] >= 0 { entry.hardLinkOf = firstName[inodeIndex] } else { firstName[inodeIndex] = index }
            }
            out.append(entry)
            let children = nodes[Int(node)].children.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            let first = Int32(queue.count)
            out[Int(index)].children = (0..<Int32(children.count)).map { first + $0 }
            for child in children { queue.append((child.value, index)) }
        }
        for i in out.indices where out[i].kind != .directory {
            out[i].linkCount = names[Int(nodes[Int(queue[i].node)].inode)]
        }
        return out
    }
}
