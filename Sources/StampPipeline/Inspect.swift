import CBlkid
import StampBytes
import StampContainers
import StampIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// What `stamp inspect` reports about an image: qemu-img's facts (``ImageInfo``, read from
/// the headers) and stamp's own (the partition table and filesystems, read through the
/// container's reader and libblkid).
///
/// ``json`` is the document `stamp inspect --json` prints; its schema is in
/// docs/inspect-json.md, versioned by ``schemaVersion``.
public struct ImageReport: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var number: Int
        public var start: UInt64  // bytes
        public var size: UInt64
        public var type: String
        public var name: String
        public var filesystem: Filesystem?
    }
    public struct Filesystem: Sendable, Equatable {
        public var type: String
        public var label: String
        public var uuid: String
    }
    /// The version of the `stamp` member's layout (docs/inspect-json.md): raised when a key
    /// changes meaning or goes away, not when one is added.
    public static let schemaVersion: UInt64 = 1

    /// The container's headers, as qemu-img reports them.
    public var info: ImageInfo
    public var partitionTable: String?
    public var partitions: [Partition] = []
    /// A filesystem on the whole disk (layout `none`).
    public var filesystem: Filesystem?
    /// Why the disk's contents were not read (a backing file holds part of them), or nil.
    public var contentsUnread: String?

    public var path: String { info.filename }
    /// stamp's name for the container: raw, qcow2, vmdk, vhd.
    public var format: String { info.container.rawValue }
    public var variant: String { info.variant }
    public var virtualSize: UInt64 { info.virtualSize }

    /// qemu-img's members, then stamp's under `"stamp"` (docs/inspect-json.md).
    public var document: JSONValue {
        func fs(_ f: Filesystem?) -> JSONValue {
            guard let f else { return .null }
            return .object([("type", .string(f.type)), ("label", .string(f.label)), ("uuid", .string(f.uuid))])
        }
        let parts: [JSONValue] = partitions.map {
            .object([
                ("number", .unsigned(UInt64(max($0.number, 0)))), ("start", .unsigned($0.start)), ("size", .unsigned($0.size)),
                ("type", .string($0.type)), ("name", .string($0.name)), ("filesystem", fs($0.filesystem)),
            ])
        }
        var stamp: [(String, JSONValue)] = [
            ("schema-version", .unsigned(Self.schemaVersion)), ("container", .string(format)), ("variant", .string(variant)),
        ]
        if let contentsUnread {
            stamp.append(("contents-unread", .string(contentsUnread)))
        } else {
            stamp += [
                ("partition-table", partitionTable.map(JSONValue.string) ?? .null), ("partitions", .array(parts)),
                ("filesystem", fs(filesystem)),
            ]
        }
        return .object(info.qemuMembers + [("stamp", .object(stamp))])
    }

    /// ``document``, printed (always valid JSON, whatever labels and names hold).
    public var json: String { document.rendered() }
}

/// One libblkid probe; freed when released.
final class BlkidProbe {
    let probe: blkid_probe

    init?(path: String) {
        guard let p = blkid_new_probe_from_filename(path) else { return nil }
        probe = p
    }

    init?(descriptor: Int32, offset: UInt64, size: UInt64) {
        guard let p = blkid_new_probe() else { return nil }
        probe = p
        if blkid_probe_set_device(p, descriptor, Int64(offset), Int64(size)) != 0 { return nil }
    }

    deinit { blkid_free_probe(probe) }

    func value(_ name: String) -> String? {
        var data: UnsafePointer<CChar>?
        var length = 0
        guard blkid_probe_lookup_value(probe, name, &data, &length) == 0, let data else { return nil }
        return String(cString: data)
    }
}

/// `stamp inspect`: container format and size, partition table, filesystems (libblkid).
public enum Inspector {
    /// - Parameter format: the container format, detected from the magic numbers when nil.
    public static func inspect(path: String, format: ImageFormat? = nil) throws -> ImageReport {
        let info = try ImageInfo.read(path: path, format: format)
        var report = ImageReport(info: info)
        // A backing file is named, never opened: its name comes from the image's author.
        if let backing = info.backingFilename {
            report.contentsUnread =
                "part of the disk is in the backing file \(JSONValue.quoted(backing)), which inspect does not open"
            return report
        }
        if info.variant == "differencing" {
            report.contentsUnread = "a differencing VHD: part of the disk is in its parent, which inspect does not open"
            return report
        }
        if info.corrupt {
            report.contentsUnread =
                "the qcow2 image is marked corrupt (qemu found an inconsistency), so its contents are not read"
            return report
        }
        do {
            try readContents(path: path, info: info, into: &report)
        } catch ContainerError.unsupported(_, let feature) {
            // The headers are described all the same (a zstd-compressed cluster, say).
            report.partitionTable = nil
            report.partitions = []
            report.filesystem = nil
            report.contentsUnread = "the disk holds what stamp does not read (\(feature)), so its contents are not read"
        }
        return report
    }

    /// The partition table and filesystems, read through the container's reader.
    private static func readContents(path: String, info: ImageInfo, into report: inout ImageReport) throws {
        let reader = try ImageDetector.open(path: path, format: info.container)
        // libblkid reads a raw disk: the image itself, or, for other formats, a sparse copy of
        // the regions it looks at (head, tail and each partition's start) in an unnamed file
        // (O_TMPFILE in /dev/shm): nothing under a name to leave behind, whatever happens, and
        // a tmpfs inode holds a sparse 20 TiB disk where /tmp's filesystem may not.
        let disk: Int32
        if reader.format == .raw {
            disk = open(path, O_RDONLY | O_CLOEXEC)
            guard disk >= 0 else { throw IOError.system(path: path, operation: "open", errno: Errno(rawValue: errno)) }
        } else {
            disk = anonymousScratchFile()
            guard disk >= 0 else {
                throw IOError.system(path: path, operation: "create an unnamed scratch file", errno: Errno(rawValue: errno))
            }
        }
        defer { close(disk) }
        if reader.format != .raw {
            try windowCopy(
                reader, path: path, to: disk,
                windows: [0..<(4 << 20), reader.virtualSize.saturatingSub(1 << 20)..<reader.virtualSize])
        }
        try probeTable(disk, size: reader.virtualSize, into: &report)
        if reader.format != .raw {
            // A partition the table puts past the disk's end (a shrunk image) has no window;
            // at most 128 partitions get one (a GPT's usual limit), whatever the table says.
            let size = reader.virtualSize
            let starts: [UInt64] = report.partitions.prefix(128).map(\.start).filter { $0 < size }
            let windows: [Range<UInt64>] = starts.map { $0..<min($0 + (2 << 20), size) } + [0..<(4 << 20)]
            try windowCopy(reader, path: path, to: disk, windows: windows)
        }
        try probeFilesystems(disk, into: &report)
    }

    /// An unnamed file (`O_TMPFILE`, never linked into a directory) in /dev/shm, else in
    /// `TMPDIR` or /tmp; -1 with errno set when none can be made.
    static func anonymousScratchFile() -> Int32 {
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Glibc's module hides it (_GNU_SOURCE).
        let tmpfile: Int32 = 0o20000000 | O_DIRECTORY
        let tmp = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var fd: Int32 = -1
        for directory in ["/dev/shm", tmp] {
            fd = open(directory, tmpfile | O_RDWR | O_CLOEXEC, 0o600)
            if fd >= 0 { return fd }
        }
        return fd
    }

    private static func probeTable(_ fd: Int32, size: UInt64, into report: inout ImageReport) throws {
        guard let p = BlkidProbe(descriptor: fd, offset: 0, size: size) else { return }
        blkid_probe_enable_partitions(p.probe, 1)
        blkid_probe_set_partitions_flags(p.probe, Int32(BLKID_PARTS_ENTRY_DETAILS))
        blkid_probe_enable_superblocks(p.probe, 0)
        guard blkid_do_safeprobe(p.probe) == 0, let list = blkid_probe_get_partitions(p.probe) else { return }
        if let table = blkid_partlist_get_table(list), let type = blkid_parttable_get_type(table) {
            report.partitionTable = String(cString: type)
        }
        for i in 0..<blkid_partlist_numof_partitions(list) {
            guard let part = blkid_partlist_get_partition(list, i) else { continue }
            // libblkid takes some tables' numbers as they are (a Sun label's cylinder times
            // heads times sectors): negative or past 2^64 bytes, the entry is not reported.
            guard let startSectors = UInt64(exactly: blkid_partition_get_start(part)),
                let sizeSectors = UInt64(exactly: blkid_partition_get_size(part)),
                case let (start, o1) = startSectors.multipliedReportingOverflow(by: 512), !o1,
                case let (size, o2) = sizeSectors.multipliedReportingOverflow(by: 512), !o2
            else { continue }
            report.partitions.append(
                ImageReport.Partition(
                    number: Int(blkid_partition_get_partno(part)), start: start,
                    size: size,
                    type: blkid_partition_get_type_string(part).map { String(cString: $0) }
                        ?? String(format16: blkid_partition_get_type(part)),
                    name: blkid_partition_get_name(part).map { String(cString: $0) } ?? "", filesystem: nil))
        }
    }

    private static func probeFilesystems(_ fd: Int32, into report: inout ImageReport) throws {
        func probe(_ offset: UInt64, _ size: UInt64) -> ImageReport.Filesystem? {
            guard let p = BlkidProbe(descriptor: fd, offset: offset, size: size) else { return nil }
            blkid_probe_enable_superblocks(p.probe, 1)
            blkid_probe_set_superblocks_flags(p.probe, Int32(BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID))
            guard blkid_do_safeprobe(p.probe) == 0, let type = p.value("TYPE") else { return nil }
            return ImageReport.Filesystem(type: type, label: p.value("LABEL") ?? "", uuid: p.value("UUID") ?? "")
        }
        for i in report.partitions.indices {
            report.partitions[i].filesystem = probe(report.partitions[i].start, report.partitions[i].size)
        }
        if report.partitions.isEmpty { report.filesystem = probe(0, report.virtualSize) }
    }

    /// Writes the bytes of `windows` of the virtual disk into the sparse raw file open as
    /// `disk` (sized to the virtual disk: a hole costs nothing in a memfd).
    private static func windowCopy(_ reader: any DiskImageReader, path: String, to disk: Int32, windows: [Range<UInt64>]) throws {
        let fd = FileDescriptor(rawValue: disk)
        let buffer = IOBuffer(size: 1 << 20)
        func store(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
            for w in windows {
                let lo = max(w.lowerBound, offset)
                let hi = min(w.upperBound, offset + UInt64(bytes.count))
                guard hi > lo else { continue }
                let slice = UnsafeRawBufferPointer(rebasing: bytes[Int(lo - offset)..<Int(hi - offset)])
                _ = try withPath(path, "write scratch") { try fd.writeAll(toAbsoluteOffset: Int64(lo), slice) }
            }
        }
        try reader.forEachExtent { extent in
            switch extent {
            case .zero: break
            case .data(let offset, let bytes): try store(bytes, at: offset)
            case .file(let range, let at):
                guard windows.contains(where: { $0.overlaps(at..<(at + range.length)) }) else { return }
                try range.forEachChunk(buffer: buffer.bytes) { chunk, within in try store(chunk, at: at + within) }
            }
        }
        // Sized to the disk where the filesystem allows (libblkid is told the size anyway): a
        // scratch on a filesystem whose files stop short of the disk (ext4's 16 TiB) still works.
        do {
            try Syscalls.truncate(fd, size: reader.virtualSize)
        } catch let error where error == .fileTooLarge || error == .invalidArgument {
        } catch {
            throw IOError.system(path: path, operation: "size scratch", errno: error)
        }
    }
}

extension UInt64 {
    func saturatingSub(_ v: UInt64) -> UInt64 { self > v ? self - v : 0 }
}

extension String {
    init(format16 value: Int32) { self = "0x" + String(value, radix: 16) }
}
