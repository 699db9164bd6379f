import StampArchive

#if canImport(Glibc)
    import Glibc
#endif

/// Applies image layers, bottom first, to a directory (the root tree), the way the OCI image
/// spec's changeset rules and `umoci unpack` do.
///
/// For each member of a layer, in tar order:
///
/// ```
/// name checked      absolute or ".." → refused; a parent that is a symlink → refused
/// .wh..wh..opq      parent made opaque: lower layers' children of it removed
/// .wh.NAME          lower layers' NAME removed (a whole subtree for a directory)
/// directory         created, or merged with the directory already there
/// anything else     whatever is at the name is removed first (a file is never written
///                   through an earlier hard link or symlink), then created by libarchive:
///                   owner, mode, ns times, xattrs (security.capability last), hard links
///                   (to names of this or lower layers), symlinks, devices, fifos
/// ```
///
/// Whiteouts hide only what lower layers made: names created earlier in the same layer are
/// kept, as the spec says. A directory that receives or loses children gets its times back
/// afterwards unless the layer itself lists it, so times are exactly the tar's.
///
/// Runs as root (owners, device nodes, `trusted.*` and `security.*` xattrs).
public struct LayerApplier {
    /// The directory the layers are applied to (created by the caller, empty at first).
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// The deepest a member may be (in directories below the root). Real images stay under a
    /// few dozen; a 2,100-level layer made scratch that path-based tools cannot remove
    /// (paths past PATH_MAX) and costs a descriptor walk per level.
    public static let maximumDepth = 1024

    /// Applies one layer file (tar, gzip, zstd). A gzip layer is inflated by
    /// ``GzipLayerStream`` on a second thread (ISA-L) while this one applies the tar; other
    /// compressions go through libarchive's own filters.
    /// - Parameter name: how messages name the layer (e.g. `layer 2 sha256:…`).
    /// - Throws: ``OCIError/hostileMember(layer:path:reason:)`` for traversal or a path
    ///   through a symlink, ``OCIError/archive(path:operation:message:)`` with libarchive's
    ///   (or the inflater's) message for corrupt or truncated data.
    /// - Parameter budget: counts each member's declared size before it is written; the
    ///   layer stops with ``OCIError/expansionLimit(what:detail:limit:)`` past its limit.
    public func apply(layerFile path: String, name: String, budget: ExpansionBudget? = nil) throws {
        try OCIError.rethrowingArchiveErrors { try applyLayer(path, name: name, budget: budget) }
    }

    /// Reads a layer's tar without writing anything, counting its members into `budget`
    /// (which throws past its limit): how many bytes the layer expands to.
    public static func measure(layerFile path: String, name: String, budget: ExpansionBudget) throws {
        try OCIError.rethrowingArchiveErrors {
            let gzip = try GzipLayerStream.open(path)
            defer { gzip?.close() }
            let reader = try gzip.map { try ArchiveReader(name: path, source: $0) } ?? ArchiveReader(path: path)
            defer { reader.close() }
            while let member = try reader.next() {
                try budget.spend(UInt64(max(0, member.size)), layer: name)
            }
            try gzip?.drain()
        }
    }

    private func applyLayer(_ path: String, name: String, budget: ExpansionBudget?) throws {
        let rootDirectory = try RootDirectory(path: Array(root.utf8))
        defer { rootDirectory.close() }
        var state = LayerState(root: Array(root.utf8), layer: name, rootDirectory: rootDirectory)
        let gzip = try GzipLayerStream.open(path)
        defer { gzip?.close() }
        let reader = try gzip.map { try ArchiveReader(name: path, source: $0) } ?? ArchiveReader(path: path)
        defer { reader.close() }
        let writer = try DiskWriter(path: name)
        while let member = try reader.next() {
            try budget?.spend(UInt64(max(0, member.size)), layer: name)
            try state.apply(member, reader: reader, writer: writer)
        }
        try gzip?.drain()
        try writer.close()
        state.restoreDirectoryTimes()
    }
}

/// What one layer's application tracks.
private struct LayerState {
    let root: [UInt8]
    let layer: String
    /// Names the layer has created so far (whiteouts leave them alone).
    var created: Set<[UInt8]> = []
    /// Directory times to set when the layer ends: those the layer lists (the tar's), and
    /// those it changed without listing (from before the change).
    var savedTimes: [[UInt8]: (timespec, timespec)] = [:]
    /// Directories known to be real directories (no symlink) in this layer; cleared when any
    /// directory is removed or replaced.
    var realDirectories: Set<[UInt8]> = [[]]

    /// The root, open: directory modes and times are set through it (never by path).
    let rootDirectory: RootDirectory

    init(root: [UInt8], layer: String, rootDirectory: RootDirectory) {
        self.root = root
        self.layer = layer
        self.rootDirectory = rootDirectory
    }

    func absolute(_ path: [UInt8]) -> [UInt8] { path.isEmpty ? root : root + [LayerPath.slash] + path }

    mutating func apply(_ member: ArchiveMember, reader: ArchiveReader, writer: DiskWriter) throws {
        let path = try LayerPath.normalizeBytes(member.path, layer: layer)
        if path.lazy.filter({ $0 == LayerPath.slash }).count >= LayerApplier.maximumDepth {
            throw OCIError.hostileMember(
                layer: layer, path: LayerPath.display(Array(path.prefix(120))) + "…",
                reason: "nested deeper than \(LayerApplier.maximumDepth) directories")
        }
        let (parent, name) = LayerPath.split(path)
        let whiteout = Array(".wh.".utf8)
        try checkParents(parent, member: path, creating: !name.starts(with: whiteout))
        if name.starts(with: whiteout) {
            if name == Array(".wh..wh..opq".utf8) {
                // An opaque directory the lower layers never had hides nothing.
                var st = stat()
                guard withCPath(absolute(parent), { lstat($0, &st) }) == 0 else { return }
                saveTimes(of: parent)
                try removeChildren(of: parent, keepingCreated: true)
            } else if name.starts(with: whiteout + whiteout) {
                // AUFS's own metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): not part of the tree,
                // and not a whiteout of anything; skipped, as containerd and umoci do.
                return
            } else {
                let hidden = Array(name.dropFirst(whiteout.count))
                guard !hidden.isEmpty, hidden != [LayerPath.dot], hidden != [LayerPath.dot, LayerPath.dot] else {
                    throw OCIError.hostileMember(
                        layer: layer, path: LayerPath.display(path),
                        reason: "a whiteout that names no entry ('\(LayerPath.display(hidden))')")
                }
                saveTimes(of: parent)
                let target = LayerPath.join(parent, hidden)
                if !created.contains(target) { try removeTree(target) }
            }
            return
        }
        if path.isEmpty {
            guard member.isDirectory else {
                throw OCIError.hostileMember(layer: layer, path: ".", reason: "the root is not a directory")
            }
        } else {
            saveTimes(of: parent)
            var st = stat()
            let exists = withCPath(absolute(path)) { lstat($0, &st) } == 0
            if exists {
                let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
                if !(isDirectory && member.isDirectory) {
                    try removeTree(path)
                }
            }
        }
        if let link = member.hardLink {
            let target = try LayerPath.normalizeBytes(link, layer: layer)
            let (targetParent, _) = LayerPath.split(target)
            try checkParents(targetParent, member: target)
            var st = stat()
            guard withCPath(absolute(target), { lstat($0, &st) }) == 0 else {
                throw OCIError.hostileMember(
                    layer: layer, path: LayerPath.display(path),
                    reason: "hard link to '\(LayerPath.display(target))', which does not exist")
            }
            guard (st.st_mode & S_IFMT) != S_IFDIR else {
                throw OCIError.hostileMember(
                    layer: layer, path: LayerPath.display(path), reason: "hard link to a directory")
            }
            member.setHardLink(bytes: absolute(target))
        }
        member.setPath(bytes: absolute(path))
        member.defaultAccessTimeToModificationTime()
        // A directory's mode and times are ours to set, through descriptors: libarchive would
        // defer them to the layer's end and apply them by path (see DiskWriter).
        try writer.setRestoresModesAndTimes(!member.isDirectory)
        try reader.extract(to: writer, member: LayerPath.display(path))
        created.insert(path)
        if member.isDirectory {
            try setDirectoryMode(path, member.mode & 0o7777)
            // Later changes inside it would move its times: the layer's end sets them.
            savedTimes[path] = member.times
        }
    }

    /// Sets a directory's mode through a descriptor reached beneath the root.
    func setDirectoryMode(_ path: [UInt8], _ mode: UInt32) throws {
        let fd = rootDirectory.openDirectory(path)
        guard fd >= 0 else {
            throw OCIError.system(path: LayerPath.display(absolute(path)), operation: "open directory", message: errnoText())
        }
        defer { close(fd) }
        if fchmod(fd, mode_t(mode)) != 0 {
            throw OCIError.system(path: LayerPath.display(absolute(path)), operation: "chmod", message: errnoText())
        }
    }

    /// Refuses a member whose parent path goes through a symlink or a non-directory; with
    /// `creating`, makes the missing ones.
    mutating func checkParents(_ parent: [UInt8], member: [UInt8], creating: Bool = false) throws {
        if realDirectories.contains(parent) { return }
        var prefix: [UInt8] = []
        for component in parent.split(separator: LayerPath.slash) {
            prefix = LayerPath.join(prefix, Array(component))
            if realDirectories.contains(prefix) { continue }
            var st = stat()
            if withCPath(absolute(prefix), { lstat($0, &st) }) != 0 {
                guard creating else { continue }
                // Missing: made here (0755), through descriptors, so that libarchive never
                // creates a parent (and never defers a fix-up of one).
                let made = rootDirectory.openDirectory(prefix, creating: true)
                guard made >= 0 else {
                    throw OCIError.system(path: LayerPath.display(absolute(prefix)), operation: "mkdir", message: errnoText())
                }
                close(made)
                realDirectories.insert(prefix)
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: realDirectories.insert(prefix)
            case S_IFLNK:
                throw OCIError.hostileMember(
                    layer: layer, path: LayerPath.display(member),
                    reason: "path goes through the symlink '\(LayerPath.display(prefix))'")
            default:
                throw OCIError.hostileMember(
                    layer: layer, path: LayerPath.display(member),
                    reason: "'\(LayerPath.display(prefix))' is not a directory")
            }
        }
    }

    /// Remembers a directory's times before the layer changes its entries, unless the layer
    /// listed it (then libarchive sets its times from the tar when the layer ends).
    mutating func saveTimes(of directory: [UInt8]) {
        if created.contains(directory) || savedTimes[directory] != nil { return }
        var st = stat()
        guard withCPath(absolute(directory), { lstat($0, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        savedTimes[directory] = (st.st_atim, st.st_mtim)
    }

    /// Sets the times of the directories the layer listed (from the tar) and puts back those
    /// of directories it changed without listing: each reached beneath the root through
    /// descriptors, never through a symlink (a directory no longer reachable so is skipped).
    func restoreDirectoryTimes() {
        for (directory, times) in savedTimes {
            let fd = rootDirectory.openDirectory(directory)
            guard fd >= 0 else { continue }
            var values = [times.0, times.1]
            _ = futimens(fd, &values)
            close(fd)
        }
    }

    /// Forgets the pending time fix-ups of a removed directory and of everything under it.
    mutating func dropFixups(under path: [UInt8]) {
        let prefix = path + [LayerPath.slash]
        for key in savedTimes.keys where key == path || key.starts(with: prefix) {
            savedTimes[key] = nil
        }
    }

    /// Removes whatever is at `path` (a subtree for a directory; symlinks are not followed).
    mutating func removeTree(_ path: [UInt8]) throws {
        // Every caller passes a normalized path below the root; this guard keeps a mistake
        // there from ever removing the root or anything beside it.
        let components = path.split(separator: LayerPath.slash, omittingEmptySubsequences: false)
        guard !path.isEmpty,
            !components.contains(where: {
                $0.isEmpty || $0.elementsEqual([LayerPath.dot]) || $0.elementsEqual([LayerPath.dot, LayerPath.dot])
            })
        else {
            throw OCIError.hostileMember(
                layer: layer, path: LayerPath.display(path), reason: "removing it would reach outside the image's tree")
        }
        var st = stat()
        guard withCPath(absolute(path), { lstat($0, &st) }) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try removeChildren(of: path, keepingCreated: false)
            realDirectories = [[]]
            dropFixups(under: path)
            if withCPath(absolute(path), { rmdir($0) }) != 0 {
                throw OCIError.system(path: LayerPath.display(absolute(path)), operation: "rmdir", message: errnoText())
            }
        } else if withCPath(absolute(path), { unlink($0) }) != 0 {
            throw OCIError.system(path: LayerPath.display(absolute(path)), operation: "unlink", message: errnoText())
        }
    }

    /// Removes a directory's children; with `keepingCreated`, those this layer made stay
    /// (and directories among them lose only their lower-layer children).
    mutating func removeChildren(of directory: [UInt8], keepingCreated: Bool) throws {
        for child in try listDirectory(absolute(directory)) {
            let path = LayerPath.join(directory, child)
            if keepingCreated && created.contains(path) {
                var st = stat()
                if withCPath(absolute(path), { lstat($0, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    try removeChildren(of: path, keepingCreated: true)
                }
            } else {
                try removeTree(path)
            }
        }
    }

    func listDirectory(_ path: [UInt8]) throws -> [[UInt8]] {
        guard let dir = withCPath(path, { opendir($0) }) else {
            throw OCIError.system(path: LayerPath.display(path), operation: "opendir", message: errnoText())
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [LayerPath.dot] || name == [LayerPath.dot, LayerPath.dot] { continue }
            names.append(name)
        }
        return names
    }
}

/// Calls `body` with a NUL-terminated copy of a path's bytes.
func withCPath<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    let terminated = bytes.map { CChar(bitPattern: $0) } + [0]
    return terminated.withUnsafeBufferPointer { body($0.baseAddress!) }
}
