import Crypto
import StampIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The manifest `stamp ova-compose` writes, with ova-compose's digest (SHA1, SHA256 or
/// SHA512); the OVA itself is ``OVAComposeTar``.
///
/// ```
/// NAME.mf    SHA256(NAME.ovf)= hex            one line per file, the .ovf first, then each
///            SHA256(disk.vmdk)= hex           References/File in order (a name may repeat)
/// ```
public enum OVAComposeArchive {
    /// The manifest's digest (`--checksum-type`).
    public enum Digest: String, Sendable, CaseIterable {
        case sha1, sha256, sha512
        /// The name on a manifest line.
        public var label: String { rawValue.uppercased() }
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

    /// Calls `body` with the bytes of the regular file at `path`, 1 MiB at a time.
    public static func forEachChunk(of path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking]) }
        defer { try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw PackagingError.unsupportedEntry(path: path, reason: "not a regular file")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try withPath(path, "read") { try fd.read(into: buffer, retryOnInterrupt: true) }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// A ``DigestState`` to hand out as an observer (``OutputObserver``, a file's chunks).
    public final class Hasher {
        private var state: DigestState
        public init(_ digest: Digest) { state = DigestState(digest) }
        public func update(_ data: UnsafeRawBufferPointer) { state.update(data) }
        public func finalize() -> [UInt8] { state.finalize() }
    }

    /// One of the three hash functions behind one interface.
    public struct DigestState {
        var sha1: Insecure.SHA1?
        var sha256: SHA256?
        var sha512: SHA512?

        public init(_ digest: Digest) {
            switch digest {
            case .sha1: sha1 = Insecure.SHA1()
            case .sha256: sha256 = SHA256()
            case .sha512: sha512 = SHA512()
            }
        }

        public mutating func update(_ data: UnsafeRawBufferPointer) {
            sha1?.update(bufferPointer: data)
            sha256?.update(bufferPointer: data)
            sha512?.update(bufferPointer: data)
        }

        public func finalize() -> [UInt8] {
            if let sha1 { return Array(sha1.finalize()) }
            if let sha256 { return Array(sha256.finalize()) }
            return Array(sha512!.finalize())
        }
    }
}
