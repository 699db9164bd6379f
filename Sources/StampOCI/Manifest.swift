import Foundation

/// The JSON documents of an image, as the OCI image spec and Docker's schema 2 define them.
///
/// ```
/// index / manifest list ──► manifest (per platform) ──► config   (Env, Cmd, Labels, diff_ids)
///   "manifests": [desc]        "config": desc               └─► layers: [desc] (tar, +gzip, +zstd)
/// ```
///
/// Each arrow is a ``Descriptor``: media type, digest, size. Every document is read only after
/// its size was bounded (``Limits``) and its bytes hashed to the digest that named it.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"

    /// Layer media types and whether this reader applies them (libarchive detects the
    /// compression itself; the name only has to say "a tar, maybe compressed").
    static let layers: Set<String> = [
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ]

    static func isIndex(_ type: String?) -> Bool { type == ociIndex || type == dockerList }
}

/// Upper bounds checked against declared sizes before anything is allocated or downloaded.
public enum Limits {
    /// Index, manifest and config documents (real ones are a few KiB; 4 MiB is generous).
    public static let document: Int64 = 4 << 20
    /// One layer blob (compressed size as stored): 64 GiB.
    public static let layer: Int64 = 64 << 30
    /// Layers in one image (Docker's own limit is 127).
    public static let layerCount = 256
}

/// A content descriptor: what a blob is, its digest and its size.
public struct Descriptor: Sendable, Equatable {
    public var mediaType: String?
    public var digest: Digest
    public var size: Int64
    public var platform: Platform?
    public var annotations: [String: String]

    public init(mediaType: String?, digest: Digest, size: Int64, platform: Platform? = nil, annotations: [String: String] = [:]) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations
    }

    /// Reads a descriptor object; `what` names it in errors.
    init(json: Any?, what: String) throws {
        guard let object = json as? [String: Any] else {
            throw OCIError.malformed(what: what, reason: "descriptor is not an object")
        }
        guard let digestText = object["digest"] as? String else {
            throw OCIError.malformed(what: what, reason: "descriptor has no digest")
        }
        digest = try Digest(parsing: digestText)
        guard let number = object["size"] as? NSNumber, Double(number.int64Value) == number.doubleValue else {
            throw OCIError.malformed(what: what, reason: "descriptor \(digestText) has no integer size")
        }
        size = number.int64Value
        mediaType = object["mediaType"] as? String
        annotations = (object["annotations"] as? [String: String]) ?? [:]
        if let platform = object["platform"] as? [String: Any] {
            self.platform = Platform(
                os: platform["os"] as? String ?? "", architecture: platform["architecture"] as? String ?? "",
                variant: platform["variant"] as? String)
        }
    }

    /// Refuses a size outside `0...limit`.
    func checkSize(limit: Int64, what: String) throws {
        if size < 0 || size > limit { throw OCIError.sizeOutOfBounds(what: what, size: size, limit: limit) }
    }
}

/// An image's platform: `linux/amd64` unless `--platform` asks for `linux/arm64` (an arm64
/// disk needs no arm64 code from stamp, only the image's own boot loader files).
public struct Platform: Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64", variant: nil)
    public static let linuxARM64 = Platform(os: "linux", architecture: "arm64", variant: nil)
    /// The platforms stamp makes disks for.
    public static let supported = [linuxAMD64, linuxARM64]

    public init(os: String, architecture: String, variant: String?) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `linux/amd64` or `linux/arm64` (`linux/arm64/v8` too: arm64's only variant).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || (parts.count == 3 && parts[1] == "arm64" && parts[2] == "v8"),
            let known = Self.supported.first(where: { $0.os == parts[0] && $0.architecture == parts[1] })
        else { return nil }
        self = known
    }

    public var description: String { "\(os)/\(architecture)" }
}

/// Parses a JSON object from `bytes`; `what` names the document in errors.
func jsonObject(_ bytes: [UInt8], what: String) throws -> [String: Any] {
    let value: Any
    do {
        value = try JSONSerialization.jsonObject(with: Data(bytes))
    } catch {
        throw OCIError.malformed(what: what, reason: "not JSON")
    }
    guard let object = value as? [String: Any] else { throw OCIError.malformed(what: what, reason: "not a JSON object") }
    return object
}

/// An index or manifest list: the manifests it lists.
struct ImageIndex {
    var manifests: [Descriptor]

    init(bytes: [UInt8], what: String) throws {
        let object = try jsonObject(bytes, what: what)
        guard let list = object["manifests"] as? [Any] else {
            throw OCIError.malformed(what: what, reason: "no 'manifests' list")
        }
        manifests = try list.enumerated().map { try Descriptor(json: $1, what: "\(what) manifests[\($0)]") }
    }

    /// The manifest for `platform` (linux/amd64 unless asked otherwise), or the only one when
    /// the entries name no platform.
    func choosePlatform(what: String, platform: Platform = .linuxAMD64) throws -> Descriptor {
        let withPlatform = manifests.filter { $0.platform != nil }
        if withPlatform.isEmpty, manifests.count == 1 { return manifests[0] }
        if let match = manifests.first(where: {
            $0.platform?.os == platform.os && $0.platform?.architecture == platform.architecture
        }) {
            return match
        }
        let offered = withPlatform.compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
        throw OCIError.notFound(
            what: "\(what): a \(platform) manifest (offers \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))")
    }
}

/// An image manifest: the config and the layers, bottom first.
public struct ImageManifest: Sendable {
    public var config: Descriptor
    public var layers: [Descriptor]

    init(bytes: [UInt8], what: String) throws {
        let object = try jsonObject(bytes, what: what)
        if let version = object["schemaVersion"] as? Int, version != 2 {
            throw OCIError.unsupported(what: what, reason: "manifest schemaVersion \(version) (only 2)")
        }
        config = try Descriptor(json: object["config"], what: "\(what) config")
        guard let list = object["layers"] as? [Any] else { throw OCIError.malformed(what: what, reason: "no 'layers' list") }
        guard list.count <= Limits.layerCount else {
            throw OCIError.malformed(what: what, reason: "\(list.count) layers (at most \(Limits.layerCount))")
        }
        layers = try list.enumerated().map { try Descriptor(json: $1, what: "\(what) layers[\($0)]") }
        try config.checkSize(limit: Limits.document, what: "config \(config.digest)")
        for layer in layers {
            try layer.checkSize(limit: Limits.layer, what: "layer \(layer.digest)")
            if let type = layer.mediaType, !MediaType.layers.contains(type) {
                throw OCIError.unsupported(what: "layer \(layer.digest)", reason: "media type \(type)")
            }
        }
    }
}

/// The parts of an image config that describe how the container runs, recorded beside the
/// disk in `OUT.d/` (the disk itself boots the image's init, not its entrypoint).
public struct ImageConfig: Sendable, Equatable {
    public var os: String?
    public var architecture: String?
    public var env: [String]
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    public var labels: [String: String]
    /// `rootfs.diff_ids`: the digests of the uncompressed layers, bottom first.
    public var diffIDs: [Digest]

    /// - Parameter platform: the platform the config must name (nil: not checked).
    init(bytes: [UInt8], what: String, platform: Platform? = .linuxAMD64) throws {
        let object = try jsonObject(bytes, what: what)
        os = object["os"] as? String
        architecture = object["architecture"] as? String
        let config = object["config"] as? [String: Any] ?? [:]
        env = config["Env"] as? [String] ?? []
        entrypoint = config["Entrypoint"] as? [String]
        cmd = config["Cmd"] as? [String]
        workingDir = config["WorkingDir"] as? String
        user = config["User"] as? String
        labels = config["Labels"] as? [String: String] ?? [:]
        let rootfs = object["rootfs"] as? [String: Any] ?? [:]
        diffIDs = try (rootfs["diff_ids"] as? [String] ?? []).map { try Digest(parsing: $0) }
        guard let platform else { return }
        if let os, os != platform.os { throw OCIError.unsupported(what: what, reason: "image os '\(os)' (only linux)") }
        if let architecture, architecture != platform.architecture {
            throw OCIError.unsupported(
                what: what, reason: "image architecture '\(architecture)' (\(platform) was asked for; --platform chooses)")
        }
    }
}
