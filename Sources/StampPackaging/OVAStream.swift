import Crypto
import StampBytes
import StampIO

/// Writes an OVA in the same pass as its disk: the streamOptimized VMDK goes straight into
/// the archive while it is compressed, and the descriptor, manifest and tar headers in front
/// of it are filled in once the disk's size and SHA-256 are known.
///
/// ```
/// offset 0          ustar header NAME.ovf   (size = reserved length)      ┐ written last,
///        512        OVF text, padded with spaces to the reserved length    │ over a region
///        …          ustar header NAME.mf                                   │ skipped at the
///                   SHA256(NAME.ovf)= …  SHA256(NAME-disk1.vmdk)= …        │ start
///        diskOffset-512  ustar header NAME-disk1.vmdk                      ┘
///        diskOffset VMDK bytes, streamed by the VMDK writer (``writer``, ``diskOffset``)
///        …          padding to 512, two zero blocks
/// ```
///
/// The OVF's only unknown is the VMDK's file size (`ovf:size`), so the descriptor is reserved
/// at its length for the largest size (20 digits) and the real text is padded with spaces,
/// which XML allows after the root element. The manifest's length is fixed by the names.
/// The archive is the same as ``OVAWriter`` writes for the same disk, but for that padding.
public final class OVAStream {
    /// The archive's writer; the VMDK writer appends to it from ``diskOffset`` on.
    public let writer: StagedWriter
    /// Where the VMDK's first byte goes.
    public let diskOffset: UInt64
    /// The member name of the disk (`NAME-disk1.vmdk`), for the VMDK's extent line.
    public let diskName: String

    private let names: (ovf: String, manifest: String, disk: String)
    private let descriptor: (UInt64) -> OVFDescriptor
    private let reservedOVF: Int
    private let mtime: UInt64

    /// Creates the archive (under a temporary name) and reserves its front.
    /// - Parameters: as ``OVAWriter/write(path:ovaName:vmdkPath:virtualSize:options:mtime:populatedSize:vmdkSHA256:hashOutput:)``.
    public init(path: String, ovaName: String, virtualSize: UInt64, options: OVFOptions, mtime: UInt64, populatedSize: UInt64 = 0) throws {
        names = OVAWriter.memberNames(ovaName: ovaName)
        for name in [names.ovf, names.manifest, names.disk] { try USTARHeader.validate(memberName: name) }
        try options.validate()
        let disk = names.disk
        descriptor = { size in
            OVFDescriptor(options: options, disk: .init(fileName: disk, fileSize: size, capacity: virtualSize, populatedSize: populatedSize))
        }
        reservedOVF = try descriptor(UInt64.max).text().utf8.count
        let block = UInt64(USTARHeader.size)
        let manifestLength = UInt64(Manifest(entries: [(names.ovf, [UInt8](repeating: 0, count: 32)), (names.disk, [UInt8](repeating: 0, count: 32))]).text.utf8.count)
        diskOffset = block + UInt64(reservedOVF).roundedUp(toMultipleOf: block) + block + manifestLength.roundedUp(toMultipleOf: block) + block
        diskName = names.disk
        self.mtime = mtime
        writer = try StagedWriter(path: path)
        writer.skip(diskOffset)
    }

    /// Completes the archive once the VMDK (`vmdkSize` bytes, written at ``diskOffset``) is
    /// complete: the front, the end padding, and the rename into place.
    public func finish(vmdkSize: UInt64, vmdkSHA256: [UInt8]) throws {
        precondition(writer.end == diskOffset + vmdkSize, "the VMDK must end where the archive continues")
        var ovf = Array(try descriptor(vmdkSize).text().utf8)
        precondition(ovf.count <= reservedOVF)
        if ovf.count < reservedOVF {
            // Spaces before the final newline: the document keeps ending with a line break.
            let newline = ovf.last == 0x0A ? ovf.removeLast() : nil
            ovf += [UInt8](repeating: 0x20, count: reservedOVF - ovf.count - (newline == nil ? 0 : 1))
            if let newline { ovf.append(newline) }
        }
        let manifest = Array(Manifest(entries: [(names.ovf, Array(SHA256.hash(data: ovf))), (names.disk, vmdkSHA256)]).text.utf8)
        var front: [UInt8] = []
        front += try USTARHeader(name: names.ovf, fileSize: UInt64(ovf.count), modificationTime: mtime).encode()
        front += Self.padded(ovf)
        front += try USTARHeader(name: names.manifest, fileSize: UInt64(manifest.count), modificationTime: mtime).encode()
        front += Self.padded(manifest)
        front += try USTARHeader(name: names.disk, fileSize: vmdkSize, modificationTime: mtime).encode()
        precondition(UInt64(front.count) == diskOffset)
        try front.withUnsafeBytes { try writer.patch($0, at: 0) }
        // Zeros to the end: the disk member's padding to 512 and the two end-of-archive blocks.
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
