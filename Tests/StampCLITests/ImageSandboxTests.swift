import Foundation
import Testing

import StampTestSupport

/// Issue 18: the element phases of a build whose tree comes from a container image (the
/// `oci-image` element, `stamp build --from`) run the image's programs in stamp's sandbox
/// (Sandbox.swift, sandbox.c), and stamp's own edits of that tree never follow its links to the
/// host.
///
/// The image (busybox-static, packed with umoci) is hostile: `/etc/dpkg/dpkg.cfg.d`, `/root`,
/// `/etc/fstab` and `/etc/dib-manifests` are absolute symlinks to host paths of the test, and it
/// carries a static program that tries the classic chroot escape and then reads a host file
/// and writes one. An install.d script (run by the image's shell) records what it sees. Before
/// the sandbox, a root build ran it in a plain chroot with every capability, wrote the dpkg
/// tweak into the host directory, deleted the host's `*.log`, overwrote the host file with the
/// fstab and copied the host directory into `OUT.d/dib-manifests`.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && toolAvailable("umoci")
            && toolAvailable("cc") && toolAvailable("debugfs") && FileManager.default.isExecutableFile(atPath: stampBinary)
    ))
struct ImageSandboxTests {
    /// `layout/` (tag trap), `els/probe-sandbox`, `host/` (what the image points at), `out/`, `tmp/`.
    static func prepare() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("image-sandbox")
        let host = dir.file("host")
        let escape = """
            #include <fcntl.h>
            #include <stdio.h>
            #include <sys/stat.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
                mkdir("/escape-dir", 0755);
                if (chroot("/escape-dir") == 0) for (int i = 0; i < 64; i++) chdir("..");
                chroot(".");
                int secret = open(argv[1], O_RDONLY);
                int written = open(argv[2], O_CREAT | O_WRONLY, 0644);
                printf("escape: secret %s, write %s\\n", secret >= 0 ? "REACHED" : "unreachable",
                       written >= 0 ? "landed" : "refused");
                return 0;
            }
            """
        try escape.write(toFile: dir.file("escape.c"), atomically: true, encoding: .utf8)
        let r = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir -p out tmp els/probe-sandbox/install.d host/dpkg host/logs host/manifests
            echo SECRET > host/secret; chmod 600 host/secret
            echo ORIGINAL > host/file; echo keep > host/logs/a.log; echo host-manifest > host/manifests/m
            cc -static -O1 -o escape escape.c
            umoci init --layout layout; umoci new --image layout:trap; umoci unpack --image layout:trap bundle >/dev/null
            R=bundle/rootfs
            for d in bin sbin usr/bin etc/dpkg tmp proc sys dev var/log; do mkdir -p $R/$d; done
            cp /bin/busybox $R/bin/; cp escape $R/bin/escape
            for a in $(/bin/busybox --list); do [ -e $R/bin/$a ] || ln -s busybox $R/bin/$a; done
            printf 'ID=fakeos\\nVERSION_CODENAME=tiny\\n' > $R/etc/os-release
            ln -s '\(host)/dpkg' $R/etc/dpkg/dpkg.cfg.d
            ln -s '\(host)/logs' $R/root
            ln -s '\(host)/file' $R/etc/fstab
            ln -s '\(host)/manifests' $R/etc/dib-manifests
            umoci repack --image layout:trap bundle; rm -rf bundle
            cat > els/probe-sandbox/install.d/50-probe <<'EOF'
            #!/bin/sh
            {
                echo "uid=$(id -u)"
                echo "map=$(tr -s ' ' < /proc/self/uid_map)"
                [ -e '\(host)/secret' ] && echo "secret visible" || echo "secret hidden"
                /bin/escape '\(host)/secret' '\(host)/escaped'
                echo "dev=$(ls /dev | tr '\\n' ' ')"
                mknod /tmp/blk b 7 0 2>/dev/null && echo "mknod allowed" || echo "mknod refused"
            } > /etc/sandbox-probe
            EOF
            chmod +x els/probe-sandbox/install.d/50-probe
            # Outside the chroot, as upstream elements write it: `sudo chroot $TARGET_ROOT …`
            # (post-root.d runs after the chroot phases, so the probe file exists there).
            mkdir -p els/probe-sandbox/post-root.d
            cat > els/probe-sandbox/post-root.d/50-chroot <<'EOF'
            #!/bin/sh
            set -eu
            sudo chroot "${TARGET_ROOT:-$TMP_MOUNT_PATH}" /bin/sh -c 'tr -s " " < /proc/self/uid_map > /etc/outside-chroot'
            EOF
            chmod +x els/probe-sandbox/post-root.d/50-chroot
            """)
        try #require(r.status == 0, "\(r.output)")
        return dir
    }

    /// What the build must not have done to the host, whoever ran it.
    static func expectHostUntouched(_ dir: TemporaryDirectory) throws {
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("host/dpkg")).isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir.file("host/logs/a.log")))
        #expect(try String(contentsOfFile: dir.file("host/file"), encoding: .utf8) == "ORIGINAL\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("host/escaped")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/img.d/dib-manifests/m")))
    }

    static func probe(_ image: String) throws -> String {
        let r = try run(["debugfs", "-R", "cat /etc/sandbox-probe", image])
        try #require(r.status == 0 && r.stdout.contains("uid="), "\(r.output)")
        return r.stdout
    }

    @Test func asRootTheImagesProgramsRunAsAnotherUserWithNothingOfTheHost() throws {
        let dir = try Self.prepare()
        defer { dir.cleanup() }
        let r = try run(
            [OCIElementTests.dib, "-n", "-t", "raw", "-o", dir.file("out/img"), "oci-image", "probe-sandbox"],
            environment: [
                "ELEMENTS_PATH": dir.file("els"), "DIB_OCI_IMAGE": "oci:\(dir.path)/layout:trap", "TMPDIR": dir.file("tmp"),
            ])
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        try Self.expectHostUntouched(dir)
        let probe = try Self.probe(dir.file("out/img.raw"))
        // uid 0 inside is 0x7FFE0000 on the host (Sandbox.defaultBase), not the host's root.
        #expect(probe.contains("uid=0\n"), "\(probe)")
        #expect(probe.contains("map= 0 2147352576 65536"), "\(probe)")
        #expect(probe.contains("secret hidden"), "\(probe)")
        #expect(probe.contains("escape: secret unreachable, write refused"), "\(probe)")  // inside the tree
        #expect(probe.contains("dev=fd full null ptmx pts random shm stderr stdin stdout tty urandom zero \n"), "\(probe)")
        #expect(probe.contains("mknod refused"), "\(probe)")
        // `sudo chroot $TARGET_ROOT` from an element's script outside went into the sandbox too.
        let outside = try run(["debugfs", "-R", "cat /etc/outside-chroot", dir.file("out/img.raw")])
        #expect(outside.stdout == " 0 2147352576 65536\n", "\(outside.output)")
        // What the sandboxed programs wrote keeps the tree's ids on disk (ID-mapped mount).
        let stat = try run(["debugfs", "-R", "stat /etc/sandbox-probe", dir.file("out/img.raw")])
        #expect(stat.stdout.contains("User:     0   Group:     0"), "\(stat.stdout.prefix(400))")
        // stamp's fstab replaced the image's /etc/fstab link, inside the image.
        let fstab = try run(["debugfs", "-R", "cat /etc/fstab", dir.file("out/img.raw")])
        #expect(fstab.stdout.contains("LABEL="), "\(fstab.output.prefix(300))")
        #expect(try strictFsck(dir.file("out/img.raw")) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
    }

    @Test(.enabled(if: canRunUnprivilegedBuilds, "needs unshare and newuidmap"))
    func asAnOrdinaryUserTheSandboxConfinesTheImageToItsTree() throws {
        let user = try UnprivilegedBuildTests.ThrowawayUser()
        defer { user.remove() }
        let dir = try Self.prepare()
        defer { dir.cleanup() }
        let chown = try sh(
            "chmod 755 '\(dir.path)' && mkdir -p '\(dir.file("home"))' && chown -R \(user.uid) '\(dir.file("out"))' '\(dir.file("tmp"))' '\(dir.file("home"))' && chmod -R a+rX '\(dir.file("layout"))' '\(dir.file("els"))'"
        )
        try #require(chown.status == 0, "\(chown.output)")
        let r = try run([
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(dir.file("home"))", "TMPDIR=\(dir.file("tmp"))",
            "ELEMENTS_PATH=\(dir.file("els"))", "DIB_OCI_IMAGE=oci:\(dir.path)/layout:trap",
            "setpriv", "--reuid=\(user.uid)", "--regid=\(user.uid)", "--clear-groups",
            OCIElementTests.dib, "-n", "-t", "raw", "-o", dir.file("out/img"), "oci-image", "probe-sandbox",
        ])
        try #require(r.status == 0, "\(r.output.suffix(3000))")
        try Self.expectHostUntouched(dir)
        let probe = try Self.probe(dir.file("out/img.raw"))
        // The build's own user namespace: uid 0 is the caller; the host's files are out of reach.
        #expect(probe.contains("uid=0\n"), "\(probe)")
        #expect(probe.contains("map= 0 \(user.uid) 1"), "\(probe)")
        #expect(probe.contains("secret hidden"), "\(probe)")
        #expect(probe.contains("escape: secret unreachable, write refused"), "\(probe)")
        #expect(probe.contains("mknod refused"), "\(probe)")
        #expect(user.processes().isEmpty, "\(user.processes())")
    }
}
