import Foundation
import Testing

import StampTestSupport

/// Issue 10's bad-input catalogue (docs/bad-input.md): each case runs the real `stamp` or
/// `disk-image-create` on one bad input and requires exactly one line on stderr, containing a
/// needle that names the path, option, variable or element at fault; the expected non-zero
/// exit status; and nothing new anywhere under the case's directory (no output under a final
/// name, no temporary file, no work directory), only what the case's setup made itself.
///
/// Both executables log to stdout (DIB's `timestamp | message` lines); stderr carries only the
/// error line, so the strict reading holds: the whole of stderr is that one line.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary)))
struct BadInputTests {
    enum Tool: Sendable { case stamp, dib }

    /// One bad input. In `arguments`, `environment`, `setup` and `needle`, `$D` is the case's
    /// directory, which holds `src/` (a small tree), `out/` (an empty output directory),
    /// `tmp/` (TMPDIR) and `cache/` (DIB_IMAGE_CACHE) before `setup` runs.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var tool: Tool
        var arguments: [String]
        var needle: String
        var exit: Int32 = 1
        var environment: [String: String] = [:]
        /// Variables removed from the command's environment (`env -u`).
        var unset: [String] = []
        /// Words before the executable (`setpriv --reuid=65534 …`).
        var wrapper: [String] = []
        /// bash, run in `$D` before the command (mounts, corrupt files); `$STAMP`, `$DIB`,
        /// `$FIXTURES` are set.
        var setup = ""
        /// bash, always run afterwards (unmounts).
        var teardown = ""
        /// Root (mounts, chroot builds, setpriv); CI runs as root, so these run there.
        var needsRoot = false
        /// The fake-os fixture: a busybox-static root, no network.
        var needsBusybox = false
        var testDescription: String { name }
    }

    /// `disk-image-create` beside ``stampBinary`` (scripts/test builds both in release), else
    /// the debug build.
    static var dibBinary: String {
        let beside = (stampBinary as NSString).deletingLastPathComponent + "/disk-image-create"
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : repositoryRoot + "/.build/debug/disk-image-create"
    }
    static let fixtures = repositoryRoot + "/Tests/StampElementsTests/Fixtures/elements"
    static var canRunElements: Bool {
        isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && toolAvailable("unshare")
            && toolAvailable("setpriv")
    }

    /// An element whose install.d script kills its own shell with SIGKILL.
    static let killer = """
        mkdir -p els/killer/install.d
        printf '#!/bin/sh\\necho about to die\\nkill -9 $$\\n' > els/killer/install.d/50-kill
        chmod +x els/killer/install.d/50-kill
        """
    /// A 2 MiB tmpfs at `$D/full` (a tree of 5 MB of random data does not fit).
    static let fullDisk = "mkdir full && mount -t tmpfs -o size=2m stamp-full full && head -c 5000000 /dev/urandom > src/blob"
    /// A read-only tmpfs at `$D/ro`.
    static let readOnly = "mkdir ro && mount -t tmpfs -o size=1m,ro stamp-ro ro"
    /// A PATH with every host command except the named ones.
    static func pathWithout(_ tools: [String]) -> String {
        """
        mkdir bin
        for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
            for f in "$d"/*; do
                n=${f##*/}
                case " \(tools.joined(separator: " ")) " in *" $n "*) continue ;; esac
                [ -e "bin/$n" ] || ln -s "$f" "bin/$n"
            done
        done
        """
    }
    /// Images for the container cases: `good.qcow2`, `good.vmdk` (monolithicSparse), `good.vhd`
    /// (dynamic), written by stamp itself.
    static let images = """
        "$STAMP" pack src -o good -t qcow2,vmdk-sparse,vhd --layout mbr --no-bootloader >/dev/null
        """
    /// Writes `bytes` (printf escapes) at `offset` into `file`.
    static func patch(_ file: String, at offset: Int, _ bytes: String) -> String {
        "printf '\(bytes)' | dd of=\(file) bs=1 seek=\(offset) conv=notrunc status=none"
    }
    static let dibBase = ["-n", "-t", "raw", "-o", "$D/out/img"]

    static let cases: [Case] = [
        // Output side: full disk, read-only filesystem, missing or wrong output paths.
        Case(
            name: "mkfs output on a full disk", tool: .stamp, arguments: ["mkfs", "$D/src", "$D/full/root.ext4"],
            needle: "$D/full/root.ext4: write: no space left on device", setup: fullDisk, teardown: "umount full",
            needsRoot: true),
        Case(
            name: "pack output on a full disk", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/full/disk", "-t", "raw", "--no-bootloader"],
            needle: "$D/full/disk.raw: write: no space left on device", setup: fullDisk, teardown: "umount full",
            needsRoot: true),
        Case(
            name: "disk-image-create output on a full disk", tool: .dib,
            arguments: ["-n", "-t", "raw", "-o", "$D/full/img", "fake-os"],
            needle: "$D/full/img.raw: write: no space left on device",
            setup: "mkdir full && mount -t tmpfs -o size=2m stamp-full full", teardown: "umount full",
            needsRoot: true, needsBusybox: true),
        Case(
            name: "mkfs output on a read-only filesystem", tool: .stamp, arguments: ["mkfs", "$D/src", "$D/ro/root.ext4"],
            needle: "$D/ro/root.ext4: create: read-only file system", setup: readOnly, teardown: "umount ro",
            needsRoot: true),
        Case(
            name: "pack output on a read-only filesystem", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/ro/disk", "-t", "qcow2", "--no-bootloader"],
            needle: "$D/ro: output directory: read-only file system", setup: readOnly, teardown: "umount ro",
            needsRoot: true),
        Case(
            name: "convert output on a read-only filesystem", tool: .stamp,
            arguments: ["convert", "$D/good.qcow2", "-O", "raw", "$D/ro/disk.raw"],
            needle: "$D/ro/disk.raw: create: read-only file system", setup: images + "\n" + readOnly, teardown: "umount ro",
            needsRoot: true),
        Case(
            name: "pack output directory missing", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/missing/disk", "-t", "raw"],
            needle: "$D/missing: output directory: no such file or directory"),
        Case(
            name: "disk-image-create output directory missing", tool: .dib,
            arguments: ["-n", "-t", "raw", "-o", "$D/missing/img", "fake-os"],
            needle: "$D/missing: output directory: no such file or directory"),
        Case(
            name: "disk-image-create --logfile in a missing directory", tool: .dib,
            arguments: ["-n", "-t", "raw", "--logfile", "$D/nolog/build.log", "-o", "$D/out/img", "fake-os"],
            needle: "--logfile $D/nolog/build.log: no such file or directory"),
        Case(
            name: "mkfs output is an existing directory", tool: .stamp, arguments: ["mkfs", "$D/src", "$D/out"],
            needle: "$D/out: output is an existing directory", exit: 2),
        Case(
            name: "pack output is an existing directory", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/out/disk", "-t", "raw"],
            needle: "$D/out/disk.raw: output is an existing directory", exit: 2, setup: "mkdir out/disk.raw"),
        Case(
            name: "disk-image-create output is an existing directory", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "$D/out/img.raw: output is an existing directory", setup: "mkdir out/img.raw"),
        Case(
            name: "mkfs output inside the tree", tool: .stamp, arguments: ["mkfs", "$D/src", "$D/src/root.ext4"],
            needle: "$D/src/root.ext4: output is inside the tree", exit: 2),
        Case(
            name: "pack output inside the tree", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/src/sub/disk", "-t", "raw"],
            needle: "$D/src/sub/disk.raw: output is inside the tree", exit: 2, setup: "mkdir src/sub"),

        // Input images: empty, truncated, bad magic behind a valid one, tables past the end.
        Case(
            name: "inspect an empty input image", tool: .stamp, arguments: ["inspect", "$D/empty.qcow2"],
            needle: "$D/empty.qcow2: the file is empty (0 bytes)", exit: 2, setup: ": > empty.qcow2"),
        Case(
            name: "convert an empty input image", tool: .stamp,
            arguments: ["convert", "$D/empty.vmdk", "-O", "raw", "$D/out/x.raw"],
            needle: "$D/empty.vmdk: the file is empty (0 bytes)", exit: 2, setup: ": > empty.vmdk"),
        Case(
            name: "qcow2 truncated inside its header", tool: .stamp,
            arguments: ["convert", "$D/cut.qcow2", "-O", "raw", "$D/out/x.raw"],
            needle: "$D/cut.qcow2: truncated: needs 104 bytes at offset 0 but the file has 100",
            setup: images + "\nhead -c 100 good.qcow2 > cut.qcow2"),
        Case(
            name: "qcow2 with a valid magic and version 99", tool: .stamp, arguments: ["inspect", "$D/good.qcow2"],
            needle: "$D/good.qcow2: unsupported: qcow2 version 99",
            setup: images + "\n" + patch("good.qcow2", at: 4, "\\x00\\x00\\x00\\x63")),
        Case(
            name: "qcow2 L1 table offset beyond the end", tool: .stamp,
            arguments: ["convert", "$D/good.qcow2", "-O", "vmdk", "$D/out/x.vmdk"],
            needle: "$D/good.qcow2: table entry at offset 40 points to 545460846592, past the end of the file",
            setup: images + "\n" + patch("good.qcow2", at: 40, "\\x00\\x00\\x00\\x7f\\x00\\x00\\x00\\x00")),
        Case(
            name: "vmdk truncated inside its header", tool: .stamp, arguments: ["inspect", "$D/cut.vmdk"],
            needle: "$D/cut.vmdk: truncated: needs 512 bytes at offset 0 but the file has 300",
            setup: images + "\nhead -c 300 good.vmdk > cut.vmdk"),
        Case(
            name: "vmdk grain directory beyond the end", tool: .stamp,
            arguments: ["convert", "$D/good.vmdk", "-O", "qcow2", "$D/out/x.qcow2"],
            needle: "$D/good.vmdk: table entry at offset 56 points to 536870912",  // gdOffset 2^20 sectors
            setup: images + "\n" + patch("good.vmdk", at: 56, "\\x00\\x00\\x10\\x00\\x00\\x00\\x00\\x00")),
        Case(
            name: "vhd whose footer is gone (copy at offset 0 intact)", tool: .stamp,
            arguments: ["convert", "$D/good.vhd", "-O", "raw", "$D/out/x.raw"],
            needle: "$D/good.vhd: truncated: needs 512 bytes at offset",
            setup: images
                + "\ns=$(stat -c %s good.vhd); printf notavhd! | dd of=good.vhd bs=1 seek=$((s - 512)) conv=notrunc status=none"),
        Case(
            name: "vhd dynamic header with a bad cookie behind a valid footer", tool: .stamp,
            arguments: ["inspect", "$D/good.vhd"],
            needle: "$D/good.vhd: not a dynamic vhd image (bad magic at offset 512)",
            setup: images + "\n" + patch("good.vhd", at: 512, "XXXXXXXX")),
        Case(
            name: "convert from a pipe", tool: .stamp, arguments: ["convert", "$D/pipe", "-O", "raw", "$D/out/x.raw"],
            needle: "$D/pipe: unsupported: an input that is neither a regular file nor a block device", setup: "mkfifo pipe"),
        Case(
            name: "convert a VHDX image", tool: .stamp, arguments: ["convert", "$D/x.vhdx", "-O", "qcow2", "$D/out/x.qcow2"],
            needle: "$D/x.vhdx: unsupported: a VHDX image (stamp reads raw, qcow2, vmdk and vhd: convert it to one of them first",
            setup: "printf vhdxfile > x.vhdx; truncate -s 1M x.vhdx"),
        Case(
            name: "pack --block-device-config mounting /..", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/out/disk", "-t", "raw", "--block-device-config", "$D/up.yaml"],
            needle: "'mount_point' is '/..', expected a normalized absolute path (no '.', '..', '//' or trailing '/')",
            exit: 2,
            setup: """
                printf -- '- local_loop:\n    name: image0\n- partitioning:\n    base: image0\n    label: mbr\n    partitions:\n      - name: root\n        flags: [boot, primary]\n        size: 100%%\n        mkfs:\n          type: ext4\n          mount:\n            mount_point: /\n            fstab: {}\n      - name: up\n        size: 10MiB\n        mkfs:\n          type: ext4\n          mount:\n            mount_point: /..\n' > up.yaml
                """),
        Case(
            name: "pack --ovf-config with a disk of 2^24 TB", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/out/vm", "-t", "ova", "--no-bootloader", "--ovf-config", "$D/huge.yaml"],
            needle: "hardware.e.disk_capacity: 16777216 byte * 2^40 is larger than any disk",
            setup:
                "printf 'system: {name: vm}\nhardware:\n  s: {type: sata_controller}\n  d: {type: hard_disk, parent: s}\n  e: {type: hard_disk, parent: s, disk_capacity: 16777216, units: TB}\n' > huge.yaml"
        ),
        Case(
            name: "pack --block-device-config with a YAML syntax error", tool: .stamp,
            arguments: ["pack", "$D/src", "-o", "$D/out/disk", "-t", "raw", "--block-device-config", "$D/bad.yaml"],
            needle:
                "$D/bad.yaml: block-device config: line 3, column 3: while parsing a block mapping: did not find expected key",
            exit: 2, setup: "printf -- '- local_loop:\\n    name: image0\\n  - bad: [\\n' > bad.yaml"),

        // disk-image-create: unusable HOME and TMPDIR.
        Case(
            name: "HOME=/nonexistent", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "HOME (the image cache's default parent; or set DIB_IMAGE_CACHE) /nonexistent: does not exist",
            environment: ["HOME": "/nonexistent"], unset: ["DIB_IMAGE_CACHE"]),
        Case(
            name: "HOME on a read-only filesystem", tool: .dib, arguments: dibBase + ["fake-os"],
            needle:
                "image cache (DIB_IMAGE_CACHE, else $HOME/.cache/image-create) $D/ro/.cache/image-create: $D/ro is not writable: read-only file system",
            environment: ["HOME": "$D/ro"], unset: ["DIB_IMAGE_CACHE"], setup: readOnly, teardown: "umount ro", needsRoot: true),
        Case(
            name: "TMPDIR does not exist", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "build directory (TMPDIR) $D/no-such-tmp: does not exist", environment: ["TMPDIR": "$D/no-such-tmp"]),
        Case(
            name: "TMPDIR on a read-only filesystem", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "build directory (TMPDIR) $D/ro: is not writable: read-only file system",
            environment: ["TMPDIR": "$D/ro"], setup: readOnly, teardown: "umount ro", needsRoot: true),
        Case(
            name: "TMPDIR is a file", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "build directory (TMPDIR) $D/src/f1: is not a directory", environment: ["TMPDIR": "$D/src/f1"]),

        // disk-image-create: invalid values of variables and options.
        Case(
            name: "DIB_IMAGE_SIZE=abc", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "invalid DIB_IMAGE_SIZE 'abc': expected a number of GiB", environment: ["DIB_IMAGE_SIZE": "abc"]),
        Case(
            name: "DIB_JOURNAL_SIZE=1", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "invalid DIB_JOURNAL_SIZE '1': expected a whole number of MiB from 4 to 10240",
            environment: ["DIB_JOURNAL_SIZE": "1"]),
        Case(
            name: "DIB_IMAGE_EXTRA_SIZE=-1", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "invalid DIB_IMAGE_EXTRA_SIZE '-1': expected a number of MiB", environment: ["DIB_IMAGE_EXTRA_SIZE": "-1"]),
        Case(
            name: "unknown -t format", tool: .dib, arguments: ["-n", "-t", "raw,floppy", "-o", "$D/out/img", "fake-os"],
            needle: "unknown image format 'floppy'"),
        Case(
            name: "unrecognized option", tool: .dib, arguments: ["--frobnicate"] + dibBase + ["fake-os"],
            needle: "unrecognized option '--frobnicate'"),
        Case(
            name: "--mkfs-options -N 5", tool: .dib, arguments: ["--mkfs-options", "-N 5"] + dibBase + ["fake-os"],
            needle: "--mkfs-options -N 5: stamp cannot set the inode count"),
        Case(
            name: "--max-online-resize garbage", tool: .dib,
            arguments: ["--max-online-resize", "garbage"] + dibBase + ["fake-os"],
            needle: "invalid value 'garbage' for --max-online-resize: expected a number"),
        Case(
            name: "--qemu-img-options compat=9", tool: .dib,
            arguments: ["--qemu-img-options", "compat=9"] + dibBase + ["fake-os"],
            needle: "invalid value 'compat=9' for --qemu-img-options"),
        Case(
            name: "DIB_BLOCK_DEVICE_CONFIG with a YAML syntax error", tool: .dib, arguments: dibBase + ["fake-os"],
            needle:
                "DIB_BLOCK_DEVICE_CONFIG: invalid block-device configuration: line 3, column 3: while parsing a block mapping: did not find expected key",
            environment: ["DIB_BLOCK_DEVICE_CONFIG": "- local_loop:\n    name: image0\n  - bad: [\n"]),
        Case(
            name: "DIB_BLOCK_DEVICE_CONFIG=file:// a missing file", tool: .dib, arguments: dibBase + ["fake-os"],
            needle:
                "DIB_BLOCK_DEVICE_CONFIG file $D/none.yaml: invalid block-device configuration: cannot read it: no such file or directory",
            environment: ["DIB_BLOCK_DEVICE_CONFIG": "file://$D/none.yaml"]),

        // disk-image-create: elements.
        Case(
            name: "ELEMENTS_PATH entry is a broken symlink", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "elements directory $D/els-link is a broken symbolic link (to $D/nowhere)",
            environment: ["ELEMENTS_PATH": "\(fixtures):$D/els-link"], setup: "ln -s \"$D/nowhere\" els-link"),
        Case(
            name: "missing element", tool: .dib, arguments: dibBase + ["fake-os", "no-such-element"],
            needle: "element 'no-such-element' not found"),
        Case(
            name: "element-deps is a directory", tool: .dib, arguments: dibBase + ["fake-os", "depsdir"],
            needle: "element 'depsdir': invalid element-deps: is not a regular file",
            environment: ["ELEMENTS_PATH": "\(fixtures):$D/els"], setup: "mkdir -p els/depsdir/element-deps"),
        Case(
            name: "element-deps is not UTF-8", tool: .dib, arguments: dibBase + ["fake-os", "badutf"],
            needle: "element 'badutf': invalid element-deps: is not UTF-8 text",
            environment: ["ELEMENTS_PATH": "\(fixtures):$D/els"],
            setup: "mkdir -p els/badutf; printf 'fake-os\\n\\xff\\xfe\\n' > els/badutf/element-deps"),

        // disk-image-create: host tools, privileges, killed scripts, the base cache.
        Case(
            name: "PATH without unshare and chroot", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "2 problems: required host tool 'unshare' not found in PATH; required host tool 'chroot' not found in PATH",
            environment: ["PATH": "$D/bin"], setup: pathWithout(["unshare", "chroot"])),
        Case(
            name: "PATH without debootstrap and mmdebstrap", tool: .dib, arguments: dibBase + ["debian-minimal"],
            needle:
                "script 08-debootstrap of element 'debootstrap' failed in root.d with exit code 1: required host tool 'debootstrap' not found in PATH",
            environment: ["PATH": "$D/bin", "ELEMENTS_PATH": ""], setup: pathWithout(["debootstrap", "mmdebstrap"]),
            needsRoot: true),
        // Issue 11: a non-root build needs a subordinate range (nobody has none; uid 54321 has no name).
        Case(
            name: "element build as a non-root user", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "user nobody (uid 65534) has no subordinate uid range in /etc/subuid: add a line such as 'nobody:",
            environment: ["HOME": "$D", "TMPDIR": "$D/tmp"],
            wrapper: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
            setup: "chmod 755 \"$D\"; chown -R 65534:65534 out tmp cache", needsRoot: true),
        Case(
            name: "element build as a uid without a user name", tool: .dib, arguments: dibBase + ["fake-os"],
            needle: "uid 54321 (no user name) has no subordinate uid range in /etc/subuid: add a line such as '54321:",
            environment: ["HOME": "$D", "TMPDIR": "$D/tmp"],
            wrapper: ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups"],
            setup:
                "if getent passwd 54321; then echo uid 54321 is taken; exit 1; fi; chmod 755 \"$D\"; chown -R 54321:54321 out tmp cache",
            needsRoot: true),
        Case(
            name: "element script killed with SIGKILL", tool: .dib, arguments: dibBase + ["fake-os", "killer"],
            needle: "script 50-kill of element 'killer' was killed by signal KILL in install.d (exit code 137)",
            environment: ["ELEMENTS_PATH": "\(fixtures):$D/els"], setup: killer, needsRoot: true, needsBusybox: true),
        Case(
            name: "offline build without a cached base", tool: .dib, arguments: ["--offline"] + dibBase + ["debian-minimal"],
            needle:
                "script 08-debootstrap of element 'debootstrap' failed in root.d with exit code 1: offline build but no cached base system at $D/cache/debootstrap/debian-bookworm-",
            environment: ["ELEMENTS_PATH": "", "DIB_RELEASE": "bookworm"], needsRoot: true),
        Case(
            name: "corrupt cached base, offline", tool: .dib, arguments: ["--offline"] + dibBase + ["debian-minimal"],
            needle: "failed in root.d with exit code 1: cached base system $D/cache/debootstrap/debian-bookworm-",
            environment: ["ELEMENTS_PATH": "", "DIB_RELEASE": "bookworm"],
            setup: """
                # The cache's name (a hash of the bootstrap's inputs) is what an offline run asks for.
                cached=$(ELEMENTS_PATH= DIB_RELEASE=bookworm TMPDIR="$D/tmp" DIB_IMAGE_CACHE="$D/cache" \
                    "$DIB" --offline -n -t raw -o "$D/out/img" debian-minimal 2>&1 >/dev/null | grep -o '/[^ ]*\\.tar\\.[a-z]*$')
                mkdir -p "${cached%/*}" && head -c 5000 /dev/urandom > "$cached"
                """,
            needsRoot: true),
    ]

    @Test(arguments: cases.filter { !$0.needsRoot && !$0.needsBusybox })
    func endsInOneLineNamingTheProblem(_ c: Case) throws {
        try check(c)
    }

    /// Mounts (full and read-only filesystems), setpriv, chroot builds: root only.
    @Test(.enabled(if: getuid() == 0, "needs root"), arguments: cases.filter { $0.needsRoot && !$0.needsBusybox })
    func asRootEndsInOneLineNamingTheProblem(_ c: Case) throws {
        try check(c)
    }

    /// Builds of the busybox-static fake-os fixture (ChrootBuildTests' elements).
    @Test(
        .enabled(if: BadInputTests.canRunElements, "needs root, unshare, setpriv and /bin/busybox"),
        arguments: cases.filter(\.needsBusybox))
    func elementBuildEndsInOneLineNamingTheProblem(_ c: Case) throws {
        try check(c)
    }

    func check(_ c: Case) throws {
        if c.tool == .dib { try #require(FileManager.default.isExecutableFile(atPath: Self.dibBinary), "no \(Self.dibBinary)") }
        let dir = try TemporaryDirectory("stamp-bad-input")
        func expand(_ s: String) -> String { s.replacingOccurrences(of: "$D", with: dir.path) }
        try sh("set -e; cd \(dir.path); mkdir src out tmp cache; for i in $(seq 1 30); do echo $i > src/f$i; done")
        let shellEnvironment = ["D": dir.path, "STAMP": stampBinary, "DIB": Self.dibBinary, "FIXTURES": Self.fixtures]
        defer {
            if !c.teardown.isEmpty { _ = try? sh("cd \(dir.path); \(c.teardown)") }
        }
        if !c.setup.isEmpty {
            let setup = try sh("set -e; cd \(dir.path)\n\(c.setup)", environment: shellEnvironment)
            try #require(setup.status == 0, "\(c.name): setup failed: \(setup.output)")
        }
        let before = try Self.entries(dir.path)

        var environment = ["TMPDIR": dir.file("tmp"), "DIB_IMAGE_CACHE": dir.file("cache")]
        if c.tool == .dib { environment["ELEMENTS_PATH"] = Self.fixtures }
        for (key, value) in c.environment { environment[key] = expand(value) }
        let binary = c.tool == .stamp ? stampBinary : Self.dibBinary
        let unset = c.unset.flatMap { ["-u", $0] } + environment.filter { $0.value.isEmpty }.keys.flatMap { ["-u", $0] }
        let r = try run(
            unset + c.wrapper + [binary] + c.arguments.map(expand),
            environment: environment.filter { !$0.value.isEmpty })

        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(r.stderr.hasSuffix("\n") && lines.count == 1, "\(c.name): stderr is not one line: \(r.stderr)")
        #expect(r.status == c.exit, "\(c.name): exit \(r.status), expected \(c.exit): \(r.stderr)")
        #expect(
            r.stderr.contains(expand(c.needle)), "\(c.name): \(r.stderr.isEmpty ? r.stdout.suffix(2000) : Substring(r.stderr))")
        let prefix = c.tool == .stamp ? "stamp: " : "disk-image-create: "
        #expect(r.stderr.hasPrefix(prefix), "\(c.name): \(r.stderr)")
        let added = try Self.entries(dir.path).subtracting(before)
        #expect(added.isEmpty, "\(c.name) left \(added.sorted())")
    }

    /// Every path under `root`, relative to it (not following symbolic links).
    static func entries(_ root: String) throws -> Set<String> {
        let r = try run(["find", root, "-mindepth", "1", "-printf", "%P\\n"])
        return Set(r.stdout.split(separator: "\n").map(String.init))
    }
}
