#if canImport(Glibc)
    import Glibc
#endif

/// Where an image's blobs come from: an OCI layout directory, a staged `docker save`
/// archive, or a registry. A store hands out only verified content: documents are size-bounded
/// before they are read and hashed before they are parsed; layer files are hashed whole
/// before libarchive sees a byte of them.
protocol BlobStore: AnyObject {
    /// The descriptor of the manifest (or index) the reference names, and the document's bytes.
    func rootDocument() throws -> (descriptor: Descriptor?, bytes: [UInt8])
    /// The verified bytes of a small JSON blob (index, manifest, config).
    func document(_ descriptor: Descriptor, what: String) throws -> [UInt8]
    /// The path of a verified layer file.
    func layerFile(_ descriptor: Descriptor, what: String) throws -> String
}

/// Reads at most `limit` bytes of the file at `path`, refusing a larger file before reading.
func readSmallFile(_ path: String, limit: Int64, what: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        if errno == ENOENT { throw OCIError.notFound(what: what) }
        throw OCIError.system(path: path, operation: "open", message: errnoText())
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw OCIError.system(path: path, operation: "stat", message: errnoText()) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw OCIError.malformed(what: what, reason: "not a regular file") }
    guard Int64(st.st_size) <= limit else { throw OCIError.sizeOutOfBounds(what: what, size: Int64(st.st_size), limit: limit) }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw OCIError.system(path: path, operation: "read", message: n == 0 ? "file shrank" : errnoText()) }
        done += n
    }
    return bytes
}

/// An OCI image layout directory:
///
/// ```
/// DIR/oci-layout             {"imageLayoutVersion": "1.0.0"}
/// DIR/index.json             index: manifests, tagged by org.opencontainers.image.ref.name
/// DIR/blobs/sha256/<hex>     every blob, named by its digest
/// ```
final class OCILayoutStore: BlobStore {
    let directory: String
    let tag: String?
    let platform: Platform

    init(directory: String, tag: String?, platform: Platform) {
        self.directory = directory
        self.tag = tag
        self.platform = platform
    }

    func rootDocument() throws -> (descriptor: Descriptor?, bytes: [UInt8]) {
        var st = stat()
        guard stat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw OCIError.notFound(what: "\(directory): oci layout directory")
        }
        let layout = try readSmallFile(directory + "/oci-layout", limit: Limits.document, what: "\(directory)/oci-layout")
        let version = try jsonObject(layout, what: "\(directory)/oci-layout")["imageLayoutVersion"] as? String
        guard version == "1.0.0" else {
            throw OCIError.unsupported(what: "\(directory)/oci-layout", reason: "imageLayoutVersion \(version ?? "missing")")
        }
        let what = "\(directory)/index.json"
        let index = try ImageIndex(bytes: try readSmallFile(what, limit: Limits.document, what: what), what: what)
        let chosen: Descriptor
        if let tag {
            let tagged = index.manifests.filter { $0.annotations["org.opencontainers.image.ref.name"] == tag }
            guard let first = tagged.first else {
                let tags = index.manifests.compactMap { $0.annotations["org.opencontainers.image.ref.name"] }
                throw OCIError.notFound(
                    what: "\(what): tag '\(tag)' (has \(tags.isEmpty ? "no tags" : tags.joined(separator: ", ")))")
            }
            chosen =
                tagged.count == 1
                ? first : try ImageIndex(manifests: tagged).choosePlatform(what: "\(what) tag '\(tag)'", platform: platform)
        } else {
            chosen = try index.choosePlatform(what: what, platform: platform)
        }
        try chosen.checkSize(limit: Limits.document, what: "manifest \(chosen.digest)")
        return (chosen, try document(chosen, what: "manifest \(chosen.digest)"))
    }

    func blobPath(_ descriptor: Descriptor) -> String { directory + "/blobs/sha256/" + descriptor.digest.hex }

    func document(_ descriptor: Descriptor, what: String) throws -> [UInt8] {
        try descriptor.checkSize(limit: Limits.document, what: what)
        let bytes = try readSmallFile(
            blobPath(descriptor), limit: Limits.document, what: "\(what) (blob \(blobPath(descriptor)))")
        if Int64(bytes.count) != descriptor.size {
            throw OCIError.sizeMismatch(what: what, expected: descriptor.size, actual: Int64(bytes.count))
        }
        let actual = Digest.of(bytes)
        if actual != descriptor.digest {
            throw OCIError.digestMismatch(what: what, expected: descriptor.digest.description, actual: actual.description)
        }
        return bytes
    }

    func layerFile(_ descriptor: Descriptor, what: String) throws -> String {
        let path = blobPath(descriptor)
        var st = stat()
        guard lstat(path, &st) == 0 else { throw OCIError.notFound(what: "\(what) (blob \(path))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw OCIError.malformed(what: what, reason: "blob \(path) is not a regular file")
        }
        if Int64(st.st_size) != descriptor.size {
            throw OCIError.sizeMismatch(what: what, expected: descriptor.size, actual: Int64(st.st_size))
        }
        try Digest.verify(file: path, against: descriptor, what: what)
        return path
    }
}

extension ImageIndex {
    init(manifests: [Descriptor]) { self.manifests = manifests }
}
