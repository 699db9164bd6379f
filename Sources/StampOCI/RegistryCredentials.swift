import Foundation

/// A user name and password for a registry, and where they came from (for messages).
///
/// The password never appears in a message: ``description`` names the user and the source
/// only, and errors about an auth file name the file and the entry, never its `auth` value.
public struct RegistryCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    /// `--creds`, `DIB_OCI_CREDS` or the auth file's path.
    public var source: String

    public init(username: String, password: String, source: String) {
        self.username = username
        self.password = password
        self.source = source
    }

    /// Parses `USER:PASSWORD` (split at the first colon: a password may hold colons).
    /// - Throws: ``OCIError/malformed(what:reason:)`` naming `source`, never the text.
    public init(parsing text: String, source: String) throws {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw OCIError.malformed(what: source, reason: "credentials are not USER:PASSWORD")
        }
        self.init(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]), source: source)
    }

    /// The `Authorization` header value for HTTP Basic.
    var basicAuthorization: String {
        "Basic " + Data((username + ":" + password).utf8).base64EncodedString()
    }

    public var description: String { "user '\(username)' (from \(source))" }

    /// The auth files searched, in order, as podman and skopeo search them
    /// (containers-auth.json(5)): `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config`), `~/.docker/config.json`.
    public static func authFiles(environment: [String: String]) -> [String] {
        var files: [String] = []
        if let file = environment["REGISTRY_AUTH_FILE"], !file.isEmpty { files.append(file) }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { files.append(runtime + "/containers/auth.json") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        files.append(config + "/containers/auth.json")
        files.append(home + "/.docker/config.json")
        return files
    }

    /// The first entry for `host` (or `host/NAME`, or a namespace of it: the longest key wins
    /// within a file) in the first of `files` that has one; files that do not exist are skipped.
    /// Keys may carry a scheme and a `/v1/` or `/v2/` suffix, as old docker files write them.
    /// - Throws: ``OCIError/malformed(what:reason:)`` when a file exists but is not an auth
    ///   file, or its entry for the host is not base64 `USER:PASSWORD`.
    public static func lookup(host: String, repository: String, files: [String]) throws -> RegistryCredentials? {
        // Most specific first: host/a/b/c, host/a/b, host/a, host.
        var scopes = [host]
        var path = ""
        for part in repository.split(separator: "/") {
            path += "/" + part
            scopes.insert(host + path, at: 0)
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw OCIError.malformed(what: "auth file \(file)", reason: "not a JSON object")
            }
            guard let auths = object["auths"] as? [String: Any] else { continue }
            var entries: [String: Any] = [:]
            for (key, value) in auths { entries[normalized(key)] = value }
            for scope in scopes {
                guard let entry = entries[scope] as? [String: Any] else { continue }
                guard let auth = entry["auth"] as? String, !auth.isEmpty else { continue }  // identity tokens: not handled
                let what = "auth file \(file), entry '\(scope)'"
                guard let decoded = Data(base64Encoded: auth), let text = String(data: decoded, encoding: .utf8) else {
                    throw OCIError.malformed(what: what, reason: "'auth' is not base64")
                }
                return try RegistryCredentials(parsing: text, source: what)
            }
        }
        return nil
    }

    /// `https://host:5000/v1/` → `host:5000`; `host:5000/team/app` stays.
    private static func normalized(_ key: String) -> String {
        var key = Substring(key)
        for scheme in ["https://", "http://"] where key.hasPrefix(scheme) {
            key = key.dropFirst(scheme.count)
            for suffix in ["/v1/", "/v2/", "/v1", "/v2"] where key.hasSuffix(suffix) {
                key = key.dropLast(suffix.count)
                break
            }
        }
        while key.hasSuffix("/") { key = key.dropLast() }
        // Docker Hub is written `https://index.docker.io/v1/` by `docker login`, and
        // `docker.io` by podman; references name it docker.io.
        for alias in ["index.docker.io", "registry-1.docker.io"] where key == alias || key.hasPrefix(alias + "/") {
            key = Substring(RegistryReference.dockerHub) + key.dropFirst(alias.count)
        }
        return String(key)
    }
}
