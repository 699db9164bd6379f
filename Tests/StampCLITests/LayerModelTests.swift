import Foundation
import Testing

import StampTestSupport

/// `stamp pack IMAGE_REF` builds its tree model straight from the layers (issue 21): images
/// crafted by Tests/tools/oci/oci_fixture.py (Python's tarfile, independent of stamp) are
/// packed by an ordinary user (`nobody`, no /etc/subuid entry, no user namespace, no
/// capability in any set and no_new_privs, as an unprivileged pod runs) and the
/// ext4 they become is compared, through dissect.extfs (compare_tree.py), with the tree
/// `umoci unpack` makes of the same layout as root: types, modes, owners, ns mtimes, sizes,
/// contents, symlinks, device numbers, xattrs (capabilities, POSIX ACLs), link counts and
/// hard-link identity. strace shows what the pack did to the host.
@Suite(
    .enabled(
        if: isRoot && toolAvailable("python3") && toolAvailable("umoci") && toolAvailable("strace")
            && toolAvailable("setpriv") && toolAvailable("debugfs")))
struct LayerModelTests {
    static let script = repositoryRoot + "/Tests/tools/oci/oci_fixture.py"

    /// A fixture layout of `kind` in `dir/layout`, `umoci unpack`'s tree of it in
    /// `dir/bundle/rootfs`, and `dir/out` (mode 1777) for nobody's outputs.
    static func prepare(_ dir: TemporaryDirectory, _ kind: String) throws {
        let r = try run(["python3", script, dir.file("layout"), kind])
        try #require(r.status == 0, "\(r.output)")
        let unpack = try sh("cd '\(dir.path)' && umoci unpack --image layout:latest bundle")
        try #require(unpack.status == 0, "\(unpack.output)")
        try sh("chmod 755 '\(dir.path)'; mkdir -m 1777 '\(dir.file("out"))' '\(dir.file("scratch"))'")
    }

    /// `stamp pack oci:DIR/layout -o DIR/out/fs …` as nobody under `strace -f`; the trace's
    /// lines (process id first).
    static func packAsNobody(_ dir: TemporaryDirectory, _ options: [String]) throws -> [Substring] {
        try packAsNobodyWithOutput(dir, options).trace
    }

    static func packAsNobodyWithOutput(_ dir: TemporaryDirectory, _ options: [String]) throws -> (
        trace: [Substring], output: String
    ) {
        let trace = dir.file("trace")
        let pack = try run(
            ["strace", "-f", "-qq", "-o", trace, "-e", "trace=%file,%desc,memfd_create,unshare,setns,clone,clone3"]
                // As nobody, the way a pod without privileges runs: no capability in any set
                // (the bounding set too), no_new_privs.
                + [
                    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--bounding-set=-all",
                    "--inh-caps=-all", "--", stampBinary, "pack", "oci:\(dir.file("layout")):latest", "-o", dir.file("out/fs"),
                ] + options,
            environment: ["TMPDIR": dir.file("scratch")])
        try #require(pack.status == 0, "\(pack.output)")
        return (try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n"), pack.output)
    }

    /// Every difference compare_tree.py finds between umoci's tree and the image's ext4.
    static func differences(_ dir: TemporaryDirectory, image: String) throws -> CommandResult {
        try run([
            "python3", repositoryRoot + "/Tests/tools/compare_tree.py", dir.file("bundle/rootfs"), image, "--ns", "--no-atime",
            "--ignore-root-times",
        ])
    }

    @Test(arguments: ["semantics", "model"]) func anOrdinaryUsersImageHasUmociUnpacksTree(_ kind: String) throws {
        let dir = try TemporaryDirectory("layers-model")
        try Self.prepare(dir, kind)
        let output = try Self.packAsNobodyWithOutput(dir, ["-t", "raw", "--layout", "none"]).output
        // The files were laid out in layer order: each blob was read once, front to back.
        let layers = kind == "model" ? 4 : 3
        #expect(output.contains("file data: \(layers) of \(layers) layers read, one pass each"), "\(output)")
        let image = dir.file("out/fs.raw")
        let compare = try Self.differences(dir, image: image)
        #expect(compare.status == 0, "\(compare.output.suffix(3000))")
        #expect(compare.stdout.contains(" 0 differences"), "\(compare.output.suffix(500))")
        #expect(try strictFsck(image).isEmpty)
        // The comparison is not vacuous: what the fixture crafted is in umoci's tree, so in the image.
        func debugfs(_ request: String) throws -> String { try run(["debugfs", "-R", request, image]).output }
        if kind == "model" {
            // `ls -p`: /inode/mode/uid/gid/name/size/ per entry.
            let base = try debugfs("ls -p /base")
            #expect(base.contains("/link/") && base.contains("/link2/") && !base.contains("/target/"), "\(base)")
            #expect(try debugfs("stat /base/link").contains("Links: 2"))
            let sda = try debugfs("stat /devs/sda")
            #expect(sda.contains("Type: block special") && sda.contains("Group:     6"), "\(sda)")
            #expect(try debugfs("ea_list /var/log/journal").contains("system.posix_acl_default"))
            #expect(try debugfs("ea_list /usr/bin/ping").contains("security.capability"))
            #expect(!(try debugfs("ea_list /wh/file")).contains("user.tag"))
            let swap = try debugfs("ls -p /swap")
            #expect(swap.contains("/040710/5/6/./") && swap.contains("/c/") && !swap.contains("/a/"), "\(swap)")
            #expect(try debugfs("stat /etc/shadow").contains("Group:    42"))
            let opq = try debugfs("ls -p /opq")
            #expect(opq.contains("/upper1/") && !opq.contains("/lower1/") && !opq.contains("/lowerdir/"), "\(opq)")
            let rootfs = dir.file("bundle/rootfs")
            #expect(!FileManager.default.fileExists(atPath: rootfs + "/base/target"))
            #expect(try FileManager.default.attributesOfItem(atPath: rootfs + "/big/first")[.size] as? Int == (5 << 20) + 123)
        }
    }

    /// As nobody: no user namespace (no unshare, setns, or clone with a CLONE_NEW* flag, no
    /// helper run), and nothing created outside the outputs: no file of the image in the
    /// scratch directory (TMPDIR holds only the empty blob directory, removed at the end) or
    /// in /dev/shm (no open for writing, mkdir, link or rename anywhere else). The disk keeps the layers' owners, devices and capabilities.
    @Test func anOrdinaryUserPacksWithoutANamespaceAndWritesOnlyTheOutputs() throws {
        let dir = try TemporaryDirectory("layers-nobody")
        try Self.prepare(dir, "model")
        let trace = try Self.packAsNobody(dir, ["-t", "qcow2,raw", "--layout", "gpt"])
        #expect(trace.count > 50, "strace recorded nothing")
        let out = dir.file("out") + "/"
        let scratch = dir.file("scratch") + "/"
        var problems: [String] = []
        for line in trace {
            let call = line.drop { $0 != " " }.dropFirst()
            if call.hasPrefix("unshare(") || call.hasPrefix("setns(") { problems.append(String(line)) }
            if call.hasPrefix("clone") && call.contains("CLONE_NEW") { problems.append(String(line)) }
            if call.hasPrefix("execve(") && !call.contains("\"\(stampBinary)\"") && !call.contains("setpriv") {
                problems.append(String(line))
            }
            // Reading /dev/shm (the stale trees of killed stamps are looked for there) is fine;
            // creating anything there, or anywhere but the outputs, is not (below).
            if call.hasPrefix("mknod") { problems.append(String(line)) }
            let creates =
                (call.hasPrefix("open") || call.hasPrefix("creat"))
                && ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TMPFILE"].contains { call.contains($0) }
            let makes = call.hasPrefix("mkdir") || call.hasPrefix("rename") || call.hasPrefix("link") || call.hasPrefix("symlink")
            guard creates || makes, !call.contains("= -1 ") else { continue }
            let path = call.split(separator: "\"").dropFirst().first.map(String.init) ?? ""
            let blobDirectory =
                call.hasPrefix("mkdir") && path.hasPrefix(scratch + "stamp-blobs-")
                && !path.dropFirst(scratch.count).contains("/")
            if !path.hasPrefix(out) && !blobDirectory && path != "/dev/null" { problems.append(String(line)) }
        }
        #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("scratch")).isEmpty)
        // The disk's root filesystem (partition 2 of the GPT layout: BIOS boot, root) still
        // has the layers' owners, devices and capabilities, though nobody wrote it.
        let parts = try run(["sfdisk", "--json", dir.file("out/fs.raw")])
        let table = try JSONSerialization.jsonObject(with: Data(parts.stdout.utf8)) as? [String: Any]
        let partitions = (table?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]] ?? []
        let root = try #require(partitions.max { ($0["size"] as? Int ?? 0) < ($1["size"] as? Int ?? 0) })
        let image = dir.file("out/fs.raw") + "?offset=\((root["start"] as? Int ?? 0) * 512)"
        let compare = try Self.differences(dir, image: image)
        #expect(compare.stdout.contains(" 0 differences"), "\(compare.output.suffix(3000))")
        let check = try run(["qemu-img", "check", "-f", "qcow2", dir.file("out/fs.qcow2")])
        #expect(check.status == 0, "\(check.output)")
        let same = try run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", dir.file("out/fs.raw"), dir.file("out/fs.qcow2")])
        #expect(same.status == 0, "\(same.output)")
    }

    /// `--platform` picks a manifest from an index (the fixture's arm64 image has one more
    /// layer, `etc/platform`); linux/amd64 is the default; a platform the image does not offer,
    /// or one stamp does not make disks for, ends in one line.
    @Test func thePlatformIsChosenFromTheIndex() throws {
        let dir = try TemporaryDirectory("layers-platform")
        let fixture = try run(["python3", Self.script, dir.file("layout"), "semantics", "--index"])
        try #require(fixture.status == 0, "\(fixture.output)")
        let amd64Digest = fixture.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: false)
        func pack(_ name: String, _ extra: [String], reference: String? = nil) throws -> CommandResult {
            try run(
                [
                    stampBinary, "pack", reference ?? "oci:\(dir.file("layout")):latest", "-o", dir.file("out/" + name), "-t",
                    "raw", "--layout", "none",
                ] + extra)
        }
        func record(_ name: String, _ file: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("out/\(name).d/\(file)")))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        func platformFile(_ name: String) throws -> CommandResult {
            try run(["debugfs", "-R", "cat /etc/platform", dir.file("out/\(name).raw")])
        }
        let arm = try pack("arm", ["--platform", "linux/arm64"])
        try #require(arm.status == 0, "\(arm.output)")
        #expect(try record("arm", "image-config.json")["architecture"] as? String == "arm64")
        let armDigest = try record("arm", "image.json")["manifestDigest"] as? String
        #expect(armDigest != nil && armDigest != amd64Digest)
        #expect(try platformFile("arm").stdout == "arm64\n")
        #expect(try record("arm", "image.json")["layers"] as? [String] != nil)
        #expect((try record("arm", "image.json")["layers"] as? [String])?.count == 4)

        let amd = try pack("amd", [])
        try #require(amd.status == 0, "\(amd.output)")
        #expect(try record("amd", "image-config.json")["architecture"] as? String == "amd64")
        #expect(try record("amd", "image.json")["manifestDigest"] as? String == amd64Digest)
        #expect((try record("amd", "image.json")["layers"] as? [String])?.count == 3)
        #expect(!(try platformFile("amd").stdout.contains("arm64")))

        let unknown = try pack("bad", ["--platform", "linux/s390x"])
        #expect(
            unknown.status != 0 && unknown.stderr.contains("invalid --platform 'linux/s390x': use linux/amd64 or linux/arm64"),
            "\(unknown.output)")
        // A single-platform image whose config says amd64, asked for arm64.
        let single = try run(["python3", Self.script, dir.file("single"), "semantics"])
        try #require(single.status == 0)
        let refused = try pack("refused", ["--platform", "linux/arm64"], reference: "oci:\(dir.file("single"))")
        #expect(refused.status != 0 && refused.stderr.split(separator: "\n").count == 1, "\(refused.output)")
        #expect(refused.stderr.contains("image architecture 'amd64' (linux/arm64 was asked for"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/refused.raw")))
    }
}
