import Crypto
import StampIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The package files `stamp ova-compose` writes once every member exists: the manifest with
/// ova-compose's digest (SHA1, SHA256 or SHA512) and the OVA itself, a tar of whole files.
///
/// ```
/// NAME.mf    SHA256(NAME.ovf)= hex            one line per file, the .ovf first, then each
///            SHA256(disk.vmdk)= hex           References/File in order (a name may repeat)
/// NAME.ova   ustar: NAME.ovf, NAME.mf, every References/File member, NAME.cert (signed)
///            — ova-compose's order (it tars [ovf, mf] + files, then appends the cert)
/// ```
public enum OVAComposeArchive {
    /// The manifest's digest (`--checksum-type`).
    public enum Digest: String, Sendable, CaseIterable {
        case sha1, sha256, sha512
        /// The name on a manifest line.
        public var label: String { rawValue.uppercased() }
    }

    /// A member of the OVA: bytes in memory or a whole file.
    public enum Content: Sendable {
        case bytes([UInt8])
        case file(path: String)
    }

    public struct Member: Sendable {
        public var name: String
        public var content: Content
        public init(name: String, content: Content) {
            self.name = name
            self.content = content
        }
    }

    /// The digest of `bytes`.
    public static func digest(_ bytes: [UInt8], _ digest: Digest) -> [UInt8] {
        var h = DigestState(digest)
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }

    /// The digest of the file at `path`, read once.
    public static func digest(path: String, _ digest: Digest) throws -> [UInt8] {
        var h = DigestState(digest)
        try forEachChunk(of: path) { h.update($0) }
        return h.finalize()
    }

    /// The manifest's text for (member name, digest) pairs.
    public static func manifest(_ entries: [(name: String, digest: [UInt8])], _ digest: Digest) -> String {
        entries.map { "\(digest.label)(\($0.name))= \(hex($0.digest))\n" }.joined()
    }

    /// Writes the OVA at `path` (under a temporary name until complete): every member with a
    /// ustar header (mode 0644, owner root), then the two zero blocks.
    public static func write(path: String, members: [Member], mtime: UInt64) throws {
        for member in members { try USTARHeader.validate(memberName: member.name) }
        let tar = try TarStream(path: path, hashing: false)
        for member in members {
            switch member.content {
            case .bytes(let bytes):
                try tar.appendMember(name: member.name, size: UInt64(bytes.count), mtime: mtime)
                try tar.append(bytes)
            case .file(let source):
                let fd = try withPath(source, "open") { try FileDescriptor.open(FilePath(source), .readOnly) }
                defer { try? fd.close() }
                var st = stat()
                guard fstat(fd.rawValue, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw PackagingError.invalidMemberName(name: source, reason: "not a regular file")
                }
                let size = UInt64(st.st_size)
                try tar.appendMember(name: member.name, size: size, mtime: mtime)
                try tar.appendFile(SourceRange(descriptor: fd, path: source, offset: 0, length: size))
            }
            try tar.padToBlock()
        }
        try tar.append([UInt8](repeating: 0, count: 2 * USTARHeader.size))
        _ = try tar.commit()
    }

    /// Calls `body` with the file's bytes, 1 MiB at a time.
    static func forEachChunk(of path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try withPath(path, "read") { try fd.read(into: buffer, retryOnInterrupt: true) }
            if n == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// One of the three hash functions behind one interface.
    struct DigestState {
        var sha1: Insecure.SHA1?
        var sha256: SHA256?
        var sha512: SHA512?

        init(_ digest: Digest) {
            switch digest {
            case .sha1: sha1 = Insecure.SHA1()
            case .sha256: sha256 = SHA256()
            case .sha512: sha512 = SHA512()
            }
        }

        mutating func update(_ data: UnsafeRawBufferPointer) {
            sha1?.update(bufferPointer: data)
            sha256?.update(bufferPointer: data)
            sha512?.update(bufferPointer: data)
        }

        func finalize() -> [UInt8] {
            if let sha1 { return Array(sha1.finalize()) }
            if let sha256 { return Array(sha256.finalize()) }
            return Array(sha512!.finalize())
        }
    }
}
