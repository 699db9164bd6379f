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
    /// Member `member` (its position in the tar, from 0) of image layer `layer` (from 0,
    /// bottom first): the bytes stay in the compressed layer blob and are read through the
    /// tree's ``RootTree/memberData`` when the image is written.
    case member(layer: Int32, member: Int32)
}

/// Reads the data of layer members for a model built from image layers (``EntryContent/member(layer:member:)``).
///
/// A blob is compressed and read front to back: reads that go forward (the same member at
/// a later offset, a later member of the same layer, a later layer) cost only the bytes
/// between them; any other order reopens the layer and reads it from its start. Writers
/// therefore lay such files out in (layer, member) order (``RootTree/memberPosition(of:)``).
public protocol MemberDataSource: AnyObject {
    /// Reads up to `buffer.count` bytes of the member at `offset`; 0 at its end.
    /// - Parameter path: how messages name the file.
    func read(layer: Int32, member: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, path: String)
        throws(IOError) -> Int
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
            // One level only: a copy of a scanned file or of bytes (a layer member's bytes once
            // ``loadMembers(of:fileLimit:totalLimit:)`` read them), never of another copy.
            guard Int(other) != index, Int(other) < entries.count else {
                throw .system(path: path(of: index), operation: "open", errno: .invalidArgument)
            }
            switch entries[Int(other)].content {
            case .source, .bytes: break
            case .entry, .member: throw .system(path: path(of: index), operation: "open", errno: .invalidArgument)
            }
            return try openData(of: Int(other))
        case .member:
            // Kept inside a compressed layer: read with readData or through memberData.
            throw .system(path: path(of: index), operation: "open", errno: .notSupported)
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
        if let position = memberPosition(of: index) { return try readMember(position, size: entry.size, index: index) }
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

    /// The layer and member holding the data of regular file `index` (through a hard link or
    /// a copy), or nil when its data is not kept in a layer.
    public func memberPosition(of index: Int) -> (layer: Int32, member: Int32)? {
        var owner = Int(entries[index].hardLinkOf ?? Int32(index))
        if case .entry(let other) = entries[owner].content, Int(other) < entries.count {
            owner = Int(entries[Int(other)].hardLinkOf ?? other)
        }
        guard entries[owner].kind == .regular, case .member(let layer, let member) = entries[owner].content else { return nil }
        return (layer, member)
    }

    /// Reads the members of `indices` (regular files whose data is in a layer) into the model
    /// as bytes, in layer order (one pass over each blob, whatever order they are asked in):
    /// what a boot loader reads at random (GRUB's modules, its EFI image, /etc/default/grub)
    /// is then read once. Files larger than `fileLimit`, and those past `totalLimit` bytes
    /// together, stay in the layers.
    public func loadMembers(of indices: [Int], fileLimit: Int, totalLimit: Int) throws(IOError) {
        var wanted: [(layer: Int32, member: Int32, index: Int)] = []
        var total = 0
        for index in indices {
            let owner = Int(entries[index].hardLinkOf ?? Int32(index))
            guard case .member(let layer, let member) = entries[owner].content, entries[owner].size <= UInt64(fileLimit),
                total + Int(entries[owner].size) <= totalLimit
            else { continue }
            total += Int(entries[owner].size)
            wanted.append((layer, member, owner))
        }
        wanted.sort { ($0.layer, $0.member) < ($1.layer, $1.member) }
        for item in wanted {
            guard case .member = entries[item.index].content else { continue }  // a name listed twice
            let bytes = try readMember((item.layer, item.member), size: entries[item.index].size, index: item.index)
            entries[item.index].content = .bytes(bytes)
        }
    }

    /// The whole data (`size` bytes) of a layer member.
    private func readMember(_ position: (layer: Int32, member: Int32), size: UInt64, index: Int) throws(IOError) -> [UInt8] {
        let path = path(of: index)
        guard let source = memberData else { throw .unreadable(path: path, reason: "no layer to read the file from") }
        var out = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < out.count {
            let result = out.withUnsafeMutableBytes { raw in
                Result { () throws(IOError) -> Int in
                    try source.read(
                        layer: position.layer, member: position.member, offset: UInt64(done),
                        into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]), path: path)
                }
            }
            let n = try result.get()
            if n == 0 { throw .sourceShrank(path: path, expected: size, actual: UInt64(done)) }
            done += n
        }
        return out
    }
}
