import StampBytes
import StampIO
#if canImport(Glibc)
    import Glibc
#endif

/// Unbuffered writes to the standard streams.
enum FileStream {
    case standardOutput, standardError

    func write(_ text: String) {
        let fd: Int32 = self == .standardOutput ? 1 : 2
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { break }
            done += n
        }
        bytes.removeAll()
    }
}

func Foundation_exit(_ code: Int32) -> Never { exit(code) }

/// Monotonic seconds, for timing steps.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Why an output path cannot be written, checked before any work: empty, an existing
/// directory, or inside the tree being imaged (the image would be read into itself, or replace
/// one of the tree's files). Returns nil when the path is fine.
func outputPathProblem(_ path: String, tree: String?) -> String? {
    if path.isEmpty { return "the output path is empty" }
    if path.hasSuffix("/") { return "output '\(path)' names a directory, not a file" }
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return "\(path): output is an existing directory" }
    do { try OutputFile.checkReplaceable(path) } catch { return "\(error)" }
    guard let tree, let treeReal = realPath(tree) else { return nil }
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
    guard let directoryReal = realPath(directory) else { return nil }
    if treeReal == "/" || directoryReal == treeReal || directoryReal.hasPrefix(treeReal + "/") {
        return "\(path): output is inside the tree \(tree) being imaged"
    }
    return nil
}

/// `realpath(3)`, or nil when the path does not resolve.
func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// An input image of zero bytes: any reader would take it for an empty raw disk, which is
/// never what was meant (a failed download, a file truncated by a full disk).
func emptyInputProblem(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0 else { return nil }
    return "\(path): the file is empty (0 bytes), not a disk image"
}

/// `N bytes, M allocated` for `-v` lines: the file's apparent size and the storage it takes.
func sizeOnDisk(_ path: String) -> String {
    var st = stat()
    guard stat(path, &st) == 0 else { return "not found" }
    return "\(formatBytes(UInt64(max(st.st_size, 0)))), \(formatBytes(UInt64(max(st.st_blocks, 0)) * 512)) allocated"
}
