import Foundation

/// Authentication challenges and the CAs a registry is verified with.
extension RegistryStore {
    /// The `Authorization` value answering a `WWW-Authenticate` challenge: HTTP Basic with the
    /// credentials, or a bearer token from the realm (asked with the credentials when there
    /// are any, anonymously otherwise).
    /// - Throws: ``OCIError/unauthorized(what:reason:)`` for a Basic challenge without
    ///   credentials or credentials the token service refused.
    func answer(challenge: String, from url: URL, body: [UInt8]) throws -> String {
        let scheme = challenge.prefix(while: { $0 != " " }).lowercased()
        let credentials = try self.credentials()
        switch scheme {
        case "basic":
            guard let credentials else { throw try refusal(by: url.absoluteString, status: 401, body: body) }
            return credentials.basicAuthorization
        case "bearer":
            return "Bearer " + (try token(challenge: challenge, credentials: credentials))
        default:
            throw OCIError.unsupported(what: "docker://\(reference)", reason: "authentication challenge '\(challenge)'")
        }
    }

    /// Answers `Bearer realm="…",service="…",scope="…"` (as HTTP Basic with `credentials`).
    private func token(challenge: String, credentials: RegistryCredentials?) throws -> String {
        let fields = Self.challengeFields(challenge)
        guard let realm = fields["realm"], var components = URLComponents(string: realm) else {
            throw OCIError.unsupported(what: "docker://\(reference)", reason: "authentication challenge '\(challenge)'")
        }
        // The realm is asked with the user's credentials: never in clear text, unless the
        // registry itself is reached over plain HTTP (--plain-http).
        guard components.scheme == "https" || (components.scheme == "http" && options.insecureHTTP) else {
            throw OCIError.unsupported(
                what: "docker://\(reference)", reason: "token realm '\(HTTPTransfer.display(realm))' is not HTTPS")
        }
        var query = components.queryItems ?? []
        if let service = fields["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: fields["scope"] ?? "repository:\(reference.name):pull"))
        components.queryItems = query
        guard let url = components.url else { throw OCIError.malformed(what: "realm \(realm)", reason: "not a URL") }
        var headers: [String: String] = [:]
        if let credentials { headers["Authorization"] = credentials.basicAuthorization }
        let what = "token from \(realm)"
        let response = try transfer(url, headers: headers, limit: Limits.document, what: what)
        if response.status == 401 || response.status == 403 {
            throw try refusal(by: "token service \(realm)", status: response.status, body: response.body)
        }
        guard (200..<300).contains(response.status) else {
            throw OCIError.registry(
                url: HTTPTransfer.display(url.absoluteString), status: response.status, message: Self.errorMessage(response.body))
        }
        let object = try jsonObject(response.body, what: what)
        guard let token = (object["token"] as? String) ?? (object["access_token"] as? String), !token.isEmpty else {
            throw OCIError.malformed(what: what, reason: "no token")
        }
        return token
    }

    /// The one line for a refused pull: whose credentials (and from where) were refused, or
    /// that the registry wants some and where they may be given.
    func refusal(by server: String, status: Int, body: [UInt8]) throws -> OCIError {
        let said = Self.errorMessage(body)
        let answer = "HTTP \(status) from \(server)\(said.isEmpty ? "" : ": " + said)"
        if let credentials = try credentials() {
            return .unauthorized(what: "docker://\(reference)", reason: "credentials of \(credentials) refused (\(answer))")
        }
        return .unauthorized(
            what: "docker://\(reference)",
            reason:
                "the registry requires credentials (\(answer)): give --creds USER:PASSWORD or an auth file entry for \(reference.host)"
        )
    }

    /// ``RegistryOptions/credentials``, else the registry's entry in the first auth file that
    /// has one; looked up once, when a challenge first asks.
    func credentials() throws -> RegistryCredentials? {
        if let known = credentialsLookup { return known }
        let found =
            try options.credentials
            ?? RegistryCredentials.lookup(host: reference.host, repository: reference.name, files: options.authFiles)
        credentialsLookup = .some(found)
        return found
    }

    /// The PEM bundle HTTPS is verified with when a CA of the registry's own is given
    /// (``RegistryOptions/certificateFiles``, `certs.d/HOST[:PORT]/*.crt`): libcurl's system CA
    /// file followed by those. Nil (libcurl's default) when there are none.
    /// - Throws: ``OCIError/malformed(what:reason:)`` naming a file that cannot be read or
    ///   holds no PEM certificate.
    func certificates() throws -> [UInt8]? {
        if let known = certificatesLookup { return known }
        var files = options.certificateFiles
        let directory = options.certificatesDirectory + "/" + reference.host
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            files += names.filter { $0.hasSuffix(".crt") }.sorted().map { directory + "/" + $0 }
        }
        var bundle: [UInt8]?
        if !files.isEmpty {
            var bytes =
                HTTPTransfer.systemCertificateFile.flatMap { FileManager.default.contents(atPath: $0) }.map { [UInt8]($0) } ?? []
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw OCIError.malformed(what: "CA file \(file)", reason: "cannot be read")
                }
                guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                    throw OCIError.malformed(what: "CA file \(file)", reason: "no PEM certificate in it")
                }
                bytes += [0x0A] + [UInt8](data) + [0x0A]
            }
            bundle = bytes
        }
        certificatesLookup = .some(bundle)
        return bundle
    }
}
