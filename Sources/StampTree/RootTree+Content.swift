import CStampSupport
import StampIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Where an entry's data comes from.
///
/// A scanned tree is read-only input: what an image needs beyond it (the fstab root line,
/// grub.cfg, GRUB's modules under /boot/grub) is added to the model, never to the directory.
public enum EntryContent: Sendable, Equatable {
    /// The scanned file, opened below the tree's root (``RootTree/openData(of:)``).
    case source
    /// Bytes stamp made; the entry's size is their count.
    case bytes([UInt8])
    /// The data of another entry of the same tree (a copy, e.g. a GRUB module placed under
    /// /boot/grub), read when the image is written.
    case entry(Int32)
}

extension RootTree {
    /// `major << 32 | minor` of a stat's device.
    static func device(_ st: stamp_stat) -> UInt64 { UInt64(st.dev_major) << 32 | UInt64(st.dev_minor) }

    /// The path of entry `index` below the root, as the kernel knows it (no leading `/`).
    func relativePathBytes(of index: Int) -> [UInt8] {
        var names: [[UInt8]] = []
        var i = index
        while i != 0 {
            names.append(entries[i].name)
            i = Int(entries[i].parent)
        }
        var bytes: [UInt8] = []
        for name in names.reversed() {
            if !bytes.isEmpty { bytes.append(0x2F) }
            bytes += name
        }
        return bytes
    }

    /// Opens `relative` below the root without following any symlink (openat2
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`).
    func openBeneath(_ relative: [UInt8], flags: Int32) throws(Errno) -> FileDescriptor {
        guard let root = rootDescriptor else { throw Errno.badFileDescriptor }
        let fd = withCString(relative) { stamp_open_beneath(root.rawValue, $0, flags) }
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens the data of regular file `index` for reading: the scanned file, below the root,
    /// checked to be the file that was scanned (device, inode, modification time), or a
    /// memory file holding bytes stamp added. The caller closes it.
    ///
    /// - Throws: ``IOError/sourceVanished(path:)``, ``IOError/sourceReplaced(path:)`` (a
    ///   symlink now on the path, or another file), ``IOError/sourceShrank(path:expected:actual:)``,
    ///   ``IOError/sourceGrew(path:expected:actual:)`` or ``IOError/sourceModified(path:)``
    ///   (written since the scan), or ``IOError/system(path:operation:errno:)``.
    public func openData(of index: Int) throws(IOError) -> FileDescriptor {
        var index = index
        if let first = entries[index].hardLinkOf { index = Int(first) }
        switch entries[index].content {
        case .bytes(let bytes):
            let fd = bytes.withUnsafeBytes { stamp_memfd_with($0.baseAddress, $0.count) }
            guard fd >= 0 else { throw .system(path: path(of: index), operation: "memfd", errno: Errno(rawValue: errno)) }
            return FileDescriptor(rawValue: fd)
        case .entry(let other):
            guard Int(other) != index, Int(other) < entries.count, entries[Int(other)].content == .source else {
                throw .system(path: path(of: index), operation: "open", errno: .invalidArgument)
            }
            return try openData(of: Int(other))
        case .source:
            break
        }
        let path = sourcePath(of: index)
        let fd: FileDescriptor
        switch Result(catching: { () throws(Errno) in
            try openBeneath(relativePathBytes(of: index), flags: O_RDONLY | stamp_o_noatime)
        }) {
        case .success(let opened): fd = opened
        case .failure(.noSuchFileOrDirectory): throw .sourceVanished(path: path)
        case .failure(.tooManySymbolicLinkLevels), .failure(.improperLink), .failure(.notDirectory):
            throw .sourceReplaced(path: path)
        case .failure(let error): throw .system(path: path, operation: "open", errno: error)
        }
        var st = stamp_stat()
        let entry = entries[index]
        guard stamp_fstat(fd.rawValue, &st) == 0 else {
            let e = Errno(rawValue: errno)
            try? fd.close()
            throw .system(path: path, operation: "stat", errno: e)
        }
        guard st.mode & 0o170000 == 0o100000, st.ino == entry.sourceInode, Self.device(st) == entry.sourceDevice else {
            try? fd.close()
            throw .sourceReplaced(path: path)
        }
        if st.mtime_sec != entry.modificationTime.seconds || st.mtime_nsec != entry.modificationTime.nanoseconds {
            try? fd.close()
            if st.size < entry.size { throw .sourceShrank(path: path, expected: entry.size, actual: st.size) }
            if st.size > entry.size { throw .sourceGrew(path: path, expected: entry.size, actual: st.size) }
            throw .sourceModified(path: path)
        }
        return fd
    }

    /// The whole data of regular file `index`, at most `limit` bytes (a boot loader reading
    /// GRUB's files from the tree); nil when it is larger.
    public func readData(of index: Int, limit: Int) throws(IOError) -> [UInt8]? {
        let entry = entries[entries[index].hardLinkOf.map(Int.init) ?? index]
        guard entry.kind == .regular else { return nil }
        if case .bytes(let bytes) = entry.content { return bytes.count <= limit ? bytes : nil }
        guard entry.size <= UInt64(limit) else { return nil }
        let fd = try openData(of: index)
        defer { try? fd.close() }
        var out = [UInt8](repeating: 0, count: Int(entry.size))
        var done = 0
        while done < out.count {
            let n: Int
            do {
                n = try out.withUnsafeMutableBytes { raw in
                    try fd.read(fromAbsoluteOffset: Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]))
                }
            } catch {
                throw .system(path: sourcePath(of: index), operation: "read", errno: error as? Errno ?? .ioError)
            }
            if n == 0 { throw .sourceShrank(path: sourcePath(of: index), expected: entry.size, actual: UInt64(done)) }
            done += n
        }
        return out
    }
}
