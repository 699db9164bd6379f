import Foundation
import Testing

@testable import StampExt4
import StampBytes
import StampIO
import StampTestSupport
import StampTree

/// The exact feature line of Debian bookworm's `mke2fs -t ext4`.
let bookwormFeatures =
    "has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize metadata_csum"

/// Builds an ext4 image of `tree` with a fixed UUID and epoch.
func makeImage(
    _ source: String, _ image: String, size: Ext4Options.Size = .auto, configure: (inout Ext4Options) -> Void = { _ in }
) throws -> Ext4Image {
    var options = Ext4Options()
    options.size = size
    options.uuid = Identifier("0f0e0d0c-0b0a-4908-8706-050403020100")
    options.label = "stamp-test"
    configure(&options)
    let tree = try TreeScanner().scan(source)
    let fs = try Ext4Image(tree: tree, options: options)
    try fs.write(to: image)
    return fs
}

@Suite(.enabled(if: toolAvailable("e2fsck") && toolAvailable("debugfs")))
struct Ext4ImageTests {
    @Test func smallTreeIsCleanWithBookwormFeatures() throws {
        let dir = try TemporaryDirectory()
        try sh(
            """
            set -e; cd \(dir.path); mkdir -p src/etc src/usr/bin src/empty
            echo 'root:x:0:0' > src/etc/passwd; printf '#!/bin/sh\\necho hi\\n' > src/usr/bin/hi; chmod 4755 src/usr/bin/hi
            ln -s ../usr/bin/hi src/etc/hi-link; ln src/etc/passwd src/usr/passwd-hard
            """)
        _ = try makeImage(dir.file("src"), dir.file("fs.img"))
        #expect(try strictFsck(dir.file("fs.img")) == [])
        let header = try run(["dumpe2fs", "-h", dir.file("fs.img")]).stdout
        let features = header.split(separator: "\n").first { $0.hasPrefix("Filesystem features:") }
        #expect(
            features.map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) } == bookwormFeatures)
        #expect(header.contains("Filesystem flags:         signed_directory_hash"))
        #expect(header.contains("Default directory hash:   half_md4"))
        #expect(header.contains("Flex block group size:    16"))
        #expect(header.contains("Inode size:\t          256"))
        #expect(header.contains("Filesystem volume name:   stamp-test"))
        #expect(header.contains("Journal inode:            8"))
        #expect(header.contains("Journal start:            0"))
        let stat = try run(["debugfs", "-R", "stat /usr/passwd-hard", dir.file("fs.img")]).stdout
        #expect(stat.contains("Links: 2"))
        let mode = try run(["debugfs", "-R", "stat /usr/bin/hi", dir.file("fs.img")]).stdout
        #expect(mode.contains("Mode:  04755"))
    }

    @Test func sameInputsGiveIdenticalBytes() throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src/d; for i in $(seq 1 300); do echo $i > \(dir.path)/src/d/file-$i; done")
        let epoch: (inout Ext4Options) -> Void = { $0.sourceDateEpoch = 1_700_000_000 }
        _ = try makeImage(dir.file("src"), dir.file("a.img"), configure: epoch)
        _ = try makeImage(dir.file("src"), dir.file("b.img"), configure: epoch)
        let cmp = try run(["cmp", dir.file("a.img"), dir.file("b.img")])
        #expect(cmp.status == 0, "\(cmp.output)")
        // A different UUID must change the image (the check can fail).
        _ = try makeImage(dir.file("src"), dir.file("c.img")) {
            $0.sourceDateEpoch = 1_700_000_000
            $0.uuid = Identifier.random()
        }
        #expect(try run(["cmp", "-s", dir.file("a.img"), dir.file("c.img")]).status != 0)
    }

    @Test func tooSmallFailsBeforeWritingAndNamesTheSizeNeeded() throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src; head -c 40000000 /dev/urandom > \(dir.path)/src/big")
        var thrown: Error?
        do { _ = try makeImage(dir.file("src"), dir.file("fs.img"), size: .bytes(32 << 20)) } catch { thrown = error }
        guard case .imageTooSmall(let size, let needed)? = thrown as? Ext4Error else {
            Issue.record("expected imageTooSmall, got \(String(describing: thrown))")
            return
        }
        #expect(size == 32 << 20)
        #expect(needed > 40_000_000)
        #expect(!FileManager.default.fileExists(atPath: dir.file("fs.img")))
        // The size it names is enough.
        _ = try makeImage(dir.file("src"), dir.file("fs.img"), size: .bytes(needed))
        #expect(try strictFsck(dir.file("fs.img")) == [])
    }

    @Test func tooManyInodesForTheRatio() throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src; cd \(dir.path)/src; for i in $(seq 1 600); do : > f$i; done")
        #expect(throws: Ext4Error.self) {
            _ = try makeImage(dir.file("src"), dir.file("fs.img"), size: .bytes(20 << 20)) { $0.inodeRatio = 65536 }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("fs.img")))
    }

    @Test func fileVanishingOrChangingAfterScanFailsCleanly() throws {
        let dir = try TemporaryDirectory()
        for (name, mutate) in [("vanish", "rm"), ("shrink", "truncate -s 10"), ("grow", "truncate -s 9000000")] {
            try sh(
                "set -e; rm -rf \(dir.path)/src; mkdir -p \(dir.path)/src; head -c 3000000 /dev/urandom > \(dir.path)/src/file")
            let tree = try TreeScanner().scan(dir.file("src"))
            var options = Ext4Options()
            options.uuid = Identifier.random()
            let fs = try Ext4Image(tree: tree, options: options)
            try sh("\(mutate) \(dir.path)/src/file")
            var thrown: Error?
            do { try fs.write(to: dir.file("\(name).img")) } catch { thrown = error }
            let message = thrown.map { "\($0)" } ?? ""
            #expect(message.contains("\(dir.path)/src/file"), "\(name): \(message)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("\(name).img")))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix("-partial") }
            #expect(leftovers == [])
        }
    }

    /// `-E resize=N` and `-m N` (DIB's --max-online-resize and --mkfs-options): the reserved
    /// GDT blocks and reserved block count are mke2fs's for the same size and options
    /// (100000 blocks needs no extra descriptor block, so mke2fs keeps its 1024x default).
    @Test(.enabled(if: toolAvailable("mke2fs") && toolAvailable("dumpe2fs")))
    func resizeLimitAndReservedPercentMatchMke2fs() throws {
        let dir = try TemporaryDirectory()
        try sh("mkdir -p \(dir.path)/src")
        func header(_ image: String) throws -> [String: String] {
            let out = try run(["dumpe2fs", "-h", image]).stdout
            var fields: [String: String] = [:]
            for line in out.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
            return fields
        }
        for (limit, percent) in [(UInt64(100_000), UInt64(1)), (3_000_000, 0), (100_000_000, 10)] {
            _ = try makeImage(dir.file("src"), dir.file("s.img"), size: .bytes(128 << 20)) {
                $0.resizeLimitBlocks = limit
                $0.reservedPercent = percent
            }
            #expect(try strictFsck(dir.file("s.img")) == [])
            try sh("rm -f \(dir.path)/m.img; truncate -s 128M \(dir.path)/m.img")
            let mk = try run([
                "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-E", "resize=\(limit)", "-m", "\(percent)", dir.file("m.img"),
            ])
            try #require(mk.status == 0, "\(mk.output)")
            let (ours, theirs) = (try header(dir.file("s.img")), try header(dir.file("m.img")))
            for field in ["Reserved GDT blocks", "Reserved block count", "Block count"] {
                #expect(
                    ours[field] != nil && ours[field] == theirs[field],
                    "resize=\(limit) -m \(percent): \(field) \(ours[field] ?? "-") vs mke2fs \(theirs[field] ?? "-")")
            }
        }
        // A limit at or below the size is mke2fs's "invalid resize parameter": an error, no file.
        #expect(throws: Ext4Error.self) {
            _ = try makeImage(dir.file("src"), dir.file("bad.img"), size: .bytes(128 << 20)) { $0.resizeLimitBlocks = 32768 }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.img")))
    }

    @Test(.enabled(if: toolAvailable("resize2fs")))
    func resize2fsGrowsACopy() throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src/a; head -c 5000000 /dev/urandom > \(dir.path)/src/a/f")
        _ = try makeImage(dir.file("src"), dir.file("fs.img"), size: .bytes(64 << 20))
        try sh("truncate -s 1G \(dir.path)/fs.img")
        let resize = try run(["resize2fs", dir.file("fs.img")])
        #expect(resize.status == 0, "\(resize.output)")
        #expect(resize.output.contains("262144 (4k) blocks long"), "\(resize.output)")
        #expect(try strictFsck(dir.file("fs.img")) == [])
    }

    @Test(.enabled(if: toolAvailable("grub-fstest")))
    func grubReadsFilesBack() throws {
        let dir = try TemporaryDirectory()
        try sh(
            "set -e; mkdir -p \(dir.path)/src/boot; head -c 7000000 /dev/urandom > \(dir.path)/src/boot/vmlinuz; echo 'set timeout=0' > \(dir.path)/src/boot/grub.cfg"
        )
        _ = try makeImage(dir.file("src"), dir.file("fs.img"))
        for file in ["boot/vmlinuz", "boot/grub.cfg"] {
            let r = try run(["grub-fstest", dir.file("fs.img"), "cmp", "/\(file)", dir.file("src/\(file)")])
            #expect(r.status == 0 && !r.output.contains("error"), "\(file): \(r.output)")
        }
    }
}
