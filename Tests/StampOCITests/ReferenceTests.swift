import Foundation
import Testing

@testable import StampOCI

/// Parsing of image references, digests and layer member names: pure functions, no tools.
struct ReferenceTests {
    @Test func ociLayoutReferences() throws {
        #expect(try ImageReference(parsing: "oci:img") == .ociLayout(directory: "img", tag: nil))
        #expect(try ImageReference(parsing: "oci:out/img:v1.2") == .ociLayout(directory: "out/img", tag: "v1.2"))
        // A colon followed by a slash belongs to the directory, not a tag.
        #expect(try ImageReference(parsing: "oci:/a:b/c") == .ociLayout(directory: "/a:b/c", tag: nil))
        #expect(throws: OCIError.self) { try ImageReference(parsing: "oci:") }
        #expect(throws: OCIError.self) { try ImageReference(parsing: "/plain/dir") }
        #expect(!ImageReference.looksLikeReference("/plain/dir"))
        #expect(ImageReference.looksLikeReference("docker-archive:x.tar"))
    }

    @Test func registryReferences() throws {
        #expect(
            try ImageReference(parsing: "docker://127.0.0.1:5000/team/node:1.0")
                == .registry(RegistryReference(host: "127.0.0.1:5000", name: "team/node", reference: "1.0")))
        #expect(
            try ImageReference(parsing: "docker://reg.example/node")
                == .registry(RegistryReference(host: "reg.example", name: "node", reference: "latest")))
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        #expect(
            try ImageReference(parsing: "docker://h:1/n@\(digest)")
                == .registry(RegistryReference(host: "h:1", name: "n", reference: digest)))
        // Docker Hub names, as docker and skopeo normalise them.
        let hub: [(String, String, String)] = [
            ("docker://debian", "library/debian", "latest"), ("docker://debian:12", "library/debian", "12"),
            ("docker://team/app:v2", "team/app", "v2"), ("docker://docker.io/library/busybox", "library/busybox", "latest"),
            ("docker://index.docker.io/busybox:1", "library/busybox", "1"),
        ]
        for (text, name, tag) in hub {
            guard case .registry(let r) = try ImageReference(parsing: text) else {
                Issue.record("\(text) is not a registry reference")
                continue
            }
            #expect(r == RegistryReference(host: "docker.io", name: name, reference: tag), "\(text)")
            #expect(r.apiHost == "registry-1.docker.io")
        }
        guard case .registry(let local) = try ImageReference(parsing: "docker://localhost/x") else { return }
        #expect(local.host == "localhost" && local.apiHost == "localhost")
        for bad in [
            "docker://", "docker://reg.example/", "docker://h/UPPER", "docker://h/a/../b", "docker://h/n@sha256:12",
            "docker://h/n:bad tag",
        ] {
            #expect(throws: OCIError.self, "\(bad)") { try ImageReference(parsing: bad) }
        }
        #expect(
            try ImageReference(parsing: "docker://[::1]:5000/node:1")
                == .registry(RegistryReference(host: "[::1]:5000", name: "node", reference: "1")))
        // Hosts that are not HOST[:PORT]: user info (a password would be sent and printed),
        // ports out of range, characters no host name has.
        for bad in [
            "docker://alice:secret@reg.example/app", "docker://reg.example:0/a", "docker://reg.example:65536/a",
            "docker://reg.example:/a", "docker://reg.example:50x0/a", "docker://reg_ex.ample/a", "docker://[::1/a",
            "docker://[::1]x/a", "docker://-reg.example/a", "docker://reg.example?x=1/a",
        ] {
            #expect(throws: OCIError.self, "\(bad)") { try ImageReference(parsing: bad) }
            if let message = (try? ImageReference(parsing: bad)).map(\.description) {
                Issue.record("\(bad) parsed as \(message)")
            }
        }
    }

    /// `docker login` writes Docker Hub as `https://index.docker.io/v1/`; a reference names it
    /// docker.io. A namespace entry wins over the host's.
    @Test func dockerHubCredentialsAreFoundUnderEitherName() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("auth-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let hub = Data("hub:secret".utf8).base64EncodedString()
        let team = Data("team:other".utf8).base64EncodedString()
        let json = #"{"auths": {"https://index.docker.io/v1/": {"auth": "\#(hub)"}, "docker.io/team": {"auth": "\#(team)"}}}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        let library = try RegistryCredentials.lookup(host: "docker.io", repository: "library/debian", files: [file])
        #expect(library?.username == "hub" && library?.password == "secret")
        let scoped = try RegistryCredentials.lookup(host: "docker.io", repository: "team/app", files: [file])
        #expect(scoped?.username == "team")
        #expect(try RegistryCredentials.lookup(host: "quay.io", repository: "x/y", files: [file]) == nil)
    }

    @Test func digestsAreSHA256Only() throws {
        let hex = String(repeating: "0f", count: 32)
        #expect(try Digest(parsing: "sha256:" + hex).hex == hex)
        #expect(throws: OCIError.self) { try Digest(parsing: "sha512:" + hex + hex) }
        #expect(throws: OCIError.self) { try Digest(parsing: "sha256:" + hex.uppercased()) }
        #expect(throws: OCIError.self) { try Digest(parsing: "sha256:" + hex.dropLast()) }
        // The digest of the empty string, as sha256sum prints it.
        #expect(Digest.of([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func memberNamesAreNormalizedOrRefused() throws {
        func normalize(_ name: String) throws -> String { try LayerPath.normalize(Array(name.utf8), layer: "l") }
        #expect(try normalize("./usr//bin/") == "usr/bin")
        #expect(try normalize("./") == "")
        #expect(try normalize("a/./b") == "a/b")
        #expect(throws: OCIError.hostileMember(layer: "l", path: "a/../../x", reason: "path traversal ('..')")) {
            try normalize("a/../../x")
        }
        #expect(throws: OCIError.hostileMember(layer: "l", path: "/etc/passwd", reason: "absolute path")) {
            try normalize("/etc/passwd")
        }
    }

    @Test func indexesChooseLinuxAMD64() throws {
        let a = "sha256:" + String(repeating: "a", count: 64)
        let b = "sha256:" + String(repeating: "b", count: 64)
        let json = """
            {"manifests": [
              {"digest": "\(a)", "size": 10, "platform": {"os": "linux", "architecture": "arm64"}},
              {"digest": "\(b)", "size": 11, "platform": {"os": "linux", "architecture": "amd64"}}]}
            """
        let index = try ImageIndex(bytes: Array(json.utf8), what: "index")
        #expect(try index.choosePlatform(what: "index").digest.description == b)
        let armOnly = try ImageIndex(bytes: Array(json.replacingOccurrences(of: "amd64", with: "s390x").utf8), what: "index")
        #expect(throws: OCIError.notFound(what: "index: a linux/amd64 manifest (offers linux/arm64, linux/s390x)")) {
            try armOnly.choosePlatform(what: "index")
        }
    }

    @Test func descriptorsWithAbsurdOrFractionalSizesAreRefused() throws {
        let digest = "sha256:" + String(repeating: "c", count: 64)
        func manifest(size: String) -> [UInt8] {
            Array(
                #"{"schemaVersion": 2, "config": {"digest": "\#(digest)", "size": 5}, "layers": [{"digest": "\#(digest)", "size": \#(size)}]}"#
                    .utf8)
        }
        #expect(throws: OCIError.sizeOutOfBounds(what: "layer \(digest)", size: 1 << 62, limit: Limits.layer)) {
            try ImageManifest(bytes: manifest(size: "\(1 << 62)"), what: "m")
        }
        #expect(throws: OCIError.sizeOutOfBounds(what: "layer \(digest)", size: -1, limit: Limits.layer)) {
            try ImageManifest(bytes: manifest(size: "-1"), what: "m")
        }
        #expect(throws: OCIError.self) { try ImageManifest(bytes: manifest(size: "1.5"), what: "m") }
        #expect(throws: OCIError.self) { try ImageManifest(bytes: manifest(size: "1e30"), what: "m") }
        #expect(try ImageManifest(bytes: manifest(size: "123"), what: "m").layers[0].size == 123)
    }
}
