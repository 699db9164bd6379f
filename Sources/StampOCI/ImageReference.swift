/// Where a container image comes from, as written on the command line.
///
/// ```
/// oci:DIR[:TAG]                                  OCI image layout (index.json, blobs/sha256/…)
/// docker-archive:FILE                            `docker save` / `podman save` tarball
/// docker://HOST[:PORT]/NAME[:TAG|@DIGEST]        OCI distribution API (HTTP or HTTPS)
/// docker://NAME[:TAG|@DIGEST]                    Docker Hub (docker.io/library/NAME for one component)
/// ```
///
/// `DIR` may itself contain colons; only a last `:TAG` without a slash is taken as the tag.
/// A registry reference without a tag means `latest`.
public enum ImageReference: Sendable, Equatable, CustomStringConvertible {
    case ociLayout(directory: String, tag: String?)
    case dockerArchive(file: String)
    case registry(RegistryReference)

    /// Whether `text` is written as an image reference (has one of the three prefixes);
    /// a plain directory path is not.
    public static func looksLikeReference(_ text: String) -> Bool {
        text.hasPrefix("oci:") || text.hasPrefix("docker-archive:") || text.hasPrefix("docker://")
    }

    /// Parses a reference.
    /// - Throws: ``OCIError/invalidReference(_:reason:)`` naming what is wrong.
    public init(parsing text: String) throws {
        if text.hasPrefix("oci:") {
            let rest = String(text.dropFirst(4))
            var directory = rest
            var tag: String?
            if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
                directory = String(rest[..<colon])
                tag = String(rest[rest.index(after: colon)...])
                if tag?.isEmpty == true { tag = nil }
            }
            guard !directory.isEmpty else { throw OCIError.invalidReference(text, reason: "no layout directory after 'oci:'") }
            self = .ociLayout(directory: directory, tag: tag)
        } else if text.hasPrefix("docker-archive:") {
            let file = String(text.dropFirst("docker-archive:".count))
            guard !file.isEmpty else { throw OCIError.invalidReference(text, reason: "no file after 'docker-archive:'") }
            self = .dockerArchive(file: file)
        } else if text.hasPrefix("docker://") {
            self = .registry(try RegistryReference(parsing: String(text.dropFirst("docker://".count)), original: text))
        } else {
            throw OCIError.invalidReference(
                text, reason: "expected oci:DIR[:TAG], docker-archive:FILE or docker://HOST/NAME[:TAG]")
        }
    }

    public var description: String {
        switch self {
        case .ociLayout(let directory, let tag): return "oci:" + directory + (tag.map { ":" + $0 } ?? "")
        case .dockerArchive(let file): return "docker-archive:" + file
        case .registry(let reference): return "docker://" + reference.description
        }
    }
}

/// `HOST[:PORT]/NAME[:TAG|@DIGEST]`: an image in a registry.
public struct RegistryReference: Sendable, Equatable, CustomStringConvertible {
    /// `host` or `host:port`.
    public var host: String
    /// The repository name, e.g. `library/debian`.
    public var name: String
    /// A tag or a digest (`sha256:…`): what the manifest is fetched by.
    public var reference: String

    public init(host: String, name: String, reference: String) {
        self.host = host
        self.name = name
        self.reference = reference
    }

    /// Docker Hub, as references name it, and the host that serves its API.
    static let dockerHub = "docker.io", dockerHubAPI = "registry-1.docker.io"

    /// Parses `HOST[:PORT]/NAME…`, or a Docker Hub name as docker and skopeo read it: a first
    /// component without `.` or `:` (and not `localhost`) is not a host, so `debian:12` is
    /// `docker.io/library/debian:12` and `team/app` is `docker.io/team/app`.
    init(parsing text: String, original: String) throws {
        guard !text.isEmpty else { throw OCIError.invalidReference(original, reason: "no image name after 'docker://'") }
        var path: String
        if let slash = text.firstIndex(of: "/"), Self.isHost(text[..<slash]) {
            host = String(text[..<slash])
            path = String(text[text.index(after: slash)...])
        } else {
            host = Self.dockerHub
            path = text
        }
        if host == "index.docker.io" { host = Self.dockerHub }
        if host == Self.dockerHub, !path.contains("/") { path = "library/" + path }
        guard !host.isEmpty else { throw OCIError.invalidReference(original, reason: "empty host") }
        guard Self.isValidHost(host) else {
            // Also keeps `user:password@host` out: a password in the reference would be sent by
            // libcurl and printed in every message that names the image.
            throw OCIError.invalidReference(
                original, reason: "'\(host)' is not HOST[:PORT] (a host name, IPv4 or [IPv6] address)")
        }
        if let at = path.firstIndex(of: "@") {
            reference = String(path[path.index(after: at)...])
            path = String(path[..<at])
            guard (try? Digest(parsing: reference)) != nil else {
                throw OCIError.invalidReference(original, reason: "'\(reference)' is not a sha256 digest")
            }
        } else if let colon = path.lastIndex(of: ":"), !path[path.index(after: colon)...].contains("/") {
            reference = String(path[path.index(after: colon)...])
            path = String(path[..<colon])
        } else {
            reference = "latest"
        }
        name = path
        // The distribution spec's repository name grammar: lower-case components of
        // [a-z0-9] joined by '.', '_', '__', '-', separated by '/'.
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-/")
        guard !name.isEmpty, name.allSatisfy(allowed.contains), !name.hasPrefix("/"), !name.hasSuffix("/"),
            !name.contains("//"), !name.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else {
            throw OCIError.invalidReference(original, reason: "repository name '\(name)' is not [a-z0-9._-/]")
        }
        let tagCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")
        guard !reference.isEmpty, reference.count <= 128, reference.allSatisfy(tagCharacters.contains) else {
            throw OCIError.invalidReference(original, reason: "tag '\(reference)' is not [A-Za-z0-9._-]{1,128}")
        }
    }

    public var description: String {
        host + "/" + name + (reference.hasPrefix("sha256:") ? "@" : ":") + reference
    }

    /// The `host[:port]` the distribution API is reached at (Docker Hub's differs from its name).
    public var apiHost: String { host == Self.dockerHub ? Self.dockerHubAPI : host }

    /// `name[:port]` with a DNS name or IPv4 address (letters, digits, `.`, `-`), or
    /// `[IPv6][:port]`; the port 1-65535.
    static func isValidHost(_ host: String) -> Bool {
        var address = Substring(host)
        var port: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return false }
            let inside = address[address.index(after: address.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            let rest = address[address.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return false }
                port = rest.dropFirst()
            }
            address = inside
        } else {
            if let colon = address.firstIndex(of: ":") {
                port = address[address.index(after: colon)...]
                address = address[..<colon]
            }
            let hostCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
            guard !address.isEmpty, address.count <= 253, address.allSatisfy(hostCharacters.contains),
                !address.hasPrefix("-"), !address.hasPrefix(".")
            else { return false }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), let number = Int(port), (1...65535).contains(number)
            else { return false }
        }
        return true
    }

    private static func isHost(_ component: Substring) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost"
    }
}
