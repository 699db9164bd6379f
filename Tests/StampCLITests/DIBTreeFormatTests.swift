import Foundation
import Testing

import StampTestSupport

/// `-t squashfs` and `-t docker` of disk-image-create (issue 22), on the busybox fake-os
/// fixture, read back by tools we did not write: squashfs-tools' `unsquashfs`, skopeo's
/// `docker-archive:` transport and `podman load` (behind a `docker` CLI shim, as Debian's
/// podman-docker is one).
///
/// diskimage-builder's own disk-image-create (PyPI) names them: `-t squashfs` runs
/// `mksquashfs … $IMAGE_NAME.squash -comp xz -noappend … -e "proc/*" -e "sys/*"`, and never
/// checksums it; `-t docker` pipes the tree's tarball into `docker import - $DOCKER_TARGET`.
@Suite(
    .enabled(
        if: BadInputTests.canRunElements && toolAvailable("unsquashfs") && toolAvailable("skopeo") && toolAvailable("podman"),
        "needs root, busybox, unsquashfs (squashfs-tools), skopeo and podman"))
struct DIBTreeFormatTests {
    func dib(_ dir: TemporaryDirectory, _ arguments: [String], path: String? = nil) throws -> CommandResult {
        try sh("mkdir -p '\(dir.path)/out' '\(dir.path)/tmp'")
        var environment = ["ELEMENTS_PATH": BadInputTests.fixtures, "TMPDIR": dir.file("tmp")]
        if let path { environment["PATH"] = path }
        return try run(
            [BadInputTests.dibBinary, "-n", "-o", dir.file("out/img")] + arguments + ["fake-os"], environment: environment)
    }

    /// DIB's file name and compression; the tree's names, owners and contents as unsquashfs
    /// reads them (the same names as the `-t tar` tarball of the same build); no checksum for
    /// it, as DIB writes none, while the tarball beside it has its own.
    @Test func squashfsIsDIBsImage() throws {
        let dir = try TemporaryDirectory("stamp-dib-squashfs")
        defer { dir.cleanup() }
        let r = try dib(dir, ["-t", "squashfs,tar", "--checksum"])
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        let out = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted()
        #expect(out == ["img.d", "img.squash", "img.tar", "img.tar.md5", "img.tar.sha256"], "\(out)")
        let superblock = try run(["unsquashfs", "-s", dir.file("out/img.squash")])
        #expect(superblock.status == 0 && superblock.stdout.contains("Compression xz"), "\(superblock.output)")
        let cat = try run(["unsquashfs", "-cat", dir.file("out/img.squash"), "etc/fake-os"])
        #expect(cat.stdout == "fake-os\n", "\(cat.output)")
        // unsquashfs -lln: "perms uid/gid size date time squashfs-root/path"
        let listing = try run(["unsquashfs", "-lln", dir.file("out/img.squash")])
        #expect(listing.status == 0, "\(listing.output)")
        var names: Set<String> = []
        for line in listing.stdout.split(separator: "\n") {
            guard let at = line.range(of: " squashfs-root") else { continue }
            let owner = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""
            #expect(owner == "0/0", "\(line)")
            names.insert(String(line[at.upperBound...]).split(separator: " -> ").first.map(String.init) ?? "")
        }
        let tarNames = try run(["tar", "-tf", dir.file("out/img.tar")]).stdout.split(separator: "\n").map {
            "/" + $0.dropFirst(2).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        }
        let expected = Set(tarNames.map { $0 == "/" ? "" : $0 }).filter { !$0.hasPrefix("/proc/") && !$0.hasPrefix("/sys/") }
        #expect(
            names == expected, "only in squashfs: \(names.subtracting(expected)); only in tar: \(expected.subtracting(names))")
    }

    /// `-t docker --docker-target web:1`: `OUT.docker.tar`, whose layer is the build's `-t tar`
    /// tarball byte for byte; skopeo reads it; a `docker` CLI on PATH (a shim running podman
    /// with a private store) has loaded it under the target; an invalid target is refused in
    /// one line before the build.
    @Test func dockerArchiveLoadsAndIsImported() throws {
        let dir = try TemporaryDirectory("stamp-dib-docker")
        defer {
            _ = try? sh("'\(dir.path)/bin/docker' rmi -a -f >/dev/null 2>&1; true")
            dir.cleanup()
        }
        let store = dir.file("podman")
        try sh("mkdir -p '\(dir.path)/bin' '\(store)'")
        // podman wants a run root of at most 50 characters.
        let runRoot = "/tmp/stamp-podman-\(getpid())"
        defer { _ = try? run(["rm", "-rf", runRoot]) }
        let shim = "#!/bin/sh\nexec podman --root '\(store)/root' --runroot '\(runRoot)' --storage-driver vfs \"$@\"\n"
        try shim.write(toFile: dir.file("bin/docker"), atomically: false, encoding: .utf8)
        try sh("chmod +x '\(dir.path)/bin/docker'")
        let path = dir.file("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let r = try dib(dir, ["-t", "docker,tar", "--docker-target", "web:1"], path: path)
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        #expect(r.stdout.contains("importing \(dir.file("out/img.docker.tar")) as web:1"), "\(r.stdout.suffix(2000))")
        let archive = dir.file("out/img.docker.tar")
        let inspect = try run(["skopeo", "inspect", "docker-archive:" + archive])
        #expect(inspect.status == 0, "\(inspect.output)")
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(json?["Architecture"] as? String == "amd64" && json?["Os"] as? String == "linux", "\(inspect.stdout)")
        let tarSum = String(try sh("sha256sum '\(dir.path)/out/img.tar'").stdout.prefix(64))
        #expect((json?["Layers"] as? [String]) == ["sha256:" + tarSum], "\(inspect.stdout)")
        let images = try run([dir.file("bin/docker"), "images", "--format", "{{.Repository}}:{{.Tag}}"])
        #expect(images.stdout.split(separator: "\n").contains { $0.hasSuffix("/web:1") || $0 == "web:1" }, "\(images.output)")
        let motd = try run([dir.file("bin/docker"), "image", "inspect", "--format", "{{.Architecture}}", "web:1"])
        #expect(motd.stdout == "amd64\n", "\(motd.output)")

        let bad = try dib(dir, ["-t", "docker", "--docker-target", "Web App", "-o", dir.file("out/bad")], path: path)
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.output)")
        #expect(bad.stderr.contains("invalid --docker-target 'Web App'"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/bad.docker.tar")))
    }
}
