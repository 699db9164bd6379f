import Foundation

/// A container image resolved to its manifest and config, every document verified.
public struct ResolvedImage: Sendable {
    public var reference: ImageReference
    /// The digest of the manifest the layers come from: the image's identity (for a docker
    /// archive, which has no manifest, that of the manifest stamp derives from the archive).
    public var manifestDigest: Digest
    public var manifestBytes: [UInt8]
    public var manifest: ImageManifest
    public var configDigest: Digest
    public var configBytes: [UInt8]
    public var config: ImageConfig
}

/// Turns an image reference into a root tree on disk.
///
/// ```
/// reference ─► store (layout dir | staged docker archive | registry)
///           ─► index? ─► platform linux/amd64 ─► manifest ─► config
///           ─► layers, each hashed whole, then applied bottom first by LayerApplier
/// ```
///
/// `scratch` is a private directory for staged archives and downloaded blobs; the caller
/// creates it and removes it afterwards.
public final class ImageSource {
    public let reference: ImageReference
    let store: BlobStore

    /// The platform chosen from an index, and that the config must name.
    public let platform: Platform

    public init(
        reference: ImageReference, scratch: String, registry: RegistryOptions = RegistryOptions(),
        platform: Platform = .linuxAMD64
    ) {
        self.reference = reference
        self.platform = platform
        switch reference {
        case .ociLayout(let directory, let tag): store = OCILayoutStore(directory: directory, tag: tag, platform: platform)
        case .dockerArchive(let file): store = DockerArchiveStore(file: file, staging: scratch)
        case .registry(let remote): store = RegistryStore(reference: remote, scratch: scratch, options: registry)
        }
    }

    /// Reads the index (choosing ``platform``), the manifest and the config.
    public func resolve() throws -> ResolvedImage {
        var (descriptor, bytes) = try store.rootDocument()
        var what = descriptor.map { "manifest \($0.digest)" } ?? reference.description
        // An index or manifest list: pick the platform (one level of nesting is allowed).
        for _ in 0..<2 {
            let object = try jsonObject(bytes, what: what)
            let type = object["mediaType"] as? String ?? descriptor?.mediaType
            guard MediaType.isIndex(type) || (object["manifests"] != nil && object["layers"] == nil) else { break }
            let chosen = try ImageIndex(bytes: bytes, what: what).choosePlatform(what: what, platform: platform)
            try chosen.checkSize(limit: Limits.document, what: "manifest \(chosen.digest)")
            what = "manifest \(chosen.digest)"
            bytes = try store.document(chosen, what: what)
            descriptor = chosen
        }
        let manifest = try ImageManifest(bytes: bytes, what: what)
        let configBytes = try store.document(manifest.config, what: "config \(manifest.config.digest)")
        let config = try ImageConfig(bytes: configBytes, what: "config \(manifest.config.digest)", platform: platform)
        return ResolvedImage(
            reference: reference, manifestDigest: descriptor?.digest ?? Digest.of(bytes), manifestBytes: bytes,
            manifest: manifest, configDigest: manifest.config.digest, configBytes: configBytes, config: config)
    }

    /// Verifies every layer, then applies them in order to `root` (an empty directory).
    /// - Parameter log: called with one line per layer.
    public func unpack(_ image: ResolvedImage, into root: String, log: (String) -> Void = { _ in }) throws {
        try apply(image, files: try fetchLayers(image), into: root, log: log)
    }

    /// The most bytes the image may expand to (``ExpansionBudget``).
    public var maxExpandedBytes = ExpansionBudget.defaultLimit {
        didSet { (store as? DockerArchiveStore)?.maxExpanded = maxExpandedBytes }
    }

    /// Checks the declared layer sizes against ``maxExpandedBytes`` (a registry declaring a
    /// 60 GiB layer is refused before anything is downloaded), then fetches and verifies every
    /// layer blob (downloaded, or where it is); returns their paths, bottom first.
    ///
    /// Every blob is checked before the first is applied: a bad layer anywhere leaves nothing
    /// half-applied behind a success.
    public func fetchLayers(_ image: ResolvedImage) throws -> [String] {
        var declared: UInt64 = 0
        for (index, layer) in image.manifest.layers.enumerated() {
            let (sum, overflow) = declared.addingReportingOverflow(UInt64(max(0, layer.size)))
            declared = overflow ? .max : sum
            if declared > maxExpandedBytes {
                throw OCIError.expansionLimit(
                    what: "layer \(index) \(layer.digest)",
                    detail: "declared size \(layer.size) bytes (\(declared) with the layers below it) exceeds",
                    limit: maxExpandedBytes)
            }
        }
        var files: [String] = []
        for (index, layer) in image.manifest.layers.enumerated() {
            files.append(try store.layerFile(layer, what: "layer \(index) \(layer.digest)"))
        }
        return files
    }

    /// The bytes the fetched layers expand to (member sizes plus 512 per member), read
    /// without writing anything; throws as soon as that passes ``maxExpandedBytes``.
    public func expandedSize(_ image: ResolvedImage, files: [String]) throws -> UInt64 {
        let budget = ExpansionBudget(limit: maxExpandedBytes)
        for (index, layer) in image.manifest.layers.enumerated() {
            try LayerApplier.measure(layerFile: files[index], name: "layer \(index) \(layer.digest)", budget: budget)
        }
        return budget.used
    }

    /// Applies fetched layers in order to `root` (an empty directory), counting what they
    /// expand to against ``maxExpandedBytes``.
    public func apply(_ image: ResolvedImage, files: [String], into root: String, log: (String) -> Void = { _ in }) throws {
        let applier = LayerApplier(root: root)
        let budget = ExpansionBudget(limit: maxExpandedBytes)
        for (index, layer) in image.manifest.layers.enumerated() {
            log("applying layer \(index + 1)/\(files.count) \(layer.digest) (\(layer.size) bytes)")
            try applier.apply(layerFile: files[index], name: "layer \(index) \(layer.digest)", budget: budget)
        }
    }
}
