import Crypto
import StampBytes
import StampIO

/// Writes an OVA in the same pass as its disk: the first streamOptimized VMDK goes straight
/// into the archive while it is compressed, further members (more disks, ISO images) are
/// appended after it, and the descriptor, manifest, certificate and tar headers are filled in
/// once every member's size and SHA-256 are known.
///
/// ```
/// offset 0          ustar header NAME.ovf   (size = reserved length)      ┐ written last,
///        512        OVF text, padded with spaces to the reserved length    │ over a region
///        …          ustar header NAME.mf                                   │ skipped at the
///                   SHA256(NAME.ovf)= …  SHA256(NAME-disk1.vmdk)= …        │ start
///        …          ustar header NAME.cert   (with a signer)               │
///                   SHA256(NAME.mf)= <signature hex>, certificate PEM      │
///        diskOffset-512  ustar header NAME-disk1.vmdk                      ┘
///        diskOffset VMDK bytes, streamed by the VMDK writer (``writer``, ``diskOffset``)
///        …          padding to 512; per further member: ustar header (patched last), bytes
///        …          padding to 512, two zero blocks
/// ```
///
/// The OVF's only unknowns are the members' file sizes (`ovf:size`), so the descriptor is
/// reserved at its length for the largest sizes (20 digits) and the real text is padded with
/// spaces, which XML allows after the root element. The manifest's length is fixed by the
/// names, the certificate's by the key size and the certificate. With one disk and no signer
/// the archive is the same as ``OVAWriter`` writes for the same disk and descriptor, but for
/// that padding. The descriptor is ``OVFComposeEnvelope``'s (the pack plan renders it).
public final class OVAStream {
    /// The archive's writer; the VMDK writer appends to it from ``diskOffset`` on.
    public let writer: StagedWriter
    /// Where the first member's (the streamed VMDK's) first byte goes.
    public let diskOffset: UInt64
    /// The member name of the first disk (`NAME-disk1.vmdk`), for the VMDK's extent line.
    public let diskName: String
    /// Every member after the manifest (and certificate), in archive order.
    public let memberNames: [String]

    private let ovfName: String
    private let manifestName: String
    private let certName: String
    private let render: ([UInt64]) throws -> String
    private let signer: OVASigner?
    private let reservedOVF: Int
    private let mtime: UInt64
    /// (header offset, size, SHA-256) of each member written so far.
    private var written: [(header: UInt64, size: UInt64, sha256: [UInt8])] = []

    /// Creates the archive for `members` (the first one streamed at ``diskOffset``, the others
    /// appended with ``beginMember()``/``endMember(size:sha256:)``).
    /// - Parameters:
    ///   - render: the descriptor for the members' sizes (in `members` order); called once
    ///     with every size at its maximum to reserve room, and once at the end.
    ///   - signer: writes `NAME.cert` after the manifest.
    public init(
        path: String, ovaName: String, members: [String], signer: OVASigner? = nil, mtime: UInt64,
        render: @escaping ([UInt64]) throws -> String
    ) throws {
        precondition(!members.isEmpty, "an OVA has at least one disk")
        ovfName = ovaName + ".ovf"
        manifestName = ovaName + ".mf"
        certName = ovaName + ".cert"
        for name in [ovfName, manifestName] + (signer == nil ? [] : [certName]) + members {
            try USTARHeader.validate(memberName: name)
        }
        var seen = Set<String>()
        for name in [ovfName, manifestName, certName] + members where !seen.insert(name).inserted {
            throw PackagingError.invalidMemberName(name: name, reason: "two members of the package have this name")
        }
        self.render = render
        self.signer = signer
        memberNames = members
        reservedOVF = try render(members.map { _ in UInt64.max }).utf8.count
        let block = UInt64(USTARHeader.size)
        let placeholder = [UInt8](repeating: 0, count: 32)
        let manifestLength = UInt64(Manifest(entries: ([ovfName] + members).map { ($0, placeholder) }).text.utf8.count)
        var offset =
            block + UInt64(reservedOVF).roundedUp(toMultipleOf: block) + block + manifestLength.roundedUp(toMultipleOf: block)
        if let signer { offset += block + UInt64(signer.length(manifestName: manifestName)).roundedUp(toMultipleOf: block) }
        diskOffset = offset + block
        diskName = members[0]
        self.mtime = mtime
        writer = try StagedWriter(path: path)
        writer.skip(diskOffset)
    }

    /// Completes the archive of one disk (`vmdkSize` bytes, written at ``diskOffset``): the
    /// front, the end padding, and the rename into place.
    public func finish(vmdkSize: UInt64, vmdkSHA256: [UInt8]) throws {
        if written.isEmpty { endMember(size: vmdkSize, sha256: vmdkSHA256) }
        try finish()
    }

    /// Records the end of the member being written (the first: the VMDK at ``diskOffset``).
    public func endMember(size: UInt64, sha256: [UInt8]) {
        let header = written.isEmpty ? diskOffset - UInt64(USTARHeader.size) : nextHeader
        precondition(writer.end == header + UInt64(USTARHeader.size) + size, "the member must end where the archive continues")
        written.append((header, size, sha256))
    }

    private var nextHeader: UInt64 = 0

    /// Starts the next member after the first: reserves its header and returns the offset of
    /// its first byte (write it there, then call ``endMember(size:sha256:)``).
    public func beginMember() -> UInt64 {
        precondition(
            !written.isEmpty && written.count < memberNames.count, "members are written in order, the first at diskOffset")
        let block = UInt64(USTARHeader.size)
        nextHeader = writer.end.roundedUp(toMultipleOf: block)
        writer.skip(nextHeader + block - writer.end)
        return writer.end
    }

    /// Writes the front and every member header, the end padding, and renames the archive
    /// into place.
    public func finish() throws {
        precondition(written.count == memberNames.count, "every member must be written before the archive is finished")
        var ovf = Array(try render(written.map(\.size)).utf8)
        precondition(ovf.count <= reservedOVF)
        if ovf.count < reservedOVF {
            // Spaces before the final newline: the document keeps ending with a line break.
            let newline = ovf.last == 0x0A ? ovf.removeLast() : nil
            ovf += [UInt8](repeating: 0x20, count: reservedOVF - ovf.count - (newline == nil ? 0 : 1))
            if let newline { ovf.append(newline) }
        }
        let entries = [(ovfName, Array(SHA256.hash(data: ovf)))] + zip(memberNames, written.map(\.sha256)).map { ($0, $1) }
        let manifest = Array(Manifest(entries: entries).text.utf8)
        var front: [UInt8] = []
        front += try USTARHeader(name: ovfName, fileSize: UInt64(ovf.count), modificationTime: mtime).encode()
        front += Self.padded(ovf)
        front += try USTARHeader(name: manifestName, fileSize: UInt64(manifest.count), modificationTime: mtime).encode()
        front += Self.padded(manifest)
        if let signer {
            let cert = Array(try signer.certificateText(manifestName: manifestName, manifest: manifest).utf8)
            precondition(cert.count == signer.length(manifestName: manifestName))
            front += try USTARHeader(name: certName, fileSize: UInt64(cert.count), modificationTime: mtime).encode()
            front += Self.padded(cert)
        }
        precondition(UInt64(front.count) + UInt64(USTARHeader.size) == diskOffset)
        try front.withUnsafeBytes { try writer.patch($0, at: 0) }
        for (name, member) in zip(memberNames, written) {
            let header = try USTARHeader(name: name, fileSize: member.size, modificationTime: mtime).encode()
            try header.withUnsafeBytes { try writer.patch($0, at: member.header) }
        }
        // Zeros to the end: the last member's padding to 512 and the two end-of-archive blocks.
        let block = UInt64(USTARHeader.size)
        let end = writer.end.roundedUp(toMultipleOf: block) + 2 * block
        writer.skip(end - writer.end)
        try writer.finish(size: end)
    }

    /// Abandons the archive: the temporary file is removed.
    public func discard() { writer.discard() }

    private static func padded(_ bytes: [UInt8]) -> [UInt8] {
        let rest = (USTARHeader.size - bytes.count % USTARHeader.size) % USTARHeader.size
        return bytes + [UInt8](repeating: 0, count: rest)
    }
}
