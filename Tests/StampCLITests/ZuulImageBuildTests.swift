import Foundation
import Testing

import StampTestSupport

/// What a Zuul image-build job does with `disk-image-create` (issue 22), replayed against
/// stamp's: zuul-jobs' `build-diskimage` role, then what its `upload-image-swift` and
/// `upload-image-s3` roles do to the files before they upload them.
///
/// `build-diskimage` (roles/build-diskimage/tasks/main.yaml) makes the image root, then runs
/// through Ansible's `command` module, in the image root as working directory, with the job's
/// `build_diskimage_environment` added to its own:
///
///     DIB -o ROOT/NAME -t FMT,FMT,… --logfile LOGS/diskimage-NAME.log ELEMENT…
///
/// where ROOT is `~/dib-images` and LOGS `~/zuul-output/logs` (Zuul makes the latter). With
/// `--logfile` and no `DIB_QUIET` the build writes only to the log. The upload roles then take
/// the SHA-256 and MD5 of `ROOT/NAME.FMT` (Ansible's `stat` with `checksum_algorithm`),
/// compress raw and vhd with `zstd FILE` (which keeps FILE and writes FILE.zst), upload
/// FILE.zst and remove FILE. Here the sums are checked against the build's own `.sha256` and
/// `.md5` files, and the `.zst` files decompress to the same bytes.
///
/// Root, network (the Debian mirror) and a minute or two: STAMP_NETWORK_TESTS=1 (the network
/// phase). The base system comes from the run's shared cache (``sharedImageCache(fallback:)``).
@Suite(
    .serialized,
    .enabled(
        if: isRoot && networkTestsEnabled && toolAvailable("zstd") && toolAvailable("qemu-img"),
        "needs root, STAMP_NETWORK_TESTS, zstd and qemu-img"))
struct ZuulImageBuildTests {
    static let work = "/var/tmp/stamp-zuul-replay"

    @Test func buildDiskimageRoleThenUploadRoles() throws {
        let home = Self.work + "/home"
        _ = try run(["rm", "-rf", "--one-file-system", home])
        let name = "debian-bookworm"
        let root = home + "/dib-images"
        let logs = home + "/zuul-output/logs"
        let formats = ["qcow2", "raw", "vhd"]
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)  // Zuul's
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)  // the role's first task
        try FileManager.default.createDirectory(atPath: Self.work + "/tmp", withIntermediateDirectories: true)
        // build_diskimage_environment: what an image-build job sets, and the test's caches.
        let environment = [
            "HOME": home, "DIB_RELEASE": "bookworm", "DIB_CHECKSUM": "1",
            "DIB_IMAGE_CACHE": sharedImageCache(fallback: Self.work + "/cache"), "TMPDIR": Self.work + "/tmp",
            "ELEMENTS_PATH": repositoryRoot + "/Tests/StampCLITests/Fixtures/elements", "STAMP_REPO": repositoryRoot,
        ]
        let log = "\(logs)/diskimage-\(name).log"
        let argv = [
            dibBinary, "-o", "\(root)/\(name)", "-t", formats.joined(separator: ","), "--logfile", log, "debian-minimal", "vm",
        ]
        // Ansible's command module: chdir, then the argv; nothing on stdin.
        let script = "cd \"$1\" && shift && exec \"$@\""
        let r = try run(["bash", "-c", script, "chdir", root] + argv, environment: environment)
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(r.status == 0, "\(r.output.suffix(2000)) log: \(logText.suffix(3000))")
        // DIB with --logfile and DIB_QUIET unset: one line on stdout, everything in the log.
        #expect(r.stdout == "Output logs going to: \(log)\n", "\(r.stdout.prefix(2000))")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(logText.hasSuffix("| Build completed successfully\n"), "\(logText.suffix(500))")
        let listing = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        let expected = (formats.flatMap { ["\(name).\($0)", "\(name).\($0).md5", "\(name).\($0).sha256"] } + ["\(name).d"])
            .sorted()
        #expect(listing == expected, "\(listing)")
        // The images are what they say (qemu-img reads each; the converted ones hold the raw disk).
        for (format, driver) in [("qcow2", "qcow2"), ("vhd", "vpc")] {
            let compare = try run([
                "qemu-img", "compare", "-f", "raw", "-F", driver, "\(root)/\(name).raw", "\(root)/\(name).\(format)",
            ])
            #expect(compare.status == 0, "\(format): \(compare.output)")
        }

        // upload-image-*: the hashes Zuul records, the compression, the removal.
        for format in formats {
            let file = "\(root)/\(name).\(format)"
            let sums = try run([
                "python3", "-c",
                "import hashlib, sys\nfor a in ('sha256', 'md5'):\n    h = hashlib.new(a)\n    with open(sys.argv[1], 'rb') as f:\n        for b in iter(lambda: f.read(1 << 20), b''):\n            h.update(b)\n    print(h.hexdigest())",
                file,
            ]).stdout.split(separator: "\n").map(String.init)
            let sidecars = try ["sha256", "md5"].map { algorithm in
                try String(contentsOfFile: "\(file).\(algorithm)", encoding: .utf8)
            }
            // The sidecars read as sha256sum and md5sum write them: `HASH  NAME.FMT`.
            #expect(sidecars == sums.map { "\($0)  \(name).\(format)\n" }, "\(format): \(sidecars) vs \(sums)")
            guard ["raw", "vhd"].contains(format) else { continue }
            let zstd = try run(["bash", "-c", "cd \"$1\" && zstd -q \"$2\"", "chdir", root, file])
            #expect(zstd.status == 0, "\(zstd.output)")
            let unpacked = try sh("zstd -dc '\(file).zst' | sha256sum")
            #expect(unpacked.stdout.hasPrefix(sums[0] + " "), "\(format): \(unpacked.output)")
            try FileManager.default.removeItem(atPath: file)
        }
        let after = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(
            after.contains("\(name).raw.zst") && after.contains("\(name).vhd.zst") && !after.contains("\(name).raw"), "\(after)")
    }
}
