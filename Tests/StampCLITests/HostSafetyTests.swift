import Foundation
import Testing

import StampTestSupport

/// Untrusted input never reaches the host (issue 18): what other local users plant in the
/// shared scratch places, and signals in the middle of an image pack. Each test drives the
/// `stamp` binary as a user would.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct HostSafetyTests {
    static let fixture = repositoryRoot + "/Tests/tools/oci/oci_fixture.py"

    /// Another user's directory named like a stale scratch directory (`stamp-image-<dead
    /// pid>.*` in a world-writable TMPDIR) survives a pack; ours is cleaned up; a symlink named
    /// like one is never followed.
    @Test(.enabled(if: isRoot && toolAvailable("python3"))) func staleScratchOfAnotherUserSurvivesAPack() throws {
        let dir = try TemporaryDirectory("host-stale")
        let r = try sh(
            """
            set -e
            cd '\(dir.path)'
            python3 '\(Self.fixture)' layout opaque-missing >/dev/null
            pid=$(sh -c 'echo $$')
            mkdir -m 1777 shared
            for label in stamp-image stamp-blobs; do
              mkdir -p shared/$label-$pid.planted/sub && echo keep > shared/$label-$pid.planted/sub/f
              chown -R 12345:12345 shared/$label-$pid.planted
              mkdir -p shared/$label-$pid.ours/sub && echo gone > shared/$label-$pid.ours/sub/f
            done
            mkdir -p victim/sub && echo keep > victim/sub/f
            ln -s "$PWD/victim" shared/stamp-image-$pid.link
            TMPDIR="$PWD/shared" '\(stampBinary)' pack oci:layout -o out -t raw --layout none --no-bootloader > pack.log 2>&1 || true
            cat pack.log
            echo "--"
            find shared victim | sed "s/-$pid\\./-PID./" | sort
            """)
        try #require(r.status == 0, "\(r.output)")
        let listing = r.stdout.components(separatedBy: "--\n").last ?? ""
        for label in ["stamp-image", "stamp-blobs"] {
            #expect(
                listing.contains("shared/\(label)-PID.planted/sub/f\n"),
                "another user's \(label) directory was removed: \(r.output)")
            #expect(!listing.contains("shared/\(label)-PID.ours"), "our stale \(label) directory was left: \(r.output)")
        }
        #expect(listing.contains("victim/sub/f\n"), "\(r.output)")
    }

    /// SIGTERM while an image pack waits for its input: the scratch directories it made
    /// (`stamp-blobs-*`) are removed before it exits.
    @Test(.enabled(if: toolAvailable("python3"))) func sigtermRemovesScratchDirectories() throws {
        let dir = try TemporaryDirectory("host-sigterm")
        let r = try sh(
            """
            cd '\(dir.path)'
            mkdir scratch && mkfifo saved.tar
            TMPDIR="$PWD/scratch" '\(stampBinary)' pack docker-archive:saved.tar -o out -t raw --layout none > pack.log 2>&1 & pid=$!
            for i in $(seq 100); do ls scratch | grep -q stamp-blobs && break; sleep 0.1; done
            echo "before: $(ls scratch)"
            kill -TERM $pid; wait $pid; echo "exit $?"
            echo "after: $(ls -A scratch)"
            cat pack.log
            """)
        #expect(r.stdout.contains("before: stamp-blobs-"), "no scratch directory was seen: \(r.output)")
        #expect(r.stdout.contains("exit 143"), "\(r.output)")
        #expect(r.stdout.contains("after: \n"), "scratch left behind: \(r.output)")
    }

    /// A tree whose mount point is a symlink out of it (`/srv -> HOST`, `/boot/efi -> HOST`),
    /// packed with a block-device config that mounts it: refused in one line naming the
    /// symlink; no host file reaches an image, no output is written.
    @Test(arguments: ["/srv", "/boot/efi"]) func aMountPointThatIsASymlinkIsRefused(_ point: String) throws {
        let dir = try TemporaryDirectory("host-mountpoint")
        let yaml = """
            - local_loop: {name: image0, size: 200MiB}
            - partitioning:
                base: image0
                label: gpt
                partitions:
                  - {name: ESP, type: 'EF00', size: 40MiB, mkfs: {type: vfat, mount: {mount_point: /boot/efi}}}
                  - {name: data, type: '8300', size: 60MiB, mkfs: {type: ext4, label: data, mount: {mount_point: /srv}}}
                  - {name: root, type: '8300', size: 100%, mkfs: {name: mkfs_root, mount: {mount_point: /}}}
            """
        try yaml.write(toFile: dir.file("bd.yaml"), atomically: true, encoding: .utf8)
        let r = try sh(
            """
            cd '\(dir.path)'
            mkdir -p host tree/etc tree/srv tree/boot/efi && echo host-secret > host/secret
            rmdir tree\(point) && ln -s "$PWD/host" tree\(point)
            '\(stampBinary)' pack tree -o out -t raw --block-device-config bd.yaml --no-bootloader > pack.stdout 2> pack.stderr
            echo "exit $?"
            cat pack.stderr
            ls
            """)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first != "exit 0", "\(r.output)")
        let errors = lines.filter { $0.hasPrefix("stamp: ") }
        #expect(
            errors.count == 1
                && errors[0].contains("tree\(point): mount point \(point) in the block-device config is a symlink in the tree"),
            "\(r.output)")
        #expect(!lines.contains { $0.hasPrefix("out.") }, "\(r.output)")
    }

    /// A registry that sends one byte every 0.9 s: `stamp pack docker://…` gives up in one
    /// line once the average rate over the window (5 s here, STAMP_REGISTRY_RATE_WINDOW) is
    /// under 1 KiB/s, instead of waiting forever; no scratch is left.
    @Test(.enabled(if: toolAvailable("python3"))) func aDrippingRegistryIsGivenUpOn() throws {
        let dir = try TemporaryDirectory("host-drip")
        let r = try sh(
            """
            cd '\(dir.path)' && mkdir scratch
            python3 '\(repositoryRoot)/Tests/tools/oci/slow_server.py' > port & server=$!
            for i in $(seq 50); do [ -s port ] && break; sleep 0.1; done
            STAMP_REGISTRY_RATE_WINDOW=5 TMPDIR="$PWD/scratch" timeout 60 '\(stampBinary)' pack "docker://127.0.0.1:$(cat port)/x:latest" \\
              --plain-http -o out -t raw --layout none > pack.log 2>&1
            echo "exit $?"
            kill $server
            cat pack.log; echo "left: $(ls -A scratch)"
            """)
        #expect(r.stdout.contains("exit 1\n"), "\(r.output)")
        #expect(r.stdout.contains("Less than 1024 bytes/sec"), "\(r.output)")
        #expect(r.stdout.contains("left: \n"), "\(r.output)")
    }

    /// `stamp pack` of a zstd bomb with `--max-expanded 64M`: one line naming the layer and
    /// the limit, non-zero exit, no output and no scratch left.
    @Test(.enabled(if: toolAvailable("python3") && toolAvailable("zstd"))) func aDecompressionBombIsRefused() throws {
        let dir = try TemporaryDirectory("host-bomb")
        let r = try sh(
            """
            cd '\(dir.path)' && mkdir scratch
            python3 '\(Self.fixture)' layout zstd-bomb > digest
            TMPDIR="$PWD/scratch" '\(stampBinary)' pack oci:layout -o out -t raw --layout none --max-expanded 64M > pack.stdout 2> pack.stderr
            echo "exit $?"; cat pack.stderr; echo "left: $(ls -A scratch) $(ls | grep '^out' || true)"
            """)
        #expect(r.stdout.contains("exit 1\n"), "\(r.output)")
        let errors = r.stdout.split(separator: "\n").filter { $0.hasPrefix("stamp: ") }
        #expect(
            errors.count == 1 && errors[0].contains("layer 0 sha256:") && errors[0].contains("expands past the limit of 64 MiB"),
            "\(r.output)")
        #expect(r.stdout.contains("left:  \n"), "\(r.output)")
    }
}
