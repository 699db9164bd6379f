import Foundation

/// Options for registry access.
public struct RegistryOptions: Sendable {
    /// Plain HTTP (a registry on the local host) instead of HTTPS.
    public var insecureHTTP = false
    /// Credentials given on the command line (`--creds`, `DIB_OCI_CREDS`); they come before
    /// any auth file.
    public var credentials: RegistryCredentials?
    /// The auth files searched for the registry's entry when there are no `credentials`
    /// (see ``RegistryCredentials/authFiles(environment:)``).
    public var authFiles = RegistryCredentials.authFiles(environment: ProcessInfo.processInfo.environment)
    /// PEM files of CAs trusted for HTTPS besides the system's (`--registry-ca`).
    public var certificateFiles: [String] = []
    /// The containers-certs.d directory: `DIR/HOST[:PORT]/*.crt` are trusted for that registry.
    public var certificatesDirectory = "/etc/containers/certs.d"
    /// The deadline and minimum rate of every transfer (``TransferLimits``; `STAMP_REGISTRY_*`).
    public var transferLimits = TransferLimits(environment: ProcessInfo.processInfo.environment)
    public init() {}
}

/// An image in a registry, read over the OCI distribution API:
///
/// ```
/// GET /v2/NAME/manifests/REF    Accept: OCI index/manifest, Docker list/manifest v2
///     ← 401 WWW-Authenticate: Bearer realm="…",service="…",scope="repository:NAME:pull"
/// GET realm?service=…&scope=…   ← {"token": "…"} (or "access_token")
/// GET /v2/NAME/manifests/REF    Authorization: Bearer …      ← the manifest or index
/// GET /v2/NAME/blobs/DIGEST     (config, layers; may redirect to storage)
/// ```
///
/// Credentials (``RegistryOptions/credentials``, else the registry's entry in an auth file)
/// are sent only when a challenge asks: as HTTP Basic on a `Basic` challenge, and to the token
/// realm as HTTP Basic on a `Bearer` one (anonymous without credentials). See
/// RegistryStore+Auth.swift.
///
/// A manifest fetched by tag must hash to the `Docker-Content-Digest` the registry sends (when
/// it sends one); everything else is fetched by digest and must hash to it. Layers stream to
/// `scratch` and are cut off as soon as they pass their descriptor's size.
final class RegistryStore: BlobStore {
    let reference: RegistryReference
    let scratch: String
    let options: RegistryOptions
    /// The `Authorization` value that answered the last challenge, sent with later requests.
    var authorization: String?
    /// The credentials, once looked up (nil inside: there are none).
    var credentialsLookup: RegistryCredentials??
    /// The PEM bundle to verify HTTPS with, once read (nil inside: libcurl's default).
    var certificatesLookup: [UInt8]??

    init(reference: RegistryReference, scratch: String, options: RegistryOptions) {
        self.reference = reference
        self.scratch = scratch
        self.options = options
    }

    static let manifestTypes = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest]

    private func url(_ kind: String, _ ref: String) throws -> URL {
        let scheme = options.insecureHTTP ? "http" : "https"
        guard let url = URL(string: "\(scheme)://\(reference.apiHost)/v2/\(reference.name)/\(kind)/\(ref)") else {
            throw OCIError.invalidReference("docker://\(reference)", reason: "cannot form a URL")
        }
        return url
    }

    /// A GET that answers an authentication challenge once, then keeps the `Authorization`
    /// value for later requests.
    private func get(_ url: URL, accept: [String] = [], limit: Int64, file: String? = nil, what: String) throws
        -> HTTPTransfer.Response
    {
        var headers: [String: String] = [:]
        if !accept.isEmpty { headers["Accept"] = accept.joined(separator: ", ") }
        if let authorization { headers["Authorization"] = authorization }
        var response = try transfer(url, headers: headers, limit: limit, file: file, what: what)
        // A challenge is answered only when the registry itself made it: one from a server a
        // redirect led to (blob storage) would be sent the user's credentials.
        if response.status == 401, !response.crossOrigin, let challenge = response.headers["www-authenticate"] {
            let answer = try answer(challenge: challenge, from: url, body: response.body)
            authorization = answer
            headers["Authorization"] = answer
            response = try transfer(url, headers: headers, limit: limit, file: file, what: what)
            if response.status == 401 { throw try refusal(by: url.absoluteString, status: 401, body: response.body) }
        }
        guard (200..<300).contains(response.status) else {
            if response.status == 404 { throw OCIError.notFound(what: "\(what) (\(url.absoluteString))") }
            throw OCIError.registry(url: url.absoluteString, status: response.status, message: Self.errorMessage(response.body))
        }
        return response
    }

    /// One GET with this registry's trusted certificates.
    func transfer(_ url: URL, headers: [String: String], limit: Int64, file: String? = nil, what: String) throws
        -> HTTPTransfer.Response
    {
        if let problem = options.transferLimits.problem {
            throw OCIError.malformed(what: "registry transfer limits", reason: problem)
        }
        return try HTTPTransfer.get(
            url, headers: headers, limit: limit, file: file, what: what, certificates: try certificates(),
            limits: options.transferLimits)
    }

    /// `key="value"` pairs of a WWW-Authenticate header (quoted values may hold commas).
    static func challengeFields(_ header: String) -> [String: String] {
        var fields: [String: String] = [:]
        let scanner = Scanner(string: header.drop(while: { $0 != " " }).trimmingCharacters(in: .whitespaces))
        scanner.charactersToBeSkipped = CharacterSet(charactersIn: ", ")
        while !scanner.isAtEnd {
            guard let key = scanner.scanUpToString("="), scanner.scanString("=") != nil else { break }
            let value: String
            if scanner.scanString("\"") != nil {
                value = scanner.scanUpToString("\"") ?? ""
                _ = scanner.scanString("\"")
            } else {
                value = scanner.scanUpToString(",") ?? ""
            }
            fields[key.trimmingCharacters(in: .whitespaces).lowercased()] = value
        }
        return fields
    }

    /// The registry's own error text (`{"errors":[{"code":…,"message":…}]}`), if any.
    static func errorMessage(_ body: [UInt8]) -> String {
        guard let object = try? jsonObject(body, what: ""), let errors = object["errors"] as? [[String: Any]],
            let first = errors.first
        else { return "" }
        return [first["code"] as? String, first["message"] as? String].compactMap { $0 }.joined(separator: ": ")
    }

    func rootDocument() throws -> (descriptor: Descriptor?, bytes: [UInt8]) {
        let what = "manifest docker://\(reference)"
        let response = try get(
            try url("manifests", reference.reference), accept: Self.manifestTypes, limit: Limits.document, what: what)
        let actual = Digest.of(response.body)
        let expected =
            reference.reference.hasPrefix("sha256:")
            ? reference.reference : response.headers["docker-content-digest"]
        if let expected, expected != actual.description {
            throw OCIError.digestMismatch(what: what, expected: expected, actual: actual.description)
        }
        let type = response.headers["content-type"]
            .flatMap { $0.split(separator: ";").first }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .flatMap { $0.isEmpty ? nil : $0 }
        return (Descriptor(mediaType: type, digest: actual, size: Int64(response.body.count)), response.body)
    }

    func document(_ descriptor: Descriptor, what: String) throws -> [UInt8] {
        try descriptor.checkSize(limit: Limits.document, what: what)
        let isManifest = descriptor.mediaType.map(Self.manifestTypes.contains) ?? false
        let response = try get(
            try url(isManifest ? "manifests" : "blobs", descriptor.digest.description),
            accept: isManifest ? Self.manifestTypes : [], limit: descriptor.size, what: what)
        if Int64(response.body.count) != descriptor.size {
            throw OCIError.sizeMismatch(what: what, expected: descriptor.size, actual: Int64(response.body.count))
        }
        let actual = Digest.of(response.body)
        if actual != descriptor.digest {
            throw OCIError.digestMismatch(what: what, expected: descriptor.digest.description, actual: actual.description)
        }
        return response.body
    }

    func layerFile(_ descriptor: Descriptor, what: String) throws -> String {
        let path = scratch + "/" + descriptor.digest.hex
        let response = try get(try url("blobs", descriptor.digest.description), limit: descriptor.size, file: path, what: what)
        if response.received != descriptor.size {
            throw OCIError.sizeMismatch(what: what, expected: descriptor.size, actual: response.received)
        }
        try Digest.verify(file: path, against: descriptor, what: what)
        return path
    }
}
