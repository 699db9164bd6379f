import Crypto
import StampArchive

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
                try copyData(reader, to: target)
                members[normalized] = target
            }
        }
        for (name, target) in links { if let staged = members[target] { members[name] = staged } }
    }

    /// A member name with one level of symlink followed (as `docker save` writes them).
    private func resolved(_ name: String) -> String { links[name] ?? name }

    private func copyData(_ reader: ArchiveReader, to target: String) throws {
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIError.system(path: target, operation: "create", message: errnoText()) }
        defer { close(fd) }
        try reader.readData { chunk in
            var done = 0
            while done < chunk.count {
                let n = write(fd, chunk.baseAddress! + done, chunk.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw OCIError.system(path: target, operation: "write", message: errnoText()) }
                done += n
            }
        }
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
            let (digest, size) = try Digest.ofFile(at: path)
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
