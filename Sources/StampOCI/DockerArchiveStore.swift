import Crypto
import StampArchive
import StampBytes
import StampCompression

#if canImport(Glibc)
    import Glibc
#endif

/// A `docker save` / `podman save` tarball (`docker-archive:FILE`):
///
/// ```
/// manifest.json                  [{"Config": "<hex>.json", "RepoTags": [...], "Layers": [...]}]
/// <hex>.json                     the image config, named by its own sha256
/// <id>/layer.tar                 one uncompressed layer per entry of Layers (older Docker)
/// blobs/sha256/<hex>             or blobs named by digest (Docker 25 and later)
/// ```
///
/// The tar is read twice. First its headers (and manifest.json, in memory):
/// which members manifest.json references, and how big they say they are. Then only the
/// referenced members (the config and the layers) are staged in a private directory under
/// numbered names (a member's own name never becomes a path); anything else in the archive,
/// however big, is never written, and the referenced layers' declared sizes are checked
/// against the expansion limit (``maxExpanded``) before the first is staged. Nothing in
/// manifest.json is trusted: the config must hash to the digest in its name, and each layer
/// must hash (as stored, or once decompressed) to the config's `rootfs.diff_ids` entry at its
/// position.
final class DockerArchiveStore: BlobStore {
    let file: String
    let staging: String
    /// The most bytes the referenced members may add up to (``ExpansionBudget``).
    var maxExpanded = ExpansionBudget.defaultLimit
    /// Member name (normalized, without `./`) → staged file.
    private var members: [String: String] = [:]
    private var layerPaths: [Digest: String] = [:]
    /// Staged file → the sha256 and size of the member as the archive stores it (a plain
    /// tar is staged compressed, so its file no longer hashes to its name).
    private var storedDigests: [String: (digest: Digest, size: Int64)] = [:]
    /// Regular members by name: their declared size.
    private var sizes: [String: Int64] = [:]
    /// Symlinks by name: the member name they point at.
    private var links: [String: String] = [:]
    /// manifest.json, read in the first pass.
    private var documents: [String: [UInt8]] = [:]

    init(file: String, staging: String) {
        self.file = file
        self.staging = staging
    }

    /// The first pass: names, sizes and links of every member, and manifest.json.
    private func scan() throws {
        try OCIError.rethrowingArchiveErrors {
            var st = stat()
            guard stat(file, &st) == 0 else { throw OCIError.notFound(what: "\(file): docker archive") }
            let reader = try ArchiveReader(path: file)
            defer { reader.close() }
            while let member = try reader.next() {
                let name = String(decoding: member.path, as: UTF8.self)
                let normalized = try LayerPath.normalize(member.path, layer: file)
                if member.isRegular {
                    sizes[normalized] = member.size
                    if normalized == "manifest.json", member.size <= Limits.document {
                        var bytes: [UInt8] = []
                        try reader.readData { bytes += $0 }
                        documents[normalized] = bytes
                    }
                } else if member.fileType == 0o120000, let link = member.symlinkTarget {
                    // Older `docker save` links a repeated layer to its first copy (`../<id>/layer.tar`).
                    let parent = normalized.split(separator: "/").dropLast().joined(separator: "/")
                    let joined = (parent.isEmpty ? "" : parent + "/") + String(decoding: link, as: UTF8.self)
                    var parts: [Substring] = []
                    for part in joined.split(separator: "/") where part != "." {
                        if part == ".." {
                            guard !parts.isEmpty else {
                                throw OCIError.hostileMember(
                                    layer: file, path: name, reason: "symlink points outside the archive")
                            }
                            parts.removeLast()
                        } else {
                            parts.append(part)
                        }
                    }
                    links[normalized] = parts.joined(separator: "/")
                }
            }
        }
    }

    /// The second pass: stages the members named in `wanted` (after links), nothing else.
    private func stage(_ wanted: Set<String>) throws {
        try OCIError.rethrowingArchiveErrors {
            let reader = try ArchiveReader(path: file)
            defer { reader.close() }
            var count = 0
            while let member = try reader.next() {
                let normalized = try LayerPath.normalize(member.path, layer: file)
                guard member.isRegular, wanted.contains(normalized), members[normalized] == nil else { continue }
                let target = staging + "/member-\(count)"
                count += 1
                storedDigests[target] = try copyData(reader, to: target)
                members[normalized] = target
            }
        }
        for (name, target) in links { if let staged = members[target] { members[name] = staged } }
    }

    /// A member name with one level of symlink followed (as `docker save` writes them).
    private func resolved(_ name: String) -> String { links[name] ?? name }

    /// Stages one member. A layer `docker save` stored as a plain tar is staged gzip-compressed
    /// (``StagedGzip``): the scratch directory never holds the image's files uncompressed, and
    /// every reader of layers takes gzip. Members already compressed (gzip, zstd, xz, as Docker
    /// 25's blobs may be) and the small JSON documents are copied as they are.
    /// - Returns: the sha256 and size of the member as stored.
    private func copyData(_ reader: ArchiveReader, to target: String) throws -> (digest: Digest, size: Int64) {
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIError.system(path: target, operation: "create", message: errnoText()) }
        defer { close(fd) }
        let output = StagedGzip(fd: fd, path: target)
        var hasher = SHA256()
        var size: Int64 = 0
        try reader.readData { chunk in
            hasher.update(bufferPointer: chunk)
            size += Int64(chunk.count)
            try output.write(chunk)
        }
        try output.finish()
        return (Digest(hex: hexString(hasher.finalize())), size)
    }

    func rootDocument() throws -> (descriptor: Descriptor?, bytes: [UInt8]) {
        try scan()
        guard let bytes = documents["manifest.json"] else {
            throw OCIError.notFound(what: "\(file): manifest.json (not a docker-archive)")
        }
        let what = "\(file) manifest.json"
        let value = try? JSONSerialization.jsonObject(with: Data(bytes))
        guard let list = value as? [[String: Any]], !list.isEmpty else {
            throw OCIError.malformed(what: what, reason: "not a non-empty list of images")
        }
        guard list.count == 1 else {
            throw OCIError.unsupported(what: what, reason: "\(list.count) images in one archive (save one image)")
        }
        guard let configName = list[0]["Config"] as? String, let layerNames = list[0]["Layers"] as? [String] else {
            throw OCIError.malformed(what: what, reason: "no Config or Layers")
        }
        guard layerNames.count <= Limits.layerCount else {
            throw OCIError.malformed(what: what, reason: "\(layerNames.count) layers (at most \(Limits.layerCount))")
        }
        // The config is named by its digest: `<hex>.json` or `blobs/sha256/<hex>`.
        let configHex =
            configName.hasPrefix("blobs/sha256/")
            ? String(configName.dropFirst(13))
            : String(configName.split(separator: "/").last ?? "").replacingOccurrences(of: ".json", with: "")
        guard let configDigest = try? Digest(parsing: "sha256:" + configHex) else {
            throw OCIError.malformed(what: what, reason: "config name '\(configName)' does not carry its sha256")
        }
        // Only what the manifest references is staged; declared sizes first.
        var declared: UInt64 = 0
        for (index, name) in layerNames.enumerated() {
            guard let size = sizes[resolved(name)] else { throw OCIError.notFound(what: "\(file): layer \(name)") }
            let (sum, overflow) = declared.addingReportingOverflow(UInt64(max(0, size)))
            declared = overflow ? .max : sum
            if declared > maxExpanded {
                throw OCIError.expansionLimit(
                    what: "layer \(index) (\(name))",
                    detail: "declared size \(size) bytes (\(declared) with the layers below it) exceeds",
                    limit: maxExpanded)
            }
        }
        try stage(Set(([configName] + layerNames).map(resolved)))
        guard let configPath = members[configName] else { throw OCIError.notFound(what: "\(file): config \(configName)") }
        var st = stat()
        stat(configPath, &st)
        let config = Descriptor(mediaType: MediaType.dockerConfig, digest: configDigest, size: Int64(st.st_size))
        let configBytes = try document(config, what: "config \(configDigest)")
        let diffIDs = try ImageConfig(bytes: configBytes, what: "config \(configDigest)", platform: nil).diffIDs
        guard diffIDs.count == layerNames.count else {
            throw OCIError.malformed(
                what: what, reason: "\(layerNames.count) layers but the config lists \(diffIDs.count) diff_ids")
        }
        // An OCI-style manifest of the archive, so the rest of the pipeline sees one shape.
        var layers: [[String: Any]] = []
        for (index, name) in layerNames.enumerated() {
            guard let path = members[name] else { throw OCIError.notFound(what: "\(file): layer \(name)") }
            let what = "layer \(index) (\(name))"
            let (digest, size) = try storedDigests[path] ?? Digest.ofFile(at: path)
            if name.hasPrefix("blobs/sha256/"), digest.hex != String(name.dropFirst(13)) {
                throw OCIError.digestMismatch(what: what, expected: "sha256:" + name.dropFirst(13), actual: digest.description)
            }
            if digest != diffIDs[index] {
                let uncompressed = try Self.uncompressedDigest(of: path)
                if uncompressed != diffIDs[index] {
                    throw OCIError.digestMismatch(
                        what: what, expected: diffIDs[index].description, actual: uncompressed.description)
                }
            }
            layerPaths[digest] = path
            layers.append(["mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.description, "size": size])
        }
        let manifest: [String: Any] = [
            "schemaVersion": 2, "mediaType": MediaType.ociManifest, "layers": layers,
            "config": ["mediaType": MediaType.ociConfig, "digest": configDigest.description, "size": config.size],
        ]
        let manifestBytes = Array(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]))
        // No digest names a docker archive's manifest; the image is known by its config
        // digest (Docker's image ID), which the synthesized manifest pins.
        return (nil, manifestBytes)
    }

    func document(_ descriptor: Descriptor, what: String) throws -> [UInt8] {
        guard
            let path = members.first(where: {
                $0.key.hasSuffix(descriptor.digest.hex + ".json") || $0.key == "blobs/sha256/" + descriptor.digest.hex
            })?.value
        else { throw OCIError.notFound(what: what) }
        try descriptor.checkSize(limit: Limits.document, what: what)
        let bytes = try readSmallFile(path, limit: Limits.document, what: what)
        let actual = Digest.of(bytes)
        if actual != descriptor.digest {
            throw OCIError.digestMismatch(what: what, expected: descriptor.digest.description, actual: actual.description)
        }
        return bytes
    }

    func layerFile(_ descriptor: Descriptor, what: String) throws -> String {
        guard let path = layerPaths[descriptor.digest] else { throw OCIError.notFound(what: what) }
        return path  // verified against diff_ids while the manifest was built
    }

    /// The sha256 of a layer's decompressed bytes (what `diff_ids` name).
    static func uncompressedDigest(of path: String) throws -> Digest {
        try OCIError.rethrowingArchiveErrors {
            let reader = try ArchiveReader(path: path, format: .raw)
            defer { reader.close() }
            var hasher = SHA256()
            if try reader.next() != nil {
                try reader.readData { hasher.update(bufferPointer: $0) }
            }
            return Digest(hex: hexString(hasher.finalize()))
        }
    }
}

import Foundation

/// A staged member: copied as it is when it starts like a compressed stream or a JSON
/// document, else (a plain tar) written as a series of gzip members of 1 MiB of input each
/// (ISA-L, level 1: faster than the disk), which every gzip reader takes as one stream.
final class StagedGzip {
    static let chunk = 1 << 20
    let fd: Int32
    let path: String
    private var compress: Bool?
    private var pending: [UInt8] = []
    private var compressor: IsalCompressor?
    private var output: [UInt8] = []

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if compress == nil {
            pending += bytes
            guard pending.count >= 6 else { return }
            let compressed: [[UInt8]] = [[0x1f, 0x8b], [0x28, 0xb5, 0x2f, 0xfd], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]]
            compress =
                !(compressed.contains { pending.starts(with: $0) } || pending.first == UInt8(ascii: "{")
                || pending.first == UInt8(ascii: "["))
            let head = pending
            pending = []
            try head.withUnsafeBytes { try write($0) }
            return
        }
        guard compress == true else { return try put(bytes) }
        pending += bytes
        while pending.count >= Self.chunk {
            try pending.withUnsafeBytes { try member(UnsafeRawBufferPointer(rebasing: $0[0..<Self.chunk])) }
            pending.removeFirst(Self.chunk)
        }
    }

    func finish() throws {
        if compress == nil {
            compress = false
            let head = pending
            pending = []
            try head.withUnsafeBytes { try put($0) }
        } else if compress == true, !pending.isEmpty {
            try pending.withUnsafeBytes { try member($0) }
            pending = []
        }
        compressor?.close()
    }

    /// One gzip member (RFC 1952): a 10-byte header, raw deflate, CRC-32 and size (LE).
    private func member(_ input: UnsafeRawBufferPointer) throws {
        if compressor == nil { compressor = try IsalCompressor(level: 1, format: .deflate(windowBits: 15)) }
        guard let compressor else { return }
        let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        output = [UInt8](repeating: 0, count: header.count + compressor.maximumCompressedSize(for: input.count) + 8)
        let written = try output.withUnsafeMutableBytes { raw -> Int in
            raw.copyBytes(from: header)
            let body = UnsafeMutableRawBufferPointer(rebasing: raw[header.count...])
            guard let n = try compressor.compress(input, into: body) else {
                throw OCIError.system(path: path, operation: "compress", message: "output buffer too small")
            }
            var trailer = crc32(0, input).littleEndian
            var size = UInt32(truncatingIfNeeded: input.count).littleEndian
            withUnsafeBytes(of: &trailer) {
                raw.baseAddress!.advanced(by: header.count + n).copyMemory(from: $0.baseAddress!, byteCount: 4)
            }
            withUnsafeBytes(of: &size) {
                raw.baseAddress!.advanced(by: header.count + n + 4).copyMemory(from: $0.baseAddress!, byteCount: 4)
            }
            return header.count + n + 8
        }
        try output.withUnsafeBytes { try put(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
    }

    private func put(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OCIError.system(path: path, operation: "write", message: errnoText()) }
            done += n
        }
    }
}
