import Crypto
import StampIO
import SystemPackage

/// Writes an OVA: a ustar archive of the OVF descriptor, its manifest and one finished
/// streamOptimized VMDK, in the order vSphere requires.
///
/// ```
/// offset 0      ustar header  NAME.ovf           ┐ ovftool: "Did not find an .ovf file at the
///        512    descriptor text, padded to 512   ┘ beginning of the OVA package" otherwise
///        …      ustar header  NAME.mf
///               SHA256(NAME.ovf)= …  SHA256(NAME-disk1.vmdk)= …, padded
///        …      ustar header  NAME-disk1.vmdk
///               the VMDK's bytes, padded to 512
///        end-1024  two zero blocks (end of archive)
/// ```
///
/// The manifest precedes the disk, so the disk's SHA-256 must be known before its bytes are
/// copied: pass the digest a ``HashingObserver`` computed while the VMDK was written, or let
/// the writer read the VMDK once more to hash it. The OVA itself is hashed (MD5 and SHA-256)
/// as it is written, for `--checksum`. The archive is an `OutputFile`: on any error nothing
/// appears under `path`.
public enum OVAWriter {
    /// The member names for a package called `ovaName`: `NAME.ovf`, `NAME.mf`, `NAME-disk1.vmdk`
    /// (ovftool's naming).
    public static func memberNames(ovaName: String) -> (ovf: String, manifest: String, disk: String) {
        (ovaName + ".ovf", ovaName + ".mf", ovaName + "-disk1.vmdk")
    }

    /// Writes the OVA at `path`.
    /// - Parameters:
    ///   - path: the `.ova` to create.
    ///   - ovaName: the base of the member names (printable ASCII, no slash).
    ///   - vmdkPath: a finished streamOptimized VMDK.
    ///   - descriptor: the OVF text for the VMDK's file size (`References/File/@ovf:size`),
    ///     an ``OVFComposeEnvelope``'s.
    ///   - mtime: the members' modification time (seconds; pass SOURCE_DATE_EPOCH for
    ///     reproducible packages).
    ///   - vmdkSHA256: the VMDK's SHA-256 if already known; nil reads the VMDK an extra time.
    /// - Returns: the MD5 and SHA-256 of the OVA file.
    /// - Throws: ``PackagingError`` for bad names and a VMDK that changes size, what
    ///   `descriptor` throws, `IOError` for system-call failures.
    @discardableResult
    public static func write(
        path: String, ovaName: String, vmdkPath: String, descriptor: (_ vmdkSize: UInt64) throws -> String,
        mtime: UInt64, vmdkSHA256: [UInt8]? = nil, hashOutput: Bool = true
    ) throws -> Digests? {
        let names = memberNames(ovaName: ovaName)
        for name in [names.ovf, names.manifest, names.disk] { try USTARHeader.validate(memberName: name) }

        let vmdk = try withPath(vmdkPath, "open") { try FileDescriptor.open(vmdkPath, .readOnly) }
        defer { try? vmdk.close() }
        let vmdkSize = try withPath(vmdkPath, "stat") { try Syscalls.size(of: vmdk) }
        let buffer = IOBuffer(size: 4 << 20)
        let diskDigest = try vmdkSHA256 ?? hashFile(vmdk, path: vmdkPath, size: vmdkSize, buffer: buffer)

        let ovfBytes = Array(try descriptor(vmdkSize).utf8)
        let manifest = Manifest(entries: [
            (names.ovf, Array(SHA256.hash(data: ovfBytes))), (names.disk, diskDigest),
        ])
        let manifestBytes = Array(manifest.text.utf8)

        let tar = try TarStream(path: path, hashing: hashOutput)
        try tar.appendMember(name: names.ovf, size: UInt64(ovfBytes.count), mtime: mtime)
        try tar.append(ovfBytes)
        try tar.padToBlock()
        try tar.appendMember(name: names.manifest, size: UInt64(manifestBytes.count), mtime: mtime)
        try tar.append(manifestBytes)
        try tar.padToBlock()
        try tar.appendMember(name: names.disk, size: vmdkSize, mtime: mtime)
        let disk = SourceRange(descriptor: vmdk, path: vmdkPath, offset: 0, length: vmdkSize)
        if hashOutput {
            try disk.forEachChunk(buffer: buffer.bytes) { chunk, _ in try tar.append(chunk) }
        } else {
            try tar.appendFile(disk)  // in the kernel: no copy through this process
        }
        let after = try withPath(vmdkPath, "stat") { try Syscalls.size(of: vmdk) }
        if after != vmdkSize { throw PackagingError.sizeChanged(path: vmdkPath, expected: vmdkSize, actual: after) }
        try tar.padToBlock()
        try tar.append([UInt8](repeating: 0, count: 2 * USTARHeader.size))
        return try tar.commit()
    }

    /// SHA-256 of `size` bytes of `file`, read through `buffer`.
    static func hashFile(_ file: FileDescriptor, path: String, size: UInt64, buffer: IOBuffer) throws -> [UInt8] {
        var hash = SHA256()
        try SourceRange(descriptor: file, path: path, offset: 0, length: size)
            .forEachChunk(buffer: buffer.bytes) { chunk, _ in hash.update(bufferPointer: chunk) }
        return Array(hash.finalize())
    }
}

/// An append-only archive file that hashes what it writes: small pieces (headers, the OVF,
/// padding) are gathered in a buffer, big chunks go straight to `pwrite`.
final class TarStream {
    let path: String
    private let file: OutputFile
    private let hashing: HashingObserver?
    private let buffer = IOBuffer(size: 1 << 20)
    private var filled = 0
    /// Bytes already passed to `pwrite`.
    private var position: UInt64 = 0
    /// The archive's length so far (written plus buffered).
    var length: UInt64 { position + UInt64(filled) }

    init(path: String, hashing: Bool = true) throws {
        self.path = path
        self.file = try OutputFile(path: path)
        self.hashing = hashing ? HashingObserver() : nil
    }

    /// Appends a file range with copy_file_range (only when not hashing).
    func appendFile(_ range: SourceRange) throws {
        precondition(hashing == nil, "a hashed archive reads what it copies")
        try flush()
        var done: UInt64 = 0
        while done < range.length {
            let n = try withPath(range.path, "copy_file_range") {
                try Syscalls.copyFileRange(
                    from: range.descriptor, at: range.offset + done, to: file.descriptor, at: position,
                    length: Int(min(range.length - done, 1 << 30)))
            }
            if n == 0 { throw IOError.sourceShrank(path: range.path, expected: range.length, actual: done) }
            done += UInt64(n)
            position += UInt64(n)
        }
    }

    /// Appends a ustar header for a regular file.
    func appendMember(name: String, size: UInt64, mtime: UInt64) throws {
        precondition(length % UInt64(USTARHeader.size) == 0, "tar header off a block boundary")
        try append(try USTARHeader(name: name, fileSize: size, modificationTime: mtime).encode())
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    func append(_ data: UnsafeRawBufferPointer) throws {
        hashing?.update(data)
        if data.count >= buffer.bytes.count {
            try flush()
            try pwrite(data)
            return
        }
        if filled + data.count > buffer.bytes.count { try flush() }
        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[filled..<(filled + data.count)]).copyMemory(from: data)
        filled += data.count
    }

    /// Pads with zeros to the next 512-byte boundary.
    func padToBlock() throws {
        let block = UInt64(USTARHeader.size)
        let rest = Int((block - length % block) % block)
        if rest > 0 { try append([UInt8](repeating: 0, count: rest)) }
    }

    /// Flushes, renames the file into place and returns its digests.
    func commit() throws -> Digests? {
        try flush()
        try file.commit()
        return hashing?.finalize()
    }

    private func flush() throws {
        guard filled > 0 else { return }
        try pwrite(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<filled]))
        filled = 0
    }

    private func pwrite(_ data: UnsafeRawBufferPointer) throws {
        let at = position
        _ = try withPath(path, "write") { try file.descriptor.writeAll(toAbsoluteOffset: Int64(at), data) }
        position += UInt64(data.count)
    }
}
