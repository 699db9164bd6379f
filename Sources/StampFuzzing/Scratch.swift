import Foundation
import StampIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Scratch space for targets whose parser takes a path, not bytes.
///
/// Each call gets its own uniquely named file or directory (under `/dev/shm` when it exists,
/// so a fuzzer's millions of inputs never touch a disk) and removes it afterwards; nothing
/// here is shared between calls, so the targets hold no global state.
enum Scratch {
    /// The directory scratch entries live in.
    static let directory: String = {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue,
            access("/dev/shm", W_OK) == 0
        {
            return "/dev/shm"
        }
        return FileManager.default.temporaryDirectory.path
    }()

    /// A fresh name in ``directory``.
    static func uniqueName() -> String {
        "\(directory)/stamp-fuzz-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Calls `body` with the path of a file holding exactly `data`, then deletes the file.
    static func withFile<T>(_ data: UnsafeRawBufferPointer, _ body: (String) throws -> T) throws -> T {
        let path = uniqueName()
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ScratchError(path: path, errno: errno) }
        defer { unlink(path) }
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, data.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = errno
                close(fd)
                throw ScratchError(path: path, errno: code)
            }
            done += n
        }
        close(fd)
        return try body(path)
    }

    /// Calls `body` with a fresh empty directory, then deletes it with its contents.
    static func withDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let url = URL(fileURLWithPath: uniqueName(), isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        defer { try? TreeRemover.remove(path: url.path) }  // through descriptors, never following a symlink
        return try body(url)
    }
}

/// The scratch file or directory could not be made (the host's problem, not the input's).
struct ScratchError: Error, CustomStringConvertible {
    var path: String
    var errno: Int32
    var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
