#if canImport(Glibc)
    import Glibc
#endif

/// `OUT.d/dib-manifests`: the image's own manifests (`/etc/dib-manifests` of the built tree)
/// copied out beside the image, as DIB does with `cp -a`, without starting a program and
/// without trusting the tree.
///
/// ```
/// ROOT/etc/dib-manifests/        (read beneath ROOT: TreeBeneath, no link followed)
///   dir/         ──► OUT.d/dib-manifests/dir/      made (or kept), mode and times after
///                                                  its entries, as cp -a
///   file         ──► file                          .stamp-copy-N written, then renamed over
///                                                  the name (a link there is replaced,
///                                                  never written through); mode, times
///   link ─► ../x ──► link ─► ../x                  the link itself, its target as text
///   fifo, device ──► left out (a manifest is text)
/// ```
///
/// The tree may come from a container image: `/etc`, `/etc/dib-manifests` or any entry below
/// may be a link to a host path, which is copied as a link and never entered. An existing
/// `OUT.d/dib-manifests` (upstream's `manifests` element copies it in `cleanup.d`) is merged
/// into, as `cp -a SRC/. DST/` merges. The copy is bounded: at most ``manifestEntryLimit``
/// entries and ``manifestByteLimit`` bytes of files, measured before anything is written; a
/// tree over either is refused with one line naming the limit. Owners are kept when stamp runs as root (as `cp -a`); an ordinary user's copy is the
/// user's, with the set-id bits cleared.
extension DIBBuild {
    static let manifestEntryLimit = 100_000
    static let manifestByteLimit: UInt64 = 1 << 30

    /// Copies `ROOT/etc/dib-manifests` to `DIRECTORY/dib-manifests` (making `DIRECTORY`);
    /// nothing when the tree has no such directory or a link is on its way.
    static func writeManifests(root: String, directory: String) throws {
        mkdir(directory, 0o755)
        let tree: TreeBeneath
        do {
            tree = try TreeBeneath(root: root)
        } catch {
            throw PackProblems(problems: ["\(directory)/dib-manifests: \(error)"])
        }
        defer { tree.close() }
        guard let source = TreeBeneath(directory: Array("etc/dib-manifests".utf8), of: tree) else { return }
        defer { source.close() }
        do {
            try copyTree(source, to: directory + "/dib-manifests")
        } catch {
            throw PackProblems(problems: ["\(error)"])
        }
    }

    /// Copies the tree `source` walks to `destination` (see the diagram above).
    static func copyTree(
        _ source: TreeBeneath, to destination: String, entryLimit: Int = manifestEntryLimit, byteLimit: UInt64 = manifestByteLimit
    ) throws {
        // Measured first, so that a tree over the limits leaves nothing half-copied.
        var entries = 0
        var bytes: UInt64 = 0
        try source.walk { event in
            if case .leave = event { return true }
            entries += 1
            if case .entry(let entry) = event, entry.isRegular { bytes += UInt64(entry.info.st_size) }
            guard entries <= entryLimit else {
                throw TreeBeneath.Failure(path: source.root, reason: "more than \(entryLimit) entries; nothing copied")
            }
            guard bytes <= byteLimit else {
                throw TreeBeneath.Failure(path: source.root, reason: "more than \(byteLimit) bytes of files; nothing copied")
            }
            return true
        }
        entries = 0
        bytes = 0
        let asRoot = geteuid() == 0
        func target(_ relative: [UInt8]) -> String {
            relative.isEmpty ? destination : destination + "/" + String(decoding: relative, as: UTF8.self)
        }
        func fail(_ path: String, _ what: String) -> TreeBeneath.Failure {
            TreeBeneath.Failure(path: path, reason: "\(what): \(TreeBeneath.errnoText())")
        }
        func mode(_ info: stat) -> mode_t { info.st_mode & (asRoot ? 0o7777 : 0o1777) }
        func times(_ info: stat) -> [timespec] { [info.st_atim, info.st_mtim] }
        try source.walk { event in
            switch event {
            case .enter(let entry):
                entries += 1
                guard entries <= entryLimit else {
                    throw TreeBeneath.Failure(path: source.root, reason: "more than \(entryLimit) entries (it grew while copied)")
                }
                let path = target(entry.relative)
                var existing = stat()
                if lstat(path, &existing) == 0 && existing.st_mode & S_IFMT != S_IFDIR {
                    guard unlink(path) == 0 else { throw fail(path, "cannot replace") }
                }
                guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw fail(path, "cannot make the directory") }
                return true
            case .entry(let entry):
                entries += 1
                guard entries <= entryLimit else {
                    throw TreeBeneath.Failure(path: source.root, reason: "more than \(entryLimit) entries (it grew while copied)")
                }
                let path = target(entry.relative)
                if entry.isRegular {
                    bytes += UInt64(entry.info.st_size)
                    guard bytes <= byteLimit else {
                        throw TreeBeneath.Failure(
                            path: source.root, reason: "more than \(byteLimit) bytes (it grew while copied)")
                    }
                    try copyFile(source, entry, to: path, mode: mode(entry.info), owner: asRoot)
                } else if let link = entry.linkTarget {
                    try copyLink(link, to: path, info: entry.info, owner: asRoot)
                }
                return true
            case .leave(let entry):
                let path = target(entry.relative)
                if asRoot { _ = lchown(path, entry.info.st_uid, entry.info.st_gid) }
                guard chmod(path, mode(entry.info)) == 0 else { throw fail(path, "cannot set the mode") }
                guard utimensat(AT_FDCWD, path, times(entry.info), AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw fail(path, "cannot set the times")
                }
                return true
            }
        }
    }

    /// A regular file of the tree, opened beneath its root, written to a new name beside
    /// `path` and renamed over it.
    private static func copyFile(_ source: TreeBeneath, _ entry: TreeBeneath.Entry, to path: String, mode: mode_t, owner: Bool)
        throws
    {
        let input = try source.open(entry.relative, flags: O_RDONLY)
        defer { _ = close(input) }
        var opened = stat()
        guard fstat(input, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG, opened.st_ino == entry.info.st_ino else {
            throw TreeBeneath.Failure(path: source.path(entry.relative), reason: "changed while it was copied")
        }
        let temporary = path + ".stamp-copy-\(getpid())"
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw TreeBeneath.Failure(path: temporary, reason: TreeBeneath.errnoText()) }
        var written = false
        defer {
            _ = close(output)
            if !written { unlink(temporary) }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var remaining = UInt64(opened.st_size)  // never more than the size counted against the limit
        while remaining > 0 {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, Int(remaining))) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw TreeBeneath.Failure(path: source.path(entry.relative), reason: TreeBeneath.errnoText())
            }
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let n = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, count - offset) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw TreeBeneath.Failure(path: temporary, reason: TreeBeneath.errnoText()) }
                offset += n
            }
            remaining -= UInt64(count)
        }
        if owner { _ = fchown(output, entry.info.st_uid, entry.info.st_gid) }
        guard fchmod(output, mode) == 0, futimens(output, [entry.info.st_atim, entry.info.st_mtim]) == 0 else {
            throw TreeBeneath.Failure(path: temporary, reason: TreeBeneath.errnoText())
        }
        guard rename(temporary, path) == 0 else {
            throw TreeBeneath.Failure(path: path, reason: "cannot replace: \(TreeBeneath.errnoText())")
        }
        written = true
    }

    /// A symbolic link of the tree, made again with the same target text (never resolved).
    private static func copyLink(_ link: [UInt8], to path: String, info: stat, owner: Bool) throws {
        var existing = stat()
        if lstat(path, &existing) == 0 {
            guard existing.st_mode & S_IFMT != S_IFDIR, unlink(path) == 0 else {
                throw TreeBeneath.Failure(path: path, reason: "cannot replace: \(TreeBeneath.errnoText(EEXIST))")
            }
        }
        let made = (link + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { symlink($0.baseAddress!, path) }
        }
        guard made == 0 else { throw TreeBeneath.Failure(path: path, reason: TreeBeneath.errnoText()) }
        if owner { _ = lchown(path, info.st_uid, info.st_gid) }
        _ = utimensat(AT_FDCWD, path, [info.st_atim, info.st_mtim], AT_SYMLINK_NOFOLLOW)
    }
}
