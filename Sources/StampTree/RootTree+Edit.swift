/// Looking up and adding entries in the model, the way a chroot of the tree would see its
/// paths, without touching the source directory.
///
/// ```
///  lookup("/boot/grub/grub.cfg")      /  ─ boot ─ grub ─ grub.cfg
///    each component in the parent's     symlinks resolved inside the model: an absolute
///    sorted children (binary search)    target from the tree's root, ".." never above it,
///                                       at most 40 of them (ELOOP as the kernel counts)
///  setFile("/etc/fstab", .bytes(…))   replaces the entry in place (a symlink there becomes
///                                       a file; a hard-linked name is split off), or adds it,
///                                       with missing parent directories (0755, root)
/// ```
public enum TreeEditError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A component of `path` is not a directory in the tree (or a symlink loop).
    case notADirectory(path: String)
    /// `path` names a directory where a file was to be written.
    case isADirectory(path: String)

    public var description: String {
        switch self {
        case .notADirectory(let path): return "\(path): a component is not a directory in the tree"
        case .isADirectory(let path): return "\(path): is a directory in the tree"
        }
    }
}

extension RootTree {
    static let maximumSymlinks = 40

    /// The child of directory `parent` named `name`, by binary search of its sorted children.
    public func child(of parent: Int, named name: [UInt8]) -> Int? {
        let children = entries[parent].children
        var low = 0
        var high = children.count
        while low < high {
            let mid = (low + high) / 2
            let n = entries[Int(children[mid])].name
            if n == name { return Int(children[mid]) }
            if n.lexicographicallyPrecedes(name) { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// The entry `path` names inside the tree (absolute or relative to the root), following
    /// symlinks inside the model (the final one too unless `followFinal` is false); nil when
    /// nothing is there, a component is not a directory, or symlinks loop.
    public func lookup(_ path: String, followFinal: Bool = true) -> Int? {
        var budget = Self.maximumSymlinks
        return resolve(Array(path.utf8), from: 0, followFinal: followFinal, budget: &budget)
    }

    private func resolve(_ path: [UInt8], from start: Int, followFinal: Bool, budget: inout Int) -> Int? {
        var current = path.first == 0x2F ? 0 : start
        let parts = path.split(separator: 0x2F, omittingEmptySubsequences: true)
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            if part.elementsEqual([0x2E]) { continue }
            guard entries[current].kind == .directory else { return nil }
            if part.elementsEqual([0x2E, 0x2E]) {
                current = Int(entries[current].parent)
                continue
            }
            guard var next = child(of: current, named: Array(part)) else { return nil }
            if entries[next].kind == .symlink && (!last || followFinal) {
                budget -= 1
                guard budget >= 0, let target = entries[next].symlinkTarget,
                    let resolved = resolve(target, from: current, followFinal: true, budget: &budget)
                else { return nil }
                next = resolved
            }
            current = next
        }
        return current
    }

    /// Entries owned by `uid` become root's, those of group `gid` root's group.
    public func mapOwner(uid: UInt32, gid: UInt32) {
        for i in entries.indices {
            if entries[i].uid == uid { entries[i].uid = 0 }
            if entries[i].gid == gid { entries[i].gid = 0 }
        }
    }

    /// The directory `path`, created (with its missing parents: mode 0755, owned by root,
    /// times `time`) where absent. Symlinks on the way are followed inside the model.
    @discardableResult
    public func makeDirectories(_ path: String, time: Timestamp) throws(TreeEditError) -> Int {
        var current = 0
        var walked = ""
        for part in path.split(separator: "/") where part != "." {
            walked += "/" + part
            if part == ".." {
                current = Int(entries[current].parent)
                continue
            }
            if let found = lookup(walked) {
                guard entries[found].kind == .directory else { throw .notADirectory(path: walked) }
                current = found
                continue
            }
            if let existing = child(of: current, named: Array(part.utf8)), entries[existing].kind != .directory {
                throw .notADirectory(path: walked)
            }
            current = insert(
                newEntry(name: Array(part.utf8), parent: current, kind: .directory, mode: 0o040755, time: time), into: current)
        }
        return current
    }

    /// Writes a regular file at `path` in the model: replaces what is there (its owner and
    /// permissions kept when it was a regular file; a symlink is replaced, not followed) or
    /// adds it with `mode` and root as owner. Parents are created as ``makeDirectories(_:time:)``.
    @discardableResult
    public func setFile(_ path: String, content: EntryContent, mode: UInt32 = 0o644, time: Timestamp) throws(TreeEditError) -> Int
    {
        let parts = path.split(separator: "/")
        guard let leaf = parts.last.map({ Array($0.utf8) }), leaf != [0x2E], leaf != [0x2E, 0x2E] else {
            throw .isADirectory(path: path)
        }
        let parent = try makeDirectories(parts.dropLast().joined(separator: "/"), time: time)
        let size: UInt64
        switch content {
        case .source: size = 0
        case .bytes(let bytes): size = UInt64(bytes.count)
        case .entry(let other): size = entries[Int(other)].size
        case .member: size = 0  // only a model built from layers makes these
        }
        if let existing = child(of: parent, named: leaf) {
            var entry = entries[existing]
            guard entry.kind != .directory else { throw .isADirectory(path: path) }
            splitHardLink(existing)
            entry = entries[existing]
            if entry.kind != .regular {
                entry.mode = 0o100000 | (mode & 0o7777)
                entry.uid = 0
                entry.gid = 0
                entry.xattrs = []
                entry.symlinkTarget = nil
            }
            entry.kind = .regular
            entry.content = content
            entry.size = size
            entry.dataRegions = nil
            entry.linkCount = 1
            entry.modificationTime = time
            entry.changeTime = time
            entries[existing] = entry
            return existing
        }
        var entry = newEntry(name: leaf, parent: parent, kind: .regular, mode: 0o100000 | (mode & 0o7777), time: time)
        entry.content = content
        entry.size = size
        return insert(entry, into: parent)
    }

    /// Makes entry `index` an inode of its own: if it is a later name of a hard-linked file it
    /// takes the first name's attributes; if it is the first name, the next name becomes the
    /// first and keeps the data.
    private func splitHardLink(_ index: Int) {
        if let first = entries[index].hardLinkOf {
            var copy = entries[Int(first)]
            copy.name = entries[index].name
            copy.parent = entries[index].parent
            copy.children = []
            copy.hardLinkOf = nil
            entries[index] = copy
            return
        }
        let others = entries.indices.filter { entries[$0].hardLinkOf == Int32(index) }
        guard let heir = others.first else { return }
        var copy = entries[index]
        copy.name = entries[heir].name
        copy.parent = entries[heir].parent
        copy.hardLinkOf = nil
        entries[heir] = copy
        for other in others.dropFirst() { entries[other].hardLinkOf = Int32(heir) }
    }

    private func newEntry(name: [UInt8], parent: Int, kind: FileKind, mode: UInt32, time: Timestamp) -> Entry {
        Entry(
            name: name, parent: Int32(parent), kind: kind, mode: mode, uid: 0, gid: 0, size: 0, accessTime: time,
            modificationTime: time, changeTime: time, creationTime: nil, deviceMajor: 0, deviceMinor: 0,
            linkCount: kind == .directory ? 2 : 1, hardLinkOf: nil, xattrs: [], symlinkTarget: nil, dataRegions: nil,
            children: [])
    }

    /// Appends `entry` and lists it in `parent`'s children at its sorted place.
    private func insert(_ entry: Entry, into parent: Int) -> Int {
        let index = entries.count
        entries.append(entry)
        var children = entries[parent].children
        let position = children.firstIndex { !entries[Int($0)].name.lexicographicallyPrecedes(entry.name) } ?? children.count
        children.insert(Int32(index), at: position)
        entries[parent].children = children
        return index
    }
}
