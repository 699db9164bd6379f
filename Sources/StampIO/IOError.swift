import SystemPackage

/// An I/O failure, with the file and the operation at fault.
///
/// Messages are one line, lower-case, and name the path first so that a user reading
/// `stamp: /srv/tree/etc/shadow: open: permission denied` knows what to fix.
public enum IOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case system(path: String, operation: String, errno: Errno)
    /// A source file is shorter now than when it was scanned.
    case sourceShrank(path: String, expected: UInt64, actual: UInt64)
    /// A source file is longer now than when it was scanned.
    case sourceGrew(path: String, expected: UInt64, actual: UInt64)
    /// A source file disappeared between scan and copy.
    case sourceVanished(path: String)
    /// A source path now names another file than the one scanned (another device/inode or
    /// modification time, or a symlink or directory where a file was).
    case sourceReplaced(path: String)
    /// A source file was written after the scan (its modification time changed).
    case sourceModified(path: String)
    /// A write was out of the ascending order a stream sink requires.
    case outOfOrder(offset: UInt64, previousEnd: UInt64)
    /// The data of a file kept inside an image layer could not be read (a corrupt or
    /// changed blob, a member other than the one the model recorded).
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .system(let path, let operation, let errno):
            return "\(path): \(operation): \(errno.description.lowercasedFirst)"
        case .sourceShrank(let path, let expected, let actual):
            return "\(path): file shrank while being read (expected \(expected) bytes, found \(actual))"
        case .sourceGrew(let path, let expected, let actual):
            return "\(path): file grew while being read (expected \(expected) bytes, found \(actual))"
        case .sourceVanished(let path):
            return "\(path): file vanished while the image was being written"
        case .sourceReplaced(let path):
            return "\(path): replaced by another file after the scan (not read)"
        case .sourceModified(let path):
            return "\(path): modified after the scan (not read)"
        case .outOfOrder(let offset, let previousEnd):
            return "internal error: write at offset \(offset) before the previous end \(previousEnd)"
        case .unreadable(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}

extension String {
    var lowercasedFirst: String {
        guard let first else { return self }
        return first.lowercased() + dropFirst()
    }
}

/// Runs `body`, turning a thrown `Errno` into an ``IOError`` naming `path` and `operation`.
@inline(__always)
public func withPath<T>(_ path: String, _ operation: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let errno as Errno {
        throw IOError.system(path: path, operation: operation, errno: errno)
    }
}
