import SystemPackage

/// One file or directory to put on a FAT volume: the writer's whole input, independent of how
/// the caller scanned its tree.
///
/// ```swift
/// let root: [FATEntry] = [
///     .directory("EFI", [
///         .directory("BOOT", [
///             .file("BOOTX64.EFI", path: "/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi", size: 1_234_944),
///             .file("grub.cfg", bytes: Array(config.utf8)),
///         ]),
///     ]),
/// ]
/// ```
public struct FATEntry: Sendable, Equatable {
    /// What the entry holds.
    public enum Content: Sendable, Equatable {
        /// A directory and its children.
        case directory([FATEntry])
        /// A file whose bytes are in memory.
        case bytes([UInt8])
        /// A file read from `path` while the volume is written; `size` is what it must have then.
        case file(path: String, size: UInt64)
        /// A file opened by its source (e.g. a tree's file opened beneath the tree's root and
        /// checked to be the file scanned) while the volume is written.
        case source(FATFileSource, size: UInt64)
    }

    /// The name in its directory (a long name is stored with VFAT LFN entries when needed).
    public var name: String
    /// Modification time, seconds since 1970 (stored as DOS local time = UTC; 2-second resolution).
    public var modified: Int64
    public var content: Content

    public init(name: String, modified: Int64 = 0, content: Content) {
        self.name = name
        self.modified = modified
        self.content = content
    }

    /// A directory.
    public static func directory(_ name: String, modified: Int64 = 0, _ children: [FATEntry]) -> FATEntry {
        FATEntry(name: name, modified: modified, content: .directory(children))
    }

    /// A file with in-memory bytes.
    public static func file(_ name: String, modified: Int64 = 0, bytes: [UInt8]) -> FATEntry {
        FATEntry(name: name, modified: modified, content: .bytes(bytes))
    }

    /// A file copied from a source file.
    public static func file(_ name: String, modified: Int64 = 0, path: String, size: UInt64) -> FATEntry {
        FATEntry(name: name, modified: modified, content: .file(path: path, size: size))
    }

    /// The size of a file's content (0 for a directory).
    var byteCount: UInt64 {
        switch content {
        case .directory: return 0
        case .bytes(let b): return UInt64(b.count)
        case .file(_, let size), .source(_, let size): return size
        }
    }

    /// Builds a tree from slash-separated paths (`EFI/BOOT/BOOTX64.EFI`), creating the
    /// directories on the way (with time `modified`). Later paths add to earlier directories.
    public static func tree(_ files: [(path: String, content: Content)], modified: Int64 = 0) -> [FATEntry] {
        var root: [FATEntry] = []
        for (path, content) in files {
            let parts = path.split(separator: "/").map(String.init)
            guard !parts.isEmpty else { continue }
            insert(parts[...], content, into: &root, modified: modified)
        }
        return root
    }

    private static func insert(_ parts: ArraySlice<String>, _ content: Content, into list: inout [FATEntry], modified: Int64) {
        guard let first = parts.first else { return }
        if parts.count == 1 {
            list.append(FATEntry(name: first, modified: modified, content: content))
            return
        }
        if let i = list.firstIndex(where: { $0.name == first }), case .directory(var children) = list[i].content {
            insert(parts.dropFirst(), content, into: &children, modified: modified)
            list[i].content = .directory(children)
        } else {
            var children: [FATEntry] = []
            insert(parts.dropFirst(), content, into: &children, modified: modified)
            list.append(.directory(first, modified: modified, children))
        }
    }
}

/// Where a FAT file's data comes from when it is not a plain path: an opener the caller
/// supplies (StampPipeline passes ``RootTree``'s beneath-the-root open), and the path named
/// in messages. Two sources are equal when they name the same path.
public struct FATFileSource: Sendable, Equatable {
    public let path: String
    public let open: @Sendable () throws -> FileDescriptor

    public init(path: String, open: @escaping @Sendable () throws -> FileDescriptor) {
        self.path = path
        self.open = open
    }

    public static func == (a: FATFileSource, b: FATFileSource) -> Bool { a.path == b.path }
}
