import Foundation
import StampTestSupport
import Testing
@testable import StampElements

/// diskimage-builder's own elements (the PyPI `diskimage-builder` wheel, its `elements`
/// directory first on ELEMENTS_PATH) build `debian-minimal vm` with stamp's engine.
/// Root, network (PyPI and the Debian mirror) and minutes: STAMP_NETWORK_TESTS=1.
/// STAMP_UPSTREAM_DIB_VERSION pins the wheel (default: the newest on PyPI).
@Suite(.serialized, .enabled(if: networkTestsEnabled && Fixtures.isRoot))
struct UpstreamElementsTests {
    static let work = URL(fileURLWithPath: "/var/tmp/stamp-upstream-dib")

    /// Runs a command with its output in `log`; returns the exit status. stamp's binaries run
    /// under a login shell's open-files limit (``withOpenFilesLimit(_:_:)``).
    static func run(_ argv: [String], environment: [String: String]? = nil, log: URL) throws -> Int32 {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = withOpenFilesLimit(argv, .automatic)
        if let environment { process.environment = environment }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    /// Downloads the wheel and unpacks it keeping the executable bits of the element scripts
    /// (Python's `zipfile` drops them; a wheel keeps them in the external attributes).
    static func upstreamElements() throws -> URL {
        let fm = FileManager.default
        let download = work.appendingPathComponent("download")
        let unpacked = work.appendingPathComponent("unpacked")
        try? fm.removeItem(at: download)
        try? fm.removeItem(at: unpacked)
        try fm.createDirectory(at: download, withIntermediateDirectories: true)
        let version = ProcessInfo.processInfo.environment["STAMP_UPSTREAM_DIB_VERSION"].map { "==\($0)" } ?? ""
        let log = work.appendingPathComponent("pip.log")
        let pip = try run(
            [
                "python3", "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                "-d", download.path, "diskimage-builder\(version)",
            ], log: log)
        try #require(pip == 0, "pip download failed: \(text(log).suffix(2000))")
        let wheel = try #require(try fm.contentsOfDirectory(atPath: download.path).first { $0.hasSuffix(".whl") })
        let unzip = """
            import os, sys, zipfile
            with zipfile.ZipFile(sys.argv[1]) as z:
                for info in z.infolist():
                    path = z.extract(info, sys.argv[2])
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(path, mode)
            """
        let status = try run(["python3", "-c", unzip, download.appendingPathComponent(wheel).path, unpacked.path], log: log)
        try #require(status == 0, "unpacking \(wheel) failed: \(text(log).suffix(2000))")
        print("upstream elements from \(wheel)")
        return unpacked.appendingPathComponent("diskimage_builder/elements")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: ChrootBuildTests.binary.path)))
    func upstreamDebianMinimalVM() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: Self.work, withIntermediateDirectories: true)
        let elements = try Self.upstreamElements()
        #expect(
            fm.fileExists(atPath: elements.appendingPathComponent("debian-minimal/root.d/75-debian-minimal-baseinstall").path))
        let out = Self.work.appendingPathComponent("out/debian")
        try? fm.removeItem(at: out.deletingLastPathComponent())
        try fm.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        // An element of ours that registers sources with upstream's source-repositories
        // element: a file, a git repository and a tarball, all local (file://).
        let src = Self.work.appendingPathComponent("src").path
        let extra = Self.work.appendingPathComponent("extra-elements").path
        let made = try Self.run(
            [
                "bash", "-c",
                """
                set -e; rm -rf \(src) \(extra); mkdir -p \(src)/t/sub \(extra)/stamp-srcrepo
                echo from-a-file > \(src)/hello.txt
                git init -q -b main \(src)/repo && echo from-git > \(src)/repo/README
                git -C \(src)/repo -c user.name=stamp -c user.email=stamp@localhost add README
                git -C \(src)/repo -c user.name=stamp -c user.email=stamp@localhost commit -q -m one
                echo from-a-tarball > \(src)/t/sub/data.txt && tar -C \(src)/t -czf \(src)/bundle.tar.gz .
                echo source-repositories > \(extra)/stamp-srcrepo/element-deps
                printf '%s\\n' 'stamp-file file /opt/stamp-src/hello.txt file://\(src)/hello.txt' \\
                    'stamp-git git /opt/stamp-src/repo file://\(src)/repo main' \\
                    'stamp-tar tar /opt/stamp-src/bundle file://\(src)/bundle.tar.gz .' > \(extra)/stamp-srcrepo/source-repository-stamp-srcrepo
                """,
            ], log: Self.work.appendingPathComponent("src.log"))
        try #require(made == 0, "\(Self.text(Self.work.appendingPathComponent("src.log")))")
        var env = ProcessInfo.processInfo.environment
        env["ELEMENTS_PATH"] = elements.path + ":" + extra
        env["DIB_RELEASE"] = "bookworm"
        env["DIB_IMAGE_CACHE"] = Self.work.appendingPathComponent("cache").path
        env["TMPDIR"] = Self.work.path
        // Upstream's default security source is `http://security.debian.org/ bookworm-security`,
        // an alias some networks and proxies refuse (400 here); the canonical archive path:
        env["DIB_DEBIAN_SECURITY_MIRROR"] = env["DIB_DEBIAN_SECURITY_MIRROR"] ?? "http://security.debian.org/debian-security"
        let log = Self.work.appendingPathComponent("build.log")
        let start = ContinuousClock.now
        let status = try Self.run(
            [
                ChrootBuildTests.binary.path, "-x", "-t", "qcow2,raw", "--no-tmpfs", "-o", out.path, "debian-minimal", "vm",
                "stamp-srcrepo",
            ],
            environment: env, log: log)
        let output = Self.text(log)
        print("upstream debian-minimal vm build: \(ContinuousClock.now - start), exit \(status)")
        #expect(status == 0, "\(output.suffix(4000))")
        let lines = output.split(separator: "\n")
        #expect(lines.last?.hasSuffix("| Build completed successfully") == true, "last line: \(lines.last ?? "")")
        // The upstream elements were the ones used (they override the built-in ones)...
        #expect(output.contains("element \(elements.appendingPathComponent("debian-minimal").path) overrides"))
        #expect(output.contains("\(elements.path)/debootstrap") || output.contains("hooks/root.d/08-debootstrap"))
        // ...except the bootloader: stamp writes the boot code itself.
        #expect(output.contains("elements/bootloader is not used"))
        #expect(output.contains("hooks/extra-data.d/99-squash-package-install"))
        #expect(!output.contains("command not found"), "a helper upstream expects is missing")
        let qcow2 = out.path + ".qcow2"
        #expect(fm.fileExists(atPath: qcow2))
        let checkLog = Self.work.appendingPathComponent("check.log")
        let check = try Self.run(["qemu-img", "check", "-f", "qcow2", qcow2], log: checkLog)
        #expect(check == 0, "\(Self.text(checkLog))")
        #expect(Self.text(checkLog).contains("No errors were found"))
        #expect(fm.fileExists(atPath: out.path + ".d/dib-manifests/dib-manifest-dpkg-debian"))
        #expect(!fm.fileExists(atPath: out.path + ".d/dib-manifests/dib-manifests"), "manifests copied twice, nested")
        // source-repository-*: upstream's element fetched each source into the image.
        let raw = out.path + ".raw"
        let sectors = try Self.run(
            [
                "bash", "-c",
                "sfdisk --json \(raw) | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"partitiontable\"][\"partitions\"][0][\"start\"])' > \(Self.work.path)/start",
            ], log: checkLog)
        try #require(sectors == 0)
        let rootStart =
            Int(Self.text(Self.work.appendingPathComponent("start")).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        for (path, expected) in [
            ("/opt/stamp-src/hello.txt", "from-a-file"), ("/opt/stamp-src/repo/README", "from-git"),
            ("/opt/stamp-src/bundle/sub/data.txt", "from-a-tarball"),
        ] {
            let catLog = Self.work.appendingPathComponent("cat.log")
            _ = try Self.run(["debugfs", "-R", "cat \(path)", "\(raw)?offset=\(rootStart * 512)"], log: catLog)
            #expect(Self.text(catLog).contains(expected), "\(path) in the image: \(Self.text(catLog).suffix(500))")
        }
    }
}

/// The helpers upstream elements expect, without a build.
struct HostHelpersTests {
    static func bash(_ script: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("out")
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        let status = try UpstreamElementsTests.run(["bash", "-c", script], environment: env, log: log)
        return (status, UpstreamElementsTests.text(log))
    }

    /// dash drops the BASH_FUNC_ variables; BASH_ENV gives every bash script DIB's functions.
    @Test func bashEnvDefinesDIBFunctions() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(HostHelpers.bashFunctionsName)
        try HostHelpers.bashFunctions(elements: [("base", "/e/base"), ("odd", "/e/it's here")])
            .write(to: file, atomically: true, encoding: .utf8)
        let r = try Self.bash(
            #"sh -c 'bash -c "set -eu; eval declare -A e=(\$(get_image_element_array)); echo \"\${e[base]}|\${e[odd]}\"; (die boom) || echo died"'"#,
            environment: ["BASH_ENV": file.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("/e/base|/e/it's here"), "\(r.output)")
        #expect(r.output.contains("ERROR: boom") && r.output.contains("died"), "\(r.output)")
    }

    @Test func libAndSudo() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = WorkDirectory(url: dir)
        try HostHelpers.write(into: work)
        let lib = HostHelpers.lib(work).path
        let r = try Self.bash(
            """
            set -eu
            . "$_LIB/img-functions"
            mkdir -p "$T/boot"; touch "$T/boot/vmlinuz-6.1.0-9-amd64" "$T/boot/initrd.img-6.1.0-9-amd64" "$T/boot/vmlinuz-5.10.0-1-amd64"
            select_boot_kernel_initrd "$T"
            echo "K=$KERNEL R=$RAMDISK"
            "\(HostHelpers.helpers(work).path)/sudo" -E -H -u root echo sudo-ok
            export TMPDIR=/host-only LANG=C.UTF-8
            "\(HostHelpers.helpers(work).path)/sudo" env | grep -q '^TMPDIR=' && echo "TMPDIR kept without -E"
            "\(HostHelpers.helpers(work).path)/sudo" env | grep -qx 'LANG=C.UTF-8' && echo "LANG kept"
            "\(HostHelpers.helpers(work).path)/sudo" -E env | grep -qx 'TMPDIR=/host-only' && echo "TMPDIR kept with -E"
            type die mount_proc_dev_sys unmount_dir run_in_target >/dev/null
            """,
            environment: ["_LIB": lib, "T": dir.appendingPathComponent("t").path])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("K=vmlinuz-6.1.0-9-amd64 R=initrd.img-6.1.0-9-amd64"), "\(r.output)")
        #expect(r.output.contains("sudo-ok"), "\(r.output)")
        #expect(!r.output.contains("TMPDIR kept without -E") && r.output.contains("TMPDIR kept with -E"), "\(r.output)")
        #expect(r.output.contains("LANG kept"), "\(r.output)")
        #expect(
            FileManager.default.fileExists(
                atPath: HostHelpers.python(work).appendingPathComponent("diskimage_builder/logging_config.py").path))
    }
}
