import Foundation
import StampIO
import StampTestSupport
import StampTree
import Testing

@testable import StampPackaging

/// `-t docker`'s docker-archive: its JSON documents byte for byte, the reference names it
/// takes, and the archive as readers we did not write see it (GNU tar, skopeo's
/// `docker-archive:` transport).
struct DockerArchiveTests {
    /// The config and manifest are the bytes their digests are taken over: golden.
    @Test func documentsAreGolden() {
        let config = DockerArchive.config(
            architecture: "amd64", created: 1_700_000_000, diffID: "sha256:" + String(repeating: "ab", count: 32))
        #expect(
            String(decoding: config, as: UTF8.self)
                == #"{"architecture":"amd64","config":{},"created":"2023-11-14T22:13:20Z","history":[{"created":"2023-11-14T22:13:20Z","created_by":"stamp: the tree as one layer"}],"os":"linux","rootfs":{"diff_ids":["sha256:"#
                + String(repeating: "ab", count: 32) + #""],"type":"layers"}}"#)
        let manifest = DockerArchive.manifest(config: "c.json", tag: "web:1", layer: "l.tar")
        #expect(String(decoding: manifest, as: UTF8.self) == #"[{"Config":"c.json","RepoTags":["web:1"],"Layers":["l.tar"]}]"#)
        let untagged = DockerArchive.manifest(config: "c.json", tag: nil, layer: "l.tar")
        #expect(String(decoding: untagged, as: UTF8.self) == #"[{"Config":"c.json","RepoTags":null,"Layers":["l.tar"]}]"#)
        #expect(DockerArchive.quoted("a\"b\\c\u{1}") == #""a\"b\\c\u0001""#)
        #expect(DockerArchive.rfc3339(0) == "1970-01-01T00:00:00Z")
    }

    /// Docker's reference grammar, without digests.
    @Test func referencesAreDockers() {
        for good in [
            "web", "web:1", "library/debian:bookworm", "registry.example:5000/a/b_c:v1.2-3", "localhost/x", "a__b", "a--b",
        ] {
            #expect(DockerArchive.referenceProblem(good) == nil, "\(good)")
        }
        for bad in [
            "", "Web", "web app", "web:", "web:-x", "-web", "web_", "a/", "web:" + String(repeating: "t", count: 129), "a\nb",
            "web\n",
        ] {
            #expect(DockerArchive.referenceProblem(bad) != nil, "\(bad.debugDescription)")
        }
        #expect(DockerArchive.tagged("web") == "web:latest" && DockerArchive.tagged("h:5000/web") == "h:5000/web:latest")
        #expect(DockerArchive.tagged("web:1") == "web:1")
        #expect(DockerArchive.defaultTag(outputBase: "out/Debian-12") == "debian-12:latest")
        #expect(DockerArchive.defaultTag(outputBase: "out/my image") == nil)
    }

    /// A small tree as an archive: GNU tar lists its three members, the layer is the tree's
    /// `-t tar` tarball byte for byte, names are the SHA-256 of their contents, skopeo reads
    /// it (architecture, os, the one layer), and no scratch file is left.
    @Test(.enabled(if: toolAvailable("skopeo"), "needs skopeo"))
    func archiveIsReadByTarAndSkopeo() throws {
        let dir = try TemporaryDirectory("docker-archive")
        defer { dir.cleanup() }
        let source = dir.file("src")
        try FileManager.default.createDirectory(atPath: source + "/etc", withIntermediateDirectories: true)
        try "hello\n".write(toFile: source + "/etc/hostname", atomically: false, encoding: .utf8)
        let tree = try TreeScanner().scan(source)
        try DockerArchive(tag: "web:1", architecture: "amd64", created: 1_700_000_000).write(tree, to: dir.file("img.docker.tar"))
        try TreeTarball(format: .pax).write(tree, to: dir.file("img.tar"))
        #expect(listing(dir.path) == ["img.docker.tar", "img.tar", "src"])
        let members = try run(["tar", "-tf", dir.file("img.docker.tar")]).stdout.split(separator: "\n").map(String.init)
        #expect(members.count == 3 && members[2] == "manifest.json", "\(members)")
        let layerSum = String(try sh("sha256sum '\(dir.file("img.tar"))'").stdout.prefix(64))
        #expect(members.first == layerSum + ".tar", "\(members) \(layerSum)")
        let same = try sh("cd '\(dir.path)' && tar -xOf img.docker.tar '\(members[0])' | cmp - img.tar && echo same")
        #expect(same.stdout == "same\n", "\(same.output)")
        let configSum = String(try sh("tar -xOf '\(dir.file("img.docker.tar"))' '\(members[1])' | sha256sum").stdout.prefix(64))
        #expect(members[1] == configSum + ".json")
        let inspect = try run(["skopeo", "inspect", "docker-archive:" + dir.file("img.docker.tar")])
        #expect(inspect.status == 0, "\(inspect.output)")
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(json?["Architecture"] as? String == "amd64" && json?["Os"] as? String == "linux", "\(inspect.stdout)")
        #expect((json?["Layers"] as? [String]) == ["sha256:" + layerSum], "\(inspect.stdout)")
        #expect((json?["Created"] as? String)?.hasPrefix("2023-11-14T22:13:20") == true, "\(inspect.stdout)")
    }
}
