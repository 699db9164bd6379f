#if canImport(Glibc)
    import Glibc
#endif

/// The root tree being unpacked, open as a directory descriptor, and the directories beneath
/// it reached component by component with `openat(O_NOFOLLOW | O_DIRECTORY)`: a symlink
/// anywhere on the way stops the walk (`ELOOP`), so nothing reached this way is ever outside
/// the root, whatever a layer made of the names on the way. This is what the mode and time
/// fix-ups of directories go through (a layer can replace `a/` by `a -> /host/dir` after
/// listing `a/x/`: a fix-up by path would land on `/host/dir/x`).
///
/// The one owner of its descriptor: ``close()`` releases it.
struct RootDirectory {
    let fd: Int32
    let path: [UInt8]

    init(path: [UInt8]) throws {
        let fd = withCPath(path) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else {
            throw OCIError.system(path: LayerPath.display(path), operation: "open", message: errnoText())
        }
        self.fd = fd
        self.path = path
    }

    func close() { _ = Glibc.close(fd) }

    /// Opens the directory at `relative` (a normalized path; empty for the root itself),
    /// creating missing directories (mode 0755) when `creating`. Returns a descriptor the
    /// caller closes, or -1 with `errno` set: `ELOOP` for a symlink on the way, `ENOTDIR` for
    /// something else that is not a directory, `ENOENT` for a missing one.
    func openDirectory(_ relative: [UInt8], creating: Bool = false) -> Int32 {
        var current = dup(fd)
        guard current >= 0 else { return -1 }
        for component in relative.split(separator: LayerPath.slash) {
            let name = Array(component)
            var next = withCPath(name) { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if next < 0, errno == ENOENT, creating {
                if withCPath(name, { mkdirat(current, $0, 0o755) }) == 0 || errno == EEXIST {
                    next = withCPath(name) { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                }
            }
            let saved = errno
            _ = Glibc.close(current)
            guard next >= 0 else {
                errno = saved
                return -1
            }
            current = next
        }
        return current
    }
}
