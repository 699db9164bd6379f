import Foundation
import Testing

import StampTestSupport

/// The `oci-image` element: `disk-image-create oci-image …` with DIB_OCI_IMAGE takes the
/// operating system from a container image (here a busybox-static root packed with umoci), and
/// the other elements' phases run on it, in its chroot. Bad DIB_OCI_IMAGE values end in one
/// line before any phase runs. Root (chroot), busybox-static, umoci.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && toolAvailable("umoci")
            && toolAvailable("unshare") && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct OCIElementTests {
    static var dib: String {
        let beside = (stampBinary as NSString).deletingLastPathComponent + "/disk-image-create"
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : repositoryRoot + "/.build/debug/disk-image-create"
    }

    /// `layout/` (tag bb: busybox, /etc/os-release ID=fakeos, /etc/image-marker, Env ROLE=node),
    /// `els/probe-oci` (install.d writes /etc/from-chroot in the chroot), `out/`, `tmp/`.
    static func prepare() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("oci-element")
        let r = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir -p out tmp els/probe-oci/install.d
            umoci init --layout layout; umoci new --image layout:bb; umoci unpack --image layout:bb bundle >/dev/null
            R=bundle/rootfs
            for d in bin sbin usr/bin usr/sbin etc tmp proc sys dev root var/log; do mkdir -p $R/$d; done
            cp /bin/busybox $R/bin/
            for a in $(/bin/busybox --list); do [ -e $R/bin/$a ] || ln -s busybox $R/bin/$a; done
            printf 'ID=fakeos\\nVERSION_CODENAME=tiny\\n' > $R/etc/os-release
            echo from-image > $R/etc/image-marker
            umoci repack --image layout:bb bundle; rm -rf bundle
            umoci config --image layout:bb --config.env ROLE=node
            printf '#!/bin/sh\\nset -eu\\necho "chroot saw: $(cat /etc/image-marker) distro=$DISTRO_NAME release=$DIB_RELEASE" > /etc/from-chroot\\n' \\
              > els/probe-oci/install.d/50-probe
            chmod +x els/probe-oci/install.d/50-probe
            """)
        try #require(r.status == 0, "\(r.output)")
        return dir
    }

    @Test func elementsRunOnTheImagesTree() throws {
        let dir = try Self.prepare()
        let r = try run(
            [Self.dib, "-n", "-t", "raw", "-o", dir.file("out/img"), "oci-image", "probe-oci"],
            environment: [
                "ELEMENTS_PATH": dir.file("els"), "DIB_OCI_IMAGE": "oci:\(dir.path)/layout:bb", "TMPDIR": dir.file("tmp"),
            ])
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        #expect(try strictFsck(dir.file("out/img.raw")) == [])
        let marker = try run(["debugfs", "-R", "cat /etc/from-chroot", dir.file("out/img.raw")])
        #expect(marker.stdout.contains("chroot saw: from-image distro=fakeos release=tiny"), "\(marker.output)")
        let busybox = try run(["debugfs", "-R", "stat /bin/busybox", dir.file("out/img.raw")])
        #expect(busybox.stdout.contains("Type: regular"), "\(busybox.output)")
        let summary = try String(contentsOfFile: dir.file("out/img.d/image.json"), encoding: .utf8)
        #expect(summary.contains("\"ROLE=node\""), "\(summary)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
    }

    /// `DIB_OCI_CREDS` (what `stamp build --creds` sets) with a registry with HTTP Basic auth:
    /// the image is pulled, and the password reaches neither the elements' environment (an
    /// install.d script records it in the image), nor DIB_ENV, OUT.d/ or the log. A wrong
    /// password stops the build in one line before any phase.
    @Test(.enabled(if: toolAvailable("docker-registry") && toolAvailable("skopeo") && toolAvailable("htpasswd")))
    func buildFromAPrivateRegistryKeepsTheCredentialsOut() throws {
        let dir = try Self.prepare()
        let password = "reg1stry-Pw"
        let script = repositoryRoot + "/Tests/tools/oci/registry.sh"
        let start = try run(["bash", script, "start", dir.file("registry"), "--htpasswd", "carol:" + password])
        defer { _ = try? run(["bash", script, "stop", dir.file("registry")]) }
        try #require(start.status == 0, "\(start.output)")
        let reference = "docker://127.0.0.1:\(start.stdout.trimmingCharacters(in: .whitespacesAndNewlines))/os/bb:v1"
        let push = try run([
            "skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "carol:" + password, "oci:\(dir.path)/layout:bb",
            reference,
        ])
        try #require(push.status == 0, "\(push.output)")
        let probe = try sh("printf 'env > /etc/probe-env\\n' >> '\(dir.path)/els/probe-oci/install.d/50-probe'")
        try #require(probe.status == 0)
        func build(_ name: String, _ creds: String) throws -> CommandResult {
            try run(
                [Self.dib, "-n", "-t", "raw", "-o", dir.file("out/" + name), "oci-image", "probe-oci"],
                environment: [
                    "ELEMENTS_PATH": dir.file("els"), "TMPDIR": dir.file("tmp"), "HOME": dir.path, "REGISTRY_AUTH_FILE": "",
                    "DIB_OCI_IMAGE": reference, "DIB_OCI_PLAIN_HTTP": "1", "DIB_OCI_CREDS": creds,
                ])
        }
        let wrong = try build("wrong", "carol:nope")
        #expect(wrong.status != 0)
        #expect(
            wrong.stderr.contains("\(reference): credentials of user 'carol' (from DIB_OCI_CREDS) refused (HTTP 401"),
            "\(wrong.stderr)")
        #expect(!wrong.stdout.contains("dib-run-parts Running"), "a phase ran: \(wrong.stdout.suffix(2000))")

        let r = try build("img", "carol:" + password)
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        #expect(!r.output.contains(password))
        let env = try run(["debugfs", "-R", "cat /etc/probe-env", dir.file("out/img.raw")])
        #expect(env.stdout.contains("DIB_OCI_PLAIN_HTTP=1"), "\(env.output)")
        #expect(env.stdout.contains("DIB_ENV="), "\(env.output)")
        #expect(!env.stdout.contains(password) && !env.stdout.contains("DIB_OCI_CREDS"), "\(env.output)")
        let recorded = try run(["grep", "-rl", password, dir.file("out/img.d")])
        #expect(recorded.status == 1, "the password is in \(recorded.stdout)")
        let summary = try String(contentsOfFile: dir.file("out/img.d/image.json"), encoding: .utf8)
        #expect(summary.contains("\"\(reference)\""), "\(summary)")
    }

    /// DIB_OCI_STAMPED_CACHE: the same digest, elements and options are served from the
    /// cache without running a phase; changing an element's script is another entry.
    @Test func stampedCacheServesTheSameBuildAndNoticesElementChanges() throws {
        let dir = try Self.prepare()
        var environment = [
            "ELEMENTS_PATH": dir.file("els"), "DIB_OCI_IMAGE": "oci:\(dir.path)/layout:bb", "TMPDIR": dir.file("tmp"),
            "DIB_OCI_STAMPED_CACHE": dir.file("cache"),
        ]
        func build(_ name: String) throws -> CommandResult {
            let r = try run(
                [Self.dib, "-n", "-t", "raw", "-o", dir.file("out/" + name), "oci-image", "probe-oci"], environment: environment)
            try #require(r.status == 0, "\(r.output.suffix(3000))")
            return r
        }
        let first = try build("first")
        #expect(first.stdout.contains("stored in the image cache"), "\(first.stdout.suffix(2000))")
        let second = try build("second")
        #expect(second.stdout.contains("served from the image cache"), "\(second.stdout.suffix(2000))")
        #expect(!second.stdout.contains("dib-run-parts Running"), "a phase ran: \(second.stdout.suffix(2000))")
        #expect(try run(["cmp", dir.file("out/first.raw"), dir.file("out/second.raw")]).status == 0)
        #expect(try run(["cmp", dir.file("out/first.d/image.json"), dir.file("out/second.d/image.json")]).status == 0)
        // Another script in an element: built again.
        let edit = try sh("printf 'echo changed >> /etc/from-chroot\\n' >> '\(dir.path)/els/probe-oci/install.d/50-probe'")
        try #require(edit.status == 0)
        let third = try build("third")
        #expect(third.stdout.contains("stored in the image cache"), "\(third.stdout.suffix(2000))")
        let marker = try run(["debugfs", "-R", "cat /etc/from-chroot", dir.file("out/third.raw")])
        #expect(marker.stdout.contains("changed"), "\(marker.output)")
        // Another DIB_ variable: built again too.
        environment["DIB_STAMP_TEST_KNOB"] = "1"
        let fourth = try build("fourth")
        #expect(fourth.stdout.contains("stored in the image cache"), "\(fourth.stdout.suffix(2000))")
        let list = try run([stampBinary, "images", "--stamped-cache", dir.file("cache")])
        #expect(list.stdout.contains("3 entries in"), "\(list.stdout)")
    }

    @Test(arguments: [
        ("", "the oci-image element needs DIB_OCI_IMAGE"),
        ("oci:", "DIB_OCI_IMAGE: oci:: invalid image reference: no layout directory after 'oci:'"),
        ("oci:$D/layout:nope", "tag 'nope' (has bb): not found"),
        ("oci:$D/tampered:bb", ": digest mismatch: expected sha256:"),
    ])
    func badImagesStopBeforeAnyPhase(_ value: String, _ needle: String) throws {
        let dir = try Self.prepare()
        let t = try sh(
            """
            set -e; cd '\(dir.path)'; cp -a layout tampered
            f=$(ls -S tampered/blobs/sha256/* | head -1); printf X | dd of=$f bs=1 seek=5000 conv=notrunc status=none
            """)
        try #require(t.status == 0, "\(t.output)")
        var environment = ["ELEMENTS_PATH": dir.file("els"), "TMPDIR": dir.file("tmp")]
        if !value.isEmpty { environment["DIB_OCI_IMAGE"] = value.replacingOccurrences(of: "$D", with: dir.path) }
        let r = try run(
            [Self.dib, "-n", "-t", "raw", "-o", dir.file("out/img"), "oci-image", "probe-oci"], environment: environment)
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(needle.replacingOccurrences(of: "$D", with: dir.path)), "\(r.stderr)")
        #expect(!r.stdout.contains("dib-run-parts Running"), "a phase ran: \(r.stdout.suffix(2000))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
    }

    @Test func stampBuildFromIsTheElementWithTheVariable() throws {
        let dir = try Self.prepare()
        // base (implicit in stamp build) needs bash in the image; a bad reference shows the
        // translation without running anything.
        let r = try run(
            [
                stampBinary, "build", "--from", "oci:\(dir.path)/layout:nope", "probe-oci", "-o", dir.file("out/b"), "-t", "raw",
                "--elements-path", dir.file("els"),
            ], environment: ["TMPDIR": dir.file("tmp")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("tag 'nope' (has bb): not found"), "\(r.stderr)")
        #expect(r.stdout.contains("Expanded element dependencies to: base oci-image probe-oci"), "\(r.stdout)")
    }
}
