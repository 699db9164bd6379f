import Foundation
import Testing

import StampTestSupport

/// Private registries (Debian's `docker-registry`, started by Tests/tools/oci/registry.sh):
/// credentials from `--creds` or an auth file answer the registry's own HTTP Basic challenge
/// and its token service's; a pull without them, or with wrong ones, ends in one line that
/// says whose credentials were refused and never shows the password; a registry whose
/// certificate comes from a CA of its own is trusted with `--registry-ca` or
/// /etc/containers/certs.d/HOST:PORT/, and only then.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("docker-registry")
            && toolAvailable("skopeo") && toolAvailable("umoci") && toolAvailable("openssl") && toolAvailable("htpasswd")
            && (try? sh("python3 -c 'import dissect.extfs'").status) == 0))
struct RegistryAuthTests {
    /// With a colon inside: credentials split at the first one.
    static let password = "s3cr:et-Pw0rd"

    /// `stamp pack REFERENCE` with a home of its own and no auth file variables, so that no
    /// auth file of the machine's user is read; `environment` adds to that.
    static func pack(
        _ dir: TemporaryDirectory, _ reference: String, _ name: String, _ options: [String], environment: [String: String] = [:]
    ) throws -> CommandResult {
        var base = [
            "TMPDIR": dir.file("tmp"), "HOME": dir.file("home"), "XDG_RUNTIME_DIR": "", "XDG_CONFIG_HOME": "",
            "REGISTRY_AUTH_FILE": "",
        ]
        base.merge(environment) { _, new in new }
        return try run(
            [stampBinary, "pack", reference, "-o", dir.file("out/" + name), "-t", "raw", "--layout", "none"] + options,
            environment: base)
    }

    /// A refusal: non-zero, one line holding `expected`, no password anywhere, nothing written.
    static func expectRefused(_ r: CommandResult, _ expected: String, _ dir: TemporaryDirectory, _ name: String) {
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(!r.output.contains(password) && !r.output.contains("et-Pw0rd"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/\(name).raw")))
    }

    /// An auth file with `key`'s `auth` set to base64 of `credentials`.
    static func writeAuthFile(_ path: String, key: String, credentials: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let auth = Data(credentials.utf8).base64EncodedString()
        try Data(#"{"auths": {"\#(key)": {"auth": "\#(auth)"}}}"#.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func basicAuthTakesCredsOrAnAuthFile() throws {
        try RegistryTests.withRegistry(mode: ["--htpasswd", "alice:" + Self.password], push: "alice:" + Self.password) {
            dir, port in
            let reference = "docker://127.0.0.1:\(port)/team/fixture:latest"
            let manifest = "http://127.0.0.1:\(port)/v2/team/fixture/manifests/latest"
            Self.expectRefused(
                try Self.pack(dir, reference, "anonymous", ["--plain-http"]),
                "stamp: \(reference): the registry requires credentials (HTTP 401 from \(manifest): UNAUTHORIZED: authentication required): give --creds USER:PASSWORD or an auth file entry for 127.0.0.1:\(port)",
                dir, "anonymous")
            Self.expectRefused(
                try Self.pack(dir, reference, "wrong", ["--plain-http", "--creds", "alice:" + Self.password.dropLast()]),
                "stamp: \(reference): credentials of user 'alice' (from --creds) refused (HTTP 401 from \(manifest): UNAUTHORIZED: authentication required)",
                dir, "wrong")

            let creds = try Self.pack(dir, reference, "creds", ["--plain-http", "--creds", "alice:" + Self.password])
            try #require(creds.status == 0, "\(creds.output)")
            #expect(!creds.output.contains(Self.password))
            try RegistryTests.matchesUmoci(dir, "creds")

            // $REGISTRY_AUTH_FILE comes before ~/.docker/config.json, whose entry is wrong here
            // (and written as old docker clients write keys).
            try Self.writeAuthFile(dir.file("auth.json"), key: "127.0.0.1:\(port)", credentials: "alice:" + Self.password)
            try Self.writeAuthFile(
                dir.file("home/.docker/config.json"), key: "http://127.0.0.1:\(port)/v1/", credentials: "alice:stale")
            let file = try Self.pack(
                dir, reference, "file", ["--plain-http"], environment: ["REGISTRY_AUTH_FILE": dir.file("auth.json")])
            try #require(file.status == 0, "\(file.output)")
            try RegistryTests.matchesUmoci(dir, "file")
            // Without it, the docker config's entry is used, and refused by name.
            Self.expectRefused(
                try Self.pack(dir, reference, "stale", ["--plain-http"]),
                "stamp: \(reference): credentials of user 'alice' (from auth file \(dir.file("home/.docker/config.json")), entry '127.0.0.1:\(port)') refused (HTTP 401",
                dir, "stale")
            // --creds comes before any auth file.
            Self.expectRefused(
                try Self.pack(
                    dir, reference, "override", ["--plain-http", "--creds", "alice:nope"],
                    environment: ["REGISTRY_AUTH_FILE": dir.file("auth.json")]),
                "stamp: \(reference): credentials of user 'alice' (from --creds) refused", dir, "override")
        }
    }

    @Test func theTokenServiceGetsTheCredentials() throws {
        try RegistryTests.withRegistry(mode: ["--token-creds", "bob:" + Self.password], push: "bob:" + Self.password) {
            dir, port in
            let reference = "docker://127.0.0.1:\(port)/team/fixture:latest"
            let realm = try String(contentsOfFile: dir.file("registry/token.port"), encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
            let service = "token service http://127.0.0.1:\(realm)/token"
            Self.expectRefused(
                try Self.pack(dir, reference, "anonymous", ["--plain-http"]),
                "stamp: \(reference): the registry requires credentials (HTTP 401 from \(service): UNAUTHORIZED: bad credentials): give --creds",
                dir, "anonymous")
            Self.expectRefused(
                try Self.pack(dir, reference, "wrong", ["--plain-http", "--creds", "bob:wrong"]),
                "stamp: \(reference): credentials of user 'bob' (from --creds) refused (HTTP 401 from \(service): UNAUTHORIZED: bad credentials)",
                dir, "wrong")
            // From $XDG_RUNTIME_DIR/containers/auth.json, where podman login writes.
            try Self.writeAuthFile(
                dir.file("run/containers/auth.json"), key: "127.0.0.1:\(port)", credentials: "bob:" + Self.password)
            let r = try Self.pack(dir, reference, "runtime", ["--plain-http"], environment: ["XDG_RUNTIME_DIR": dir.file("run")])
            try #require(r.status == 0, "\(r.output)")
            try RegistryTests.matchesUmoci(dir, "runtime")
            let tokens = try String(contentsOfFile: dir.file("registry/tokens.log"), encoding: .utf8)
            #expect(tokens.split(separator: "\n").contains("bob repository:team/fixture:pull"), "\(tokens)")
        }
    }

    @Test func aPrivateCAIsTrustedWhenGiven() throws {
        try RegistryTests.withRegistry(mode: ["--tls"]) { dir, port in
            let reference = "docker://127.0.0.1:\(port)/team/fixture:latest"
            let ca = dir.file("registry/tls-cert.pem")
            let untrusted = "stamp: https://127.0.0.1:\(port)/v2/team/fixture/manifests/latest: GET: SSL certificate problem"
            Self.expectRefused(try Self.pack(dir, reference, "system", []), untrusted, dir, "system")
            // Another CA than the registry's is no help: verification stays on.
            let other = try sh(
                "openssl req -x509 -newkey rsa:2048 -nodes -keyout '\(dir.file("other.key"))' -out '\(dir.file("other.pem"))' -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
            )
            try #require(other.status == 0, "\(other.output)")
            Self.expectRefused(
                try Self.pack(dir, reference, "other", ["--registry-ca", dir.file("other.pem")]), untrusted, dir, "other")
            try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: dir.file("bad.pem")))
            Self.expectRefused(
                try Self.pack(dir, reference, "bad", ["--registry-ca", dir.file("bad.pem")]),
                "stamp: CA file \(dir.file("bad.pem")): malformed: no PEM certificate in it", dir, "bad")

            let given = try Self.pack(dir, reference, "given", ["--registry-ca", ca])
            try #require(given.status == 0, "\(given.output)")
            try RegistryTests.matchesUmoci(dir, "given")

            // The containers-certs.d convention: /etc/containers/certs.d/HOST:PORT/*.crt.
            let certs = "/etc/containers/certs.d/127.0.0.1:\(port)"
            try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: certs) }
            try FileManager.default.copyItem(atPath: ca, toPath: certs + "/registry.crt")
            let directory = try Self.pack(dir, reference, "certsd", [])
            try #require(directory.status == 0, "\(directory.output)")
            try RegistryTests.matchesUmoci(dir, "certsd")
        }
    }
}
