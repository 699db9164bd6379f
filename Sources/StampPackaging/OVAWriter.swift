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
    ///   - virtualSize: the disk's virtual size in bytes (the OVF capacity).
    ///   - options: the virtual machine (validated first).
    ///   - mtime: the members' modification time (seconds; pass SOURCE_DATE_EPOCH for
    ///     reproducible packages).
    ///   - populatedSize: `ovf:populatedSize`, the guest's used bytes (an estimate; 0 = unknown).
    ///   - vmdkSHA256: the VMDK's SHA-256 if already known; nil reads the VMDK an extra time.
    /// - Returns: the MD5 and SHA-256 of the OVA file.
    /// - Throws: ``PackagingError`` for bad options or names and a VMDK that changes size,
    ///   `IOError` for system-call failures.
    @discardableResult
    public static func write(
        path: String, ovaName: String, vmdkPath: String, virtualSize: UInt64, options: OVFOptions,
        mtime: UInt64, populatedSize: UInt64 = 0, vmdkSHA256: [UInt8]? = nil, hashOutput: Bool = true
    ) throws -> Digests? {
        let names = memberNames(ovaName: ovaName)
        for name in [names.ovf, names.manifest, names.disk] { try USTARHeader.validate(memberName: name) }
        try options.validate()

        let vmdk = try withPath(vmdkPath, "open") { try FileDescriptor.open(vmdkPath, .readOnly) }
        defer { try? vmdk.close() }
        let vmdkSize = try withPath(vmdkPath, "stat") { try Syscalls.size(of: vmdk) }
        let buffer = IOBuffer(size: 4 << 20)
        let diskDigest = try vmdkSHA256 ?? hashFile(vmdk, path: vmdkPath, size: vmdkSize, buffer: buffer)

        let descriptor = OVFDescriptor(
            options: options,
            disk: .init(fileName: names.disk, fileSize: vmdkSize, capacity: virtualSize, populatedSize: populatedSize))
        let ovfBytes = Array(try descriptor.text().utf8)
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
        try disk.forEachChunk(buffer: buffer.bytes) { chunk, _ in try tar.append(chunk) }
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

/// An append-only archive file that hashes what it writes, over a `StagedWriter` (aligned
/// stages written with `O_DIRECT` off the caller's thread).
final class TarStream {
    let path: String
    private let writer: StagedWriter
    private let hashing: HashingObserver?
    /// The archive's length so far.
    private(set) var length: UInt64 = 0

    init(path: String, hashing: Bool = true) throws {
        self.path = path
        self.writer = try StagedWriter(path: path)
        self.hashing = hashing ? HashingObserver() : nil
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
        try writer.write(data, at: length)
        length += UInt64(data.count)
    }

    /// Pads with zeros to the next 512-byte boundary.
    func padToBlock() throws {
        let block = UInt64(USTARHeader.size)
        let rest = Int((block - length % block) % block)
        if rest > 0 { try append([UInt8](repeating: 0, count: rest)) }
    }

    /// Writes what is staged, renames the file into place and returns its digests.
    func commit() throws -> Digests? {
        try writer.finish(size: length)
        return hashing?.finalize()
    }
}
