import Foundation
import Testing

import StampTestSupport

/// `stamp inspect --json` read as a script written for `qemu-img info --output=json` reads it:
/// for each container format and variant (40 images made by qemu-img, 5 by stamp), every member
/// qemu-img prints is in stamp's document with the same value (Tests/tools/qemu_info_compare.py
/// parses both with Python's strict json module), and stamp's own facts sit under "stamp".
@Suite(
    .enabled(
        if: toolAvailable("qemu-img") && toolAvailable("python3") && toolAvailable("sfdisk")
            && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct InspectTests {
    /// A 64 MiB disk with an MBR and one ext4 partition at 1 MiB holding a file.
    static func makeDisk(in dir: TemporaryDirectory) throws {
        let made = try sh(
            """
            set -e; cd '\(dir.path)'; truncate -s 64M d.raw
            echo 'start=2048, type=83' | sfdisk -q d.raw
            mkdir -p src && echo hello > src/motd
            mkfs.ext4 -q -F -L root -d src -E offset=1048576 d.raw 62M
            """)
        try #require(made.status == 0, "\(made.output)")
    }

    /// qemu-img's JSON for `image` (with `-f FORMAT` when given) against stamp's.
    func compare(_ dir: TemporaryDirectory, _ image: String, qemuFormat: String? = nil) throws -> String {
        let path = dir.file(image)
        // Written back first: a filesystem's delayed allocation changes st_blocks (actual-size)
        // when the kernel writes the file back, which could fall between the two reads.
        try #require(try run(["sync", path]).status == 0)
        let qemu = try run(["qemu-img", "info", "--output=json"] + (qemuFormat.map { ["-f", $0] } ?? []) + [path])
        try #require(qemu.status == 0, "\(qemu.output)")
        let stamp = try run([stampBinary, "inspect", "--json", path])
        try #require(stamp.status == 0, "\(image): \(stamp.output)")
        try qemu.stdout.write(toFile: path + ".qemu.json", atomically: true, encoding: .utf8)
        try stamp.stdout.write(toFile: path + ".stamp.json", atomically: true, encoding: .utf8)
        let diff = try run([
            "python3", repositoryRoot + "/Tests/tools/qemu_info_compare.py", path + ".qemu.json", path + ".stamp.json",
        ])
        #expect(diff.status == 0, "\(image): \(diff.output)\nqemu-img: \(qemu.stdout)\nstamp: \(stamp.stdout)")
        return stamp.stdout
    }

    /// The "stamp" member, parsed.
    func stampMember(_ json: String) throws -> [String: Any] {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return try #require(doc["stamp"] as? [String: Any], "\(json)")
    }

    /// Images qemu-img converts from a partitioned disk, one per format and option stamp reads:
    /// every qcow2 version, cluster size from 512 bytes to 2 MiB, refcount width, lazy
    /// refcounts, extended L2 entries, compression type and preallocation; VMDK's two
    /// subformats with their adapter types, compat6 and zeroed grains; VHD dynamic and fixed,
    /// by geometry and by size; raw sparse and fully allocated.
    @Test(arguments: [
        ("raw", "-O raw -S 4k"), ("raw-allocated", "-O raw -S 0"), ("qcow2-v2", "-O qcow2 -o compat=0.10"),
        ("qcow2-v3", "-O qcow2 -o compat=1.1"), ("qcow2-lazy", "-O qcow2 -o lazy_refcounts=on"),
        ("qcow2-4k", "-O qcow2 -o cluster_size=4096,refcount_bits=1"), ("qcow2-512", "-O qcow2 -o cluster_size=512"),
        ("qcow2-2m", "-O qcow2 -o cluster_size=2M"), ("qcow2-refcount-8", "-O qcow2 -o refcount_bits=8"),
        ("qcow2-refcount-64", "-O qcow2 -o refcount_bits=64"), ("qcow2-compressed", "-O qcow2 -c"),
        ("qcow2-v2-compressed-4k", "-O qcow2 -c -o compat=0.10,cluster_size=4096"),
        ("qcow2-zstd", "-O qcow2 -o compression_type=zstd"), ("qcow2-zstd-compressed", "-O qcow2 -c -o compression_type=zstd"),
        ("qcow2-extended-l2", "-O qcow2 -o extended_l2=on"),
        ("qcow2-extended-l2-32k", "-O qcow2 -o extended_l2=on,cluster_size=32k"),
        ("qcow2-prealloc-metadata", "-O qcow2 -o preallocation=metadata"),
        ("qcow2-prealloc-full", "-O qcow2 -o preallocation=full"),
        ("vmdk-stream", "-O vmdk -o subformat=streamOptimized"),
        ("vmdk-stream-compat6", "-O vmdk -o subformat=streamOptimized,compat6=on"),
        ("vmdk-stream-ide", "-O vmdk -o subformat=streamOptimized,adapter_type=ide"),
        ("vmdk-sparse", "-O vmdk -o subformat=monolithicSparse"),
        ("vmdk-sparse-zeroed", "-O vmdk -o subformat=monolithicSparse,zeroed_grain=on"),
        ("vmdk-sparse-lsilogic", "-O vmdk -o subformat=monolithicSparse,adapter_type=lsilogic"),
        ("vhd-dynamic", "-O vpc -o subformat=dynamic"), ("vhd-fixed", "-O vpc -o subformat=fixed"),
        ("vhd-sized", "-O vpc -o force_size=on"), ("vhd-fixed-sized", "-O vpc -o subformat=fixed,force_size=on"),
    ])
    func qemuImgImagesMatchQemuImgInfo(name: String, options: String) throws {
        let dir = try TemporaryDirectory("stamp-inspect-\(name)")
        defer { dir.cleanup() }
        try Self.makeDisk(in: dir)
        let made = try sh("cd '\(dir.path)' && qemu-img convert -f raw \(options) d.raw out")
        try #require(made.status == 0, "\(made.output)")
        // qemu-img guesses "raw" for a fixed VHD (its cookie is only at the end): stamp
        // answers as `qemu-img info -f vpc` does.
        let json = try compare(dir, "out", qemuFormat: name.hasPrefix("vhd-fixed") ? "vpc" : nil)
        let stamp = try stampMember(json)
        if name == "qcow2-zstd-compressed" {
            // No zstd decoder: the headers are described, the contents said to be unread.
            #expect((stamp["contents-unread"] as? String)?.contains("zstd") == true, "\(json)")
            return
        }
        #expect(stamp["partition-table"] as? String == "dos", "\(json)")
        let parts = stamp["partitions"] as? [[String: Any]] ?? []
        let fs = parts.first?["filesystem"] as? [String: Any]
        #expect(parts.count == 1 && fs?["type"] as? String == "ext4" && fs?["label"] as? String == "root", "\(json)")
    }

    /// Images qemu-img creates or that stamp is given as qemu-img left them, without a
    /// partition table: empty ones of sizes no disk stamp writes has (rounded up to a sector,
    /// a CHS geometry, 2 TiB), backing files that exist (raw, and by an absolute path), and
    /// qcow2 headers with the dirty and the corrupt bit set (patched as a crash or qemu's
    /// consistency check would leave them).
    @Test(arguments: [
        ("raw-empty", "qemu-img create -q -f raw out 1G"),
        ("qcow2-empty-odd", "qemu-img create -q -f qcow2 out 123456789"),
        ("qcow2-2t", "qemu-img create -q -f qcow2 -o cluster_size=2M out 2T"),
        ("vhd-odd", "qemu-img create -q -f vpc out 123456789"),
        ("vhd-fixed-odd", "qemu-img create -q -f vpc -o subformat=fixed out 50000000"),
        ("vmdk-stream-empty", "qemu-img create -q -f vmdk -o subformat=streamOptimized out 1G"),
        ("vmdk-sparse-odd", "qemu-img create -q -f vmdk out 123456789"),
        ("qcow2-backing-raw", "qemu-img create -q -f raw base.raw 32M && qemu-img create -q -f qcow2 -b base.raw -F raw out"),
        (
            "qcow2-backing-absolute",
            "qemu-img create -q -f qcow2 base.qcow2 32M && qemu-img create -q -f qcow2 -b \"$PWD/base.qcow2\" -F qcow2 out"
        ),
        (
            "qcow2-v2-backing",
            "qemu-img create -q -f qcow2 base.qcow2 32M && qemu-img create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 out"
        ),
        ("qcow2-dirty", "qemu-img convert -O qcow2 -o lazy_refcounts=on d.raw out && \(InspectTests.setIncompatibleBit(0x01))"),
        ("qcow2-corrupt", "qemu-img convert -O qcow2 d.raw out && \(InspectTests.setIncompatibleBit(0x02))"),
    ])
    func moreQemuImgImagesMatchQemuImgInfo(name: String, script: String) throws {
        let dir = try TemporaryDirectory("stamp-inspect-\(name)")
        defer { dir.cleanup() }
        try Self.makeDisk(in: dir)
        let made = try sh("set -e; cd '\(dir.path)'; \(script)")
        try #require(made.status == 0, "\(made.output)")
        let json = try compare(dir, "out", qemuFormat: name.hasPrefix("vhd-fixed") ? "vpc" : nil)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        if name == "qcow2-dirty" { #expect(doc["dirty-flag"] as? Bool == true, "\(json)") }
        if name == "qcow2-corrupt" {
            let data = (doc["format-specific"] as? [String: Any])?["data"] as? [String: Any]
            #expect(data?["corrupt"] as? Bool == true, "\(json)")
        }
    }

    /// A shell command setting `bit` in the qcow2 header's incompatible features of `out`
    /// (a big-endian 64-bit field at offset 72: its low byte is at 79).
    static func setIncompatibleBit(_ bit: UInt8) -> String {
        "printf '\\\(String(bit, radix: 8))' | dd of=out bs=1 seek=79 conv=notrunc status=none"
    }

    /// Images stamp writes, read back the same way.
    @Test(arguments: ["qcow2", "vmdk", "vmdk-sparse", "vhd", "vhd-fixed"])
    func stampImagesMatchQemuImgInfo(format: String) throws {
        let dir = try TemporaryDirectory("stamp-inspect-own-\(format)")
        defer { dir.cleanup() }
        try Self.makeDisk(in: dir)
        let made = try run([stampBinary, "convert", dir.file("d.raw"), "-O", format, dir.file("out")])
        try #require(made.status == 0, "\(made.output)")
        _ = try compare(dir, "out", qemuFormat: format == "vhd-fixed" ? "vpc" : nil)
    }

    /// A qcow2 whose backing file is missing: described from its header (qemu-img's
    /// backing-filename, full-backing-filename, backing-filename-format), never opened, and
    /// stamp says the contents were not read.
    @Test func aBackingFileIsDescribedNotOpened() throws {
        let dir = try TemporaryDirectory("stamp-inspect-backing")
        defer { dir.cleanup() }
        let made = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir sub
            qemu-img create -q -f qcow2 sub/base.qcow2 32M
            qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 sub/overlay.qcow2
            rm sub/base.qcow2
            """)
        try #require(made.status == 0, "\(made.output)")
        let json = try compare(dir, "sub/overlay.qcow2")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(doc["backing-filename"] as? String == "base.qcow2", "\(json)")
        #expect(doc["full-backing-filename"] as? String == dir.file("sub/base.qcow2"), "\(json)")
        let stamp = try stampMember(json)
        #expect((stamp["contents-unread"] as? String)?.contains("backing file") == true, "\(json)")
        #expect(stamp["partitions"] == nil, "\(json)")
        // convert still refuses it, in one line.
        let convert = try run([stampBinary, "convert", dir.file("sub/overlay.qcow2"), "-O", "raw", dir.file("x.raw")])
        #expect(convert.status != 0 && convert.stderr.split(separator: "\n").count == 1, "\(convert.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("x.raw")))
    }

    /// Control characters in an ext4 label (a tab, U+0001) and a newline in the file name:
    /// the JSON still parses with Python's strict json module and gives them back exactly.
    @Test(.enabled(if: toolAvailable("mkfs.ext4"))) func controlCharactersGiveValidJSON() throws {
        let dir = try TemporaryDirectory("stamp-inspect-names")
        defer { dir.cleanup() }
        let image = dir.file("two\nlines \"q\".raw")
        let made = try run([
            "sh", "-c", "truncate -s 16M \"$1\" && mkfs.ext4 -q -F -L \"$(printf 'a\\tb\\001c')\" \"$1\"", "sh", image,
        ])
        try #require(made.status == 0, "\(made.output)")
        let blkid = try run(["blkid", "-p", "-s", "LABEL", "-o", "value", image])
        #expect(blkid.stdout == "a\tb\u{01}c\n", "blkid: \(blkid.output)")
        let inspect = try run([stampBinary, "inspect", "--json", image])
        try #require(inspect.status == 0, "\(inspect.output)")
        let check = try run(
            [
                "python3", "-c",
                """
                import json, sys
                doc = json.loads(sys.stdin.read())
                print(repr(doc["filename"]), repr(doc["stamp"]["filesystem"]["label"]))
                """,
            ], input: inspect.stdout)
        #expect(check.status == 0, "\(check.output)\n\(inspect.stdout)")
        #expect(check.stdout == "\(pythonRepr(image)) 'a\\tb\\x01c'\n", "\(check.output)")
    }

    /// Python's repr of a string holding only printable ASCII, newlines and double quotes.
    func pythonRepr(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n") + "'"
    }
}
