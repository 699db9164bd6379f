import Foundation
import Testing

import StampTestSupport

/// `stamp pack docker://…` against Debian's `docker-registry` on 127.0.0.1 (a free port,
/// started and stopped here by Tests/tools/oci/registry.sh), the fixture image pushed with
/// skopeo. One registry uses distribution's token auth (a JWT service of our own, whose
/// signatures the registry verifies), so the pull goes through the WWW-Authenticate bearer
/// challenge; the tree must match `umoci unpack` of the layout that was pushed.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("docker-registry")
            && toolAvailable("skopeo") && toolAvailable("umoci") && toolAvailable("openssl")
            && (try? sh("python3 -c 'import dissect.extfs'").status) == 0))
struct RegistryTests {
    static let tools = repositoryRoot + "/Tests/tools/oci"

    /// Runs `body` with a running registry (port) in a case directory holding `layout/` (the
    /// fixture, also with an amd64+arm64 index under tag `multi` in `indexed/`) and `bundle/`
    /// (umoci's unpack of it). `mode` is registry.sh's (`--token`, `--htpasswd USER:PASSWORD`…);
    /// `push` the credentials skopeo pushes with.
    static func withRegistry(mode: [String] = [], push: String? = nil, _ body: (TemporaryDirectory, String) throws -> Void) throws
    {
        let dir = try TemporaryDirectory("registry")
        let setup = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir out tmp
            python3 '\(tools)/oci_fixture.py' layout semantics >/dev/null
            python3 '\(tools)/oci_fixture.py' indexed semantics --index --tag multi >/dev/null
            umoci unpack --image layout:latest bundle >/dev/null
            """)
        try #require(setup.status == 0, "\(setup.output)")
        let start = try run(["bash", tools + "/registry.sh", "start", dir.file("registry")] + mode)
        defer { _ = try? run(["bash", tools + "/registry.sh", "stop", dir.file("registry")]) }
        try #require(start.status == 0, "\(start.output)")
        let port = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let skopeo = "skopeo copy -q --dest-tls-verify=false" + (push.map { " --dest-creds '\($0)'" } ?? "")
        let pushed = try sh(
            """
            set -e; cd '\(dir.path)'
            \(skopeo) oci:layout:latest docker://127.0.0.1:\(port)/team/fixture:latest
            \(skopeo) --all oci:indexed:multi docker://127.0.0.1:\(port)/team/fixture:multi
            """)
        try #require(pushed.status == 0, "\(pushed.output)")
        try body(dir, port)
    }

    static func pack(_ dir: TemporaryDirectory, _ reference: String, _ name: String) throws -> CommandResult {
        try run(
            [stampBinary, "pack", reference, "--plain-http", "-o", dir.file("out/" + name), "-t", "raw", "--layout", "none"],
            environment: ["TMPDIR": dir.file("tmp")])
    }

    static func matchesUmoci(_ dir: TemporaryDirectory, _ name: String) throws {
        let compare = try run(
            [
                "python3", repositoryRoot + "/Tests/tools/compare_tree.py", dir.file("bundle/rootfs"),
                dir.file("out/\(name).raw"), "--ns", "--no-atime",
            ])
        #expect(compare.stdout.contains("compare_tree: 26 entries, 0 differences"), "\(compare.output)")
        #expect(try strictFsck(dir.file("out/\(name).raw")) == [])
    }

    @Test func pullsThroughTheBearerChallengeAndChoosesAMD64() throws {
        try Self.withRegistry(mode: ["--token"]) { dir, port in
            let r = try Self.pack(dir, "docker://127.0.0.1:\(port)/team/fixture:latest", "latest")
            try #require(r.status == 0, "\(r.output)")
            try Self.matchesUmoci(dir, "latest")
            // The token service saw stamp's request for pull access (after skopeo's push).
            let tokens = try String(contentsOfFile: dir.file("registry/tokens.log"), encoding: .utf8)
            #expect(tokens.split(separator: "\n").contains("repository:team/fixture:pull"), "\(tokens)")

            // The manifest list: the amd64 entry is chosen (skopeo re-serializes manifests on
            // push, so the digest is read back from the registry's index).
            let index = try sh(
                """
                skopeo inspect --raw --tls-verify=false docker://127.0.0.1:\(port)/team/fixture:multi \
                  | python3 -c 'import json,sys; print([m["digest"] for m in json.load(sys.stdin)["manifests"] if m["platform"]["architecture"] == "amd64"][0])'
                """)
            try #require(index.status == 0, "\(index.output)")
            let amd64 = index.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let multi = try Self.pack(dir, "docker://127.0.0.1:\(port)/team/fixture:multi", "multi")
            try #require(multi.status == 0, "\(multi.output)")
            #expect(multi.stdout.contains("image \(amd64): 3 layers"), "\(multi.stdout)")
            try Self.matchesUmoci(dir, "multi")

            // And by digest.
            let pinned = try Self.pack(dir, "docker://127.0.0.1:\(port)/team/fixture@\(amd64)", "pinned")
            try #require(pinned.status == 0, "\(pinned.output)")
            try Self.matchesUmoci(dir, "pinned")
        }
    }

    /// Without --plain-http the client speaks HTTPS and verifies the certificate: a registry
    /// with a self-signed one is refused in one line (the TLS library's reason), nothing written.
    @Test func httpsIsVerified() throws {
        let dir = try TemporaryDirectory("registry-tls")
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        let start = try run(["bash", Self.tools + "/registry.sh", "start", dir.file("registry"), "--tls"])
        defer { _ = try? run(["bash", Self.tools + "/registry.sh", "stop", dir.file("registry")]) }
        try #require(start.status == 0, "\(start.output)")
        let port = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try run([
            stampBinary, "pack", "docker://127.0.0.1:\(port)/team/fixture:latest", "-o", dir.file("out/tls"), "-t", "raw",
        ])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(
            r.stderr.contains("https://127.0.0.1:\(port)/v2/team/fixture/manifests/latest: GET: SSL certificate problem"),
            "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty)
    }

    @Test func aRegistryServingATamperedBlobIsRefused() throws {
        try Self.withRegistry { dir, port in
            // Flip one byte of the largest layer in the registry's own storage.
            let tamper = try sh(
                """
                set -e; cd '\(dir.path)/registry/data/docker/registry/v2/blobs/sha256'
                f=$(ls -S */*/data | head -1); printf X | dd of=$f bs=1 seek=100 conv=notrunc status=none
                """)
            try #require(tamper.status == 0, "\(tamper.output)")
            let r = try Self.pack(dir, "docker://127.0.0.1:\(port)/team/fixture:latest", "bad")
            #expect(r.status != 0)
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains(": digest mismatch: expected sha256:"), "\(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)

            let missing = try Self.pack(dir, "docker://127.0.0.1:\(port)/team/fixture:nosuch", "missing")
            #expect(missing.status != 0)
            #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
            #expect(missing.stderr.contains("manifest docker://127.0.0.1:\(port)/team/fixture:nosuch"), "\(missing.stderr)")
        }
    }
}
