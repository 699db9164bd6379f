import SystemPackage

/// The in-memory model of a root filesystem tree: metadata only, never file contents.
///
/// A scan (``TreeScanner``) reads a directory once with `statx`, `readlink` and the xattr
/// calls, and records every entry here. Writers (ext4, FAT, tar) lay out their images from
/// this model and read file data only while emitting. Memory is O(entries): a few hundred
/// bytes each, plus names and xattrs.
///
/// Entries are stored in one array; entry 0 is the root directory. A directory lists its
/// children (sorted by name bytes, so the layout does not depend on `readdir` order).
public final class RootTree {
    /// All entries; index 0 is the root.
    public internal(set) var entries: [Entry]
    /// The source directory the tree was scanned from (for error messages; data is read
    /// through ``rootDescriptor``).
    public let sourcePath: String
    /// The open source directory: every file is opened below it, never by a path string
    /// (``openData(of:)``). Owned by the tree, closed when the tree goes.
    let rootDescriptor: FileDescriptor?

    /// Where the data of ``EntryContent/member(layer:member:)`` entries is read: a model
    /// built from image layers rather than scanned.
    public let memberData: (any MemberDataSource)?

    init(sourcePath: String, entries: [Entry], rootDescriptor: FileDescriptor?) {
        self.sourcePath = sourcePath
        self.entries = entries
        self.rootDescriptor = rootDescriptor
        self.memberData = nil
    }

    /// A model built without a directory (from an image's layers): `entries[0]` is the root,
    /// every directory lists its children sorted by name bytes, and regular files hold
    /// ``EntryContent/member(layer:member:)`` (read through `memberData`) or bytes.
    /// - Parameter name: how messages name the tree (e.g. the image reference).
    public init(name: String, entries: [Entry], memberData: (any MemberDataSource)?) {
        self.sourcePath = name
        self.entries = entries
        self.rootDescriptor = nil
        self.memberData = memberData
    }

    deinit { try? rootDescriptor?.close() }

    /// The path of entry `index` relative to the root, starting with "/".
    public func path(of index: Int) -> String {
        var parts: [String] = []
        var i = index
        while i != 0 {
            parts.append(String(decoding: entries[i].name, as: UTF8.self))
            i = Int(entries[i].parent)
        }
        return "/" + parts.reversed().joined(separator: "/")
    }

    /// The absolute source path of entry `index`, for messages. Names that are not UTF-8
    /// show U+FFFD here; open files with ``sourcePathBytes(of:)``.
    public func sourcePath(of index: Int) -> String {
        index == 0 ? sourcePath : sourcePath + path(of: index)
    }

    /// The absolute source path of entry `index` as the kernel knows it: the exact bytes of
    /// every name (Linux names need not be UTF-8), without a terminating NUL.
    public func sourcePathBytes(of index: Int) -> [UInt8] {
        var names: [[UInt8]] = []
        var i = index
        while i != 0 {
            names.append(entries[i].name)
            i = Int(entries[i].parent)
        }
        var bytes = Array(sourcePath.utf8)
        for name in names.reversed() {
            bytes.append(0x2F)
            bytes += name
        }
        return bytes
    }

    /// Sum of regular-file sizes counted once per inode (hard links once).
    public var totalFileBytes: UInt64 {
        // Saturating: apparent sizes of sparse files (up to 2^63 each) may sum past 2^64.
        entries.reduce(0) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(
                entry.kind == .regular && entry.hardLinkOf == nil ? entry.size : 0)
            return overflow ? .max : total
        }
    }
}

/// The kind of a tree entry, from the `S_IFMT` bits of its mode.
public enum FileKind: UInt8, Sendable {
    case regular, directory, symlink, characterDevice, blockDevice, fifo, socket

    /// The kind for a `st_mode`, or nil for an unknown type.
    public init?(mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        default: return nil
        }
    }
}

/// A point in time with nanoseconds, as `struct timespec`.
public struct Timestamp: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// `self`, or `limit` if later (SOURCE_DATE_EPOCH clamping).
    public func clamped(to limit: Timestamp?) -> Timestamp {
        guard let limit, limit < self else { return self }
        return limit
    }
}

/// One extended attribute: its full name (`user.foo`, `security.capability`) and value as
/// the kernel reports them (POSIX ACLs in the VFS format, version 2).
public struct ExtendedAttribute: Sendable, Equatable {
    public var name: [UInt8]
    public var value: [UInt8]

    public init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }
}

/// One entry of a ``RootTree``.
public struct Entry: Sendable {
    /// The name within its parent (raw bytes; Linux names need not be UTF-8). Empty for the root.
    public var name: [UInt8]
    /// Index of the parent directory (the root is its own parent).
    public var parent: Int32
    public var kind: FileKind
    /// The full `st_mode` (type and permission bits, including setuid, setgid, sticky).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Size in bytes (regular files, symlink target length).
    public var size: UInt64
    public var accessTime: Timestamp
    public var modificationTime: Timestamp
    public var changeTime: Timestamp
    /// Birth time, when the source filesystem reports it.
    public var creationTime: Timestamp?
    /// Device number of character and block devices.
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// The source's link count.
    public var linkCount: UInt32
    /// For the second and later names of a hard-linked file: the index of the first name.
    public var hardLinkOf: Int32?
    /// Extended attributes, in the order the source listed them.
    public var xattrs: [ExtendedAttribute]
    /// Symlink target bytes.
    public var symlinkTarget: [UInt8]?
    /// Data regions of a sparse regular file (`nil` means one region covering the whole file).
    public var dataRegions: [Range<UInt64>]?
    /// Children of a directory, sorted by name.
    public var children: [Int32]
    /// Where the data comes from: the scanned file, or bytes stamp added to the model.
    public var content: EntryContent = .source
    /// The scanned file's device (`major << 32 | minor`) and inode: at write time the file
    /// opened must still be this one.
    public var sourceDevice: UInt64 = 0
    public var sourceInode: UInt64 = 0

    /// An entry of a model built without a scan (``RootTree/init(name:entries:memberData:)``).
    public init(
        name: [UInt8], parent: Int32, kind: FileKind, mode: UInt32, uid: UInt32, gid: UInt32, size: UInt64,
        accessTime: Timestamp, modificationTime: Timestamp, changeTime: Timestamp, creationTime: Timestamp?,
        deviceMajor: UInt32, deviceMinor: UInt32, linkCount: UInt32, hardLinkOf: Int32?, xattrs: [ExtendedAttribute],
        symlinkTarget: [UInt8]?, dataRegions: [Range<UInt64>]?, children: [Int32]
    ) {
        self.name = name
        self.parent = parent
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.changeTime = changeTime
        self.creationTime = creationTime
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.linkCount = linkCount
        self.hardLinkOf = hardLinkOf
        self.xattrs = xattrs
        self.symlinkTarget = symlinkTarget
        self.dataRegions = dataRegions
        self.children = children
    }

    /// The data regions to copy: explicit ones for sparse files, else `[0, size)`.
    public var regions: [Range<UInt64>] {
        if let dataRegions { return dataRegions }
        return size > 0 ? [0..<size] : []
    }
}
