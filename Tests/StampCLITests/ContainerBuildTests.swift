import Foundation
import Testing

import StampTestSupport

/// Issue 11: the builder image from the top-level Containerfile, run by an ordinary user with
/// rootless podman (no --privileged, no added capability), builds nodepool's image, which
/// boots. Root (to make the user), network (the mirror), a boot and minutes:
/// STAMP_NETWORK_TESTS=1 and STAMP_BOOT_TESTS=1 (scripts/test's network phase sets both).
///
/// The image holds the binaries under test (``stampBinary`` and the `disk-image-create`
/// beside it, the build every phase uses) with the Swift runtime libraries they link
/// (`scripts/container-image --prebuilt`), not a second, static build of the package.
///
/// What this host needs for rootless podman, written to the user's containers.conf and
/// storage.conf (they are this machine's settings, not stamp's):
/// - `runtime = "runc"`, `cgroup_manager = "cgroupfs"`: the host mounts cgroups in hybrid
///   mode (v1 controllers plus an empty v2), which crun refuses;
/// - `netns = "host"`: slirp4netns needs /dev/net/tun, which only root may open here;
/// - the vfs storage driver (no fuse-overlayfs needed).
/// No base image can be pulled (no registry is reachable), so the test makes Debian bookworm
/// with mmdebstrap (scripts/container-base, once per test image cache) and imports it as
/// `localhost/debian:bookworm`, the Containerfile's BASE.
@Suite(
    .serialized,
    .enabled(
        if: canRunUnprivilegedBuilds && toolAvailable("podman") && toolAvailable("mmdebstrap")
            && networkTestsEnabled && bootTestsEnabled))
struct ContainerBuildTests {
    static let work = "/var/tmp/stamp-container-e2e"
    /// The base image, made once per test image cache (scripts/test makes it in the background
    /// while it compiles).
    static var baseTar: String {
        (ProcessInfo.processInfo.environment["STAMP_TEST_IMAGE_CACHE"] ?? "/var/tmp/stamp-test-image-cache")
            + "/container-base/bookworm-apt.tar"
    }

    /// Runs `script` with bash as `user`, in a login shell (podman wants HOME and a session).
    static func asUser(_ user: UnprivilegedBuildTests.ThrowawayUser, _ script: String) throws -> CommandResult {
        try run(["su", "-", user.name, "-c", script])
    }

    @Test func nodepoolsCommandInRootlessPodman() async throws {
        try? FileManager.default.removeItem(atPath: Self.work)
        try FileManager.default.createDirectory(atPath: Self.work + "/context", withIntermediateDirectories: true)
        // The binaries under test, their Swift runtime and the elements the Containerfile copies.
        let prebuilt = (stampBinary as NSString).deletingLastPathComponent
        let staged = try run([repositoryRoot + "/scripts/container-image", "--stage-only", "--prebuilt", prebuilt])
        try #require(staged.status == 0, "\(staged.output.suffix(3000))")
        let context = try sh(
            """
            set -e; cd \(Self.work)
            cp -a \(repositoryRoot)/Containerfile \(repositoryRoot)/.containerignore \(repositoryRoot)/stage context/
            \(repositoryRoot)/scripts/container-base '\(Self.baseTar)'
            cp '\(Self.baseTar)' base.tar
            mkdir -p out; chmod -R a+rX .
            """)
        try #require(context.status == 0, "\(context.output.suffix(3000))")

        let user = try UnprivilegedBuildTests.ThrowawayUser(home: Self.work + "/home")
        defer { user.remove() }
        let config = try sh(
            """
            set -e; mkdir -p \(Self.work)/home/.config/containers
            printf '[storage]\\ndriver = "vfs"\\n' > \(Self.work)/home/.config/containers/storage.conf
            printf '[engine]\\nruntime = "runc"\\ncgroup_manager = "cgroupfs"\\nevents_logger = "file"\\n[containers]\\nnetns = "host"\\n' \
                > \(Self.work)/home/.config/containers/containers.conf
            chown -R \(user.uid) \(Self.work)/home \(Self.work)/out
            """)
        try #require(config.status == 0, "\(config.output)")

        // The image, built by the user from the Containerfile.
        let image = try Self.asUser(
            user,
            """
            set -e
            podman import \(Self.work)/base.tar localhost/debian:bookworm >/dev/null
            cd \(Self.work)/context
            podman build --network host --build-arg BASE=localhost/debian:bookworm -t localhost/stamp-builder -f Containerfile .
            """)
        try #require(image.status == 0, "podman build: \(image.output.suffix(3000))")

        // nodepool's command inside it: the container's root has no CAP_SYS_ADMIN.
        let caps = try Self.asUser(user, "podman run --rm localhost/stamp-builder sh -c 'grep CapEff /proc/self/status'")
        let capEff = UInt64(
            caps.stdout.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", radix: 16)
        #expect(capEff.map { $0 & (1 << 21) == 0 } == true, "CAP_SYS_ADMIN in the container: \(caps.output)")
        let build = try Self.asUser(
            user,
            """
            podman run --rm --network host -v \(Self.work)/out:/out -v \(repositoryRoot):/stamp:ro \
                -e DIB_RELEASE=bookworm -e STAMP_REPO=/stamp -e ELEMENTS_PATH=/stamp/Tests/StampCLITests/Fixtures/elements \
                localhost/stamp-builder disk-image-create -x -t qcow2,vmdk,raw --checksum --no-tmpfs \
                --qemu-img-options compat=0.10 -p iputils-ping -o /out/debian debian-minimal vm stamp-boot-marker
            """)
        try #require(build.status == 0, "build in podman: \(build.output.suffix(3000))")
        #expect(build.stdout.split(separator: "\n").last?.hasSuffix("| Build completed successfully") == true)

        let out = Self.work + "/out/debian"
        for ext in ["qcow2", "vmdk", "raw"] {
            for suffix in ["", ".md5", ".sha256"] {
                let owner =
                    (try? FileManager.default.attributesOfItem(atPath: "\(out).\(ext)\(suffix)"))?[.ownerAccountID] as? Int
                #expect(owner == user.uid, "\(out).\(ext)\(suffix): owner \(String(describing: owner))")
            }
        }
        let sums = try sh("cd \(Self.work)/out && md5sum -c debian.qcow2.md5 debian.raw.md5 && sha256sum -c debian.vmdk.sha256")
        #expect(sums.status == 0, "\(sums.output)")
        let info = try run(["qemu-img", "info", "-f", "qcow2", out + ".qcow2"]).stdout
        #expect(info.contains("compat: 0.10"), "\(info)")
        let table = try DIBEndToEndTests.partitionTable(out + ".raw")
        let rootFS = DIBEndToEndTests.filesystem(out + ".raw", try #require(table.partitions.last))
        #expect(try strictFsck(rootFS) == [])
        // The container's owners, not the host's mapped ids: the entries a root build has for
        // these paths (root, the shadow group, ping's capability, the device nodes).
        let listing = try run(["python3", repositoryRoot + "/Tests/tools/list_entries.py", rootFS]).stdout
        #expect(listing.contains("\n/etc/shadow\t- 0640\t0:42\t"), "\(listing.prefix(500))")
        #expect(listing.contains("\n/usr/bin/ping\t- 0755\t0:0\tsecurity.capability=01000002"))
        #expect(listing.contains("\n/dev/null\tc 0666\t0:0\t"))
        #expect(!listing.contains("\t\(user.rangeStart)"), "host ids in the image")
        for fmt in ["qcow2", "vmdk"] {
            let check = try run(["qemu-img", "check", "-f", fmt, "\(out).\(fmt)"])
            #expect(check.status == 0, "\(fmt): \(check.output)")
            let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", fmt, out + ".raw", "\(out).\(fmt)"])
            #expect(compare.status == 0, "\(fmt): \(compare.output)")
        }
        let boot = try bootImage(out + ".qcow2", ["--format", "qcow2", "--snapshot", "--timeout", "300"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
        _ = try? Self.asUser(user, "podman rmi -a -f >/dev/null 2>&1")
        try? FileManager.default.removeItem(atPath: Self.work)
    }
}
