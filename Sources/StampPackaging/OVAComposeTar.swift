import StampBytes
import StampIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the OVA of `stamp ova-compose` in one pass over its members, in ova-compose's order,
/// with no staged copy of any disk: a disk is converted straight into its member.
///
/// ```
/// offset 0        NAME.ovf header(s), text, NUL to 512        ┐ reserved first for the longest
///                 NAME.mf  header(s), text, NUL to 512        ┘ descriptor, written last
/// reservedFront   member header(s)  (``USTARHeader/Format/headerLength``: 512, pax 1536)
///                 member bytes (a VMDK streamed by its writer, or a file), NUL to 512
///                 … every References/File in order …
/// end of members  NAME.cert header(s), text, NUL to 512       (signed packages)
///                 two zero blocks, NUL to a multiple of 10240  (GNU tar's record, as ova-compose)
/// ```
///
/// The descriptor precedes the disks but holds their sizes (`ovf:size`, `ovf:populatedSize`),
/// so its room is reserved for the longest text the sizes could make. When the real text
/// needs fewer 512-byte blocks, the members are moved down over the gap before the front is
/// written (one read and write of the members, only then; the archive is a regular file),
/// so the `.ovf` member holds exactly the descriptor's bytes. The manifest's length is known
/// from the names alone. The archive is a ``StagedWriter``: nothing appears under `path`
/// until ``finish(ovf:manifest:trailer:)`` returns.
public final class OVAComposeTar {
    /// The archive's writer: a member's bytes go at the offset ``beginMember(name:)`` returns.
    public let writer: StagedWriter
    public let format: USTARHeader.Format
    private let mtime: UInt64
    private let ovfName: String
    private let manifestName: String
    private let reservedFront: UInt64
    private var members: [(name: String, header: UInt64, size: UInt64)] = []
    private var current: (name: String, header: UInt64)?
    private static let block = UInt64(USTARHeader.size)
    /// GNU tar writes whole records of 20 blocks.
    static let record: UInt64 = 10240

    /// Creates the archive (under a temporary name) and reserves its front.
    /// - Parameters:
    ///   - maximumOVFLength: the longest the descriptor can be (its sizes at their bounds).
    ///   - manifestLength: the manifest's length (fixed by the names and the digest).
    public init(
        path: String, ovfName: String, manifestName: String, maximumOVFLength: Int, manifestLength: Int,
        format: USTARHeader.Format, mtime: UInt64
    ) throws {
        for name in [ovfName, manifestName] { try USTARHeader.validate(memberName: name) }
        self.format = format
        self.mtime = mtime
        self.ovfName = ovfName
        self.manifestName = manifestName
        reservedFront = Self.frontLength(ovf: UInt64(maximumOVFLength), manifest: UInt64(manifestLength), format: format)
        writer = try StagedWriter(path: path)
        writer.skip(reservedFront)
    }

    static func frontLength(ovf: UInt64, manifest: UInt64, format: USTARHeader.Format) -> UInt64 {
        2 * format.headerLength + ovf.roundedUp(toMultipleOf: block) + manifest.roundedUp(toMultipleOf: block)
    }

    /// Starts the next member: reserves its header and returns where its first byte goes.
    /// Write its bytes there with ``writer``, in order, then call ``endMember(size:)``.
    public func beginMember(name: String) throws -> UInt64 {
        precondition(current == nil, "one member at a time")
        try USTARHeader.validate(memberName: name)
        current = (name, writer.end)
        writer.skip(format.headerLength)
        return writer.end
    }

    /// Ends the member being written (`size` bytes) and pads it to a block.
    public func endMember(size: UInt64) {
        guard let member = current else { preconditionFailure("no member begun") }
        precondition(writer.end == member.header + format.headerLength + size, "the member must end where it was written")
        members.append((member.name, member.header, size))
        current = nil
        writer.skip(writer.end.roundedUp(toMultipleOf: Self.block) - writer.end)
    }

    /// Appends the regular file at `path` as a member; `hash` sees its bytes. Returns its size.
    public func appendFile(name: String, path: String, hash: (UnsafeRawBufferPointer) -> Void) throws -> UInt64 {
        let offset = try beginMember(name: name)
        var size: UInt64 = 0
        try OVAComposeArchive.forEachChunk(of: path) { chunk in
            hash(chunk)
            try writer.write(chunk, at: offset + size)
            size += UInt64(chunk.count)
        }
        endMember(size: size)
        return size
    }

    /// Writes the descriptor and manifest in front of the members, `trailer` (the
    /// certificate) after them and the end of the archive, and renames it into place.
    public func finish(ovf: [UInt8], manifest: [UInt8], trailer: [(name: String, bytes: [UInt8])] = []) throws {
        precondition(current == nil, "a member is still open")
        let front = Self.frontLength(ovf: UInt64(ovf.count), manifest: UInt64(manifest.count), format: format)
        guard front <= reservedFront else {
            throw PackagingError.sizeChanged(path: ovfName, expected: reservedFront, actual: front)
        }
        let gap = reservedFront - front
        let membersEnd = writer.end
        try writer.flush()
        if gap > 0 { try moveDown(from: reservedFront, length: membersEnd - reservedFront, by: gap) }
        var head = try blocks(ovfName, ovf)
        head += try blocks(manifestName, manifest)
        try head.withUnsafeBytes { try writer.patch($0, at: 0) }
        for member in members {
            let header = try USTARHeader.memberBlocks(
                name: member.name, fileSize: member.size, modificationTime: mtime, format: format)
            try header.withUnsafeBytes { try writer.patch($0, at: member.header - gap) }
        }
        var tail: [UInt8] = []
        for (name, bytes) in trailer {
            try USTARHeader.validate(memberName: name)
            tail += try blocks(name, bytes)
        }
        let tailStart = membersEnd - gap
        // Zeros written, not skipped: after a move the old bytes are still there.
        let end = (tailStart + UInt64(tail.count) + 2 * Self.block).roundedUp(toMultipleOf: Self.record)
        tail += [UInt8](repeating: 0, count: Int(end - tailStart) - tail.count)
        if end > writer.end { writer.skip(end - writer.end) }
        try tail.withUnsafeBytes { try writer.patch($0, at: tailStart) }
        try writer.finish(size: end)
    }

    /// Abandons the archive: the temporary file is removed.
    public func discard() { writer.discard() }

    /// A whole member: its header(s) and bytes, padded to a block.
    private func blocks(_ name: String, _ bytes: [UInt8]) throws -> [UInt8] {
        let padding = Int(UInt64(bytes.count).roundedUp(toMultipleOf: Self.block)) - bytes.count
        return try USTARHeader.memberBlocks(name: name, fileSize: UInt64(bytes.count), modificationTime: mtime, format: format)
            + bytes + [UInt8](repeating: 0, count: padding)
    }

    /// Moves `length` bytes at `from` down by `gap`, front to back: each chunk is read before
    /// the write that may cover its own first bytes, and nothing above it is touched yet.
    private func moveDown(from: UInt64, length: UInt64, by gap: UInt64) throws {
        let buffer = IOBuffer(size: 4 << 20)
        let file = writer.descriptor
        try SourceRange(descriptor: file, path: writer.path, offset: from, length: length).forEachChunk(buffer: buffer.bytes) {
            chunk, within in
            try withPath(writer.path, "write") {
                _ = try file.writeAll(toAbsoluteOffset: Int64(from - gap + within), chunk)
            }
        }
    }
}
