import Foundation
import Testing

@testable import StampExt4
import StampTestSupport

/// Filesystem shapes at the edges: many inodes per group (DIB's `-i 4096`), journals longer
/// than four extents, files at ext4's size limit, link counts at its link limit. Each image
/// is checked by e2fsck and, for the group layout, against mke2fs's own.
@Suite(.enabled(if: toolAvailable("e2fsck") && toolAvailable("dumpe2fs") && toolAvailable("mke2fs")))
struct GeometryTests {
    /// Every group's bitmap and inode-table locations, as dumpe2fs prints them.
    static func groupLayout(_ image: String) throws -> [String] {
        let out = try run(["dumpe2fs", image])
        try #require(out.status == 0, "\(out.output)")
        return out.stdout.split(separator: "\n").compactMap { line -> String? in
            let l = line.trimmingCharacters(in: .whitespaces)
            guard
                l.hasPrefix("Group ") || l.hasPrefix("Block bitmap at") || l.hasPrefix("Inode bitmap at")
                    || l.hasPrefix("Inode table at")
            else { return nil }
            // Without checksums and flags (INODE_UNINIT differs by which inodes are used).
            return String(l.components(separatedBy: " csum").first?.split(separator: ",").first ?? "")
        }
    }

    /// With 32768 inodes per group, a flex group's 16 inode tables (2048 blocks each) are
    /// longer than a group: one of them must go past group 1's (49's, 81's…) backup
    /// superblock and descriptors. The layout must be mke2fs's, block for block.
    @Test(arguments: [("4G", 4096), ("20G", 4096), ("16100M", 4096), ("3000M", 16384), ("1G", 4096)])
    func groupMetadataSitsWhereMke2fsPutsIt(size: String, ratio: Int) throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src/d; echo hello > \(dir.path)/src/d/f")
        let bytes = try #require(UInt64(size.dropLast())) << (size.hasSuffix("G") ? 30 : 20)
        _ = try makeImage(dir.file("src"), dir.file("s.img"), size: .bytes(bytes)) { $0.inodeRatio = UInt64(ratio) }
        #expect(try strictFsck(dir.file("s.img")) == [], "\(size) -i \(ratio)")
        try sh("truncate -s \(size) \(dir.path)/m.img")
        let mk = try run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-i", "\(ratio)", dir.file("m.img")])
        try #require(mk.status == 0, "\(mk.output)")
        let (ours, theirs) = (try Self.groupLayout(dir.file("s.img")), try Self.groupLayout(dir.file("m.img")))
        #expect(ours.count > 10)
        #expect(
            ours == theirs,
            "\(size) -i \(ratio): first difference \(zip(ours, theirs).first { $0 != $1 }.map { "\($0) vs mke2fs \($1)" } ?? "in length")"
        )
    }

    /// Journals of 512 MiB and more are over four extents of 128 MiB: they need an extent
    /// tree, which e2fsck and the kernel read through the superblock's backup of `i_block`.
    @Test(arguments: [1024, 2400])
    func largeJournalsAreClean(mib: UInt64) throws {
        let dir = try TemporaryDirectory()
        try sh("set -e; mkdir -p \(dir.path)/src; echo hello > \(dir.path)/src/f")
        _ = try makeImage(dir.file("src"), dir.file("s.img"), size: .bytes(8 << 30)) { $0.journalMiB = mib }
        #expect(try strictFsck(dir.file("s.img")) == [], "--journal-size \(mib)")
        let header = try run(["dumpe2fs", "-h", dir.file("s.img")]).stdout
        #expect(header.range(of: #"Total journal size:\s+\#(mib)M"#, options: .regularExpression) != nil, "\(header)")
    }

    /// `-E resize=` / `--max-online-resize` beyond 2^32 blocks is room to grow to ext4's
    /// limit (the rounding of 2^64 - 1 overflowed before).
    @Test func aResizeLimitPastTheLargestFilesystem() throws {
        let dir = try TemporaryDirectory()
        try sh("mkdir -p \(dir.path)/src")
        _ = try makeImage(dir.file("src"), dir.file("s.img"), size: .bytes(64 << 20)) { $0.resizeLimitBlocks = .max }
        #expect(try strictFsck(dir.file("s.img")) == [])
    }

    /// ext4's largest file is 2^32 - 1 blocks; one byte more is refused in one line (it
    /// trapped on the 32-bit logical block count before).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm")))
    func filesAtTheSizeLimit() throws {
        let dir = try TemporaryDirectory(in: "/dev/shm")
        let limit = UInt64(UInt32.max) << 12
        try sh(
            """
            set -e; mkdir -p \(dir.path)/ok \(dir.path)/big
            truncate -s \(limit) \(dir.path)/ok/f; printf x | dd of=\(dir.path)/ok/f bs=1 seek=\(limit - 1) conv=notrunc status=none
            truncate -s \(limit + 4095) \(dir.path)/big/f; printf x | dd of=\(dir.path)/big/f bs=1 seek=\(limit + 4094) conv=notrunc status=none
            """)
        _ = try makeImage(dir.file("ok"), dir.file("ok.img"), size: .bytes(64 << 20))
        #expect(try strictFsck(dir.file("ok.img")) == [])
        #expect(throws: Ext4Error.fileTooLarge(path: "/f", size: limit + 4095)) {
            _ = try makeImage(dir.file("big"), dir.file("big.img"), size: .bytes(64 << 20))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("big.img")))
    }

    /// 65000 names for one file are ext4's limit: at the limit the image is clean, past it
    /// the file is named in one line (its link count was cut to 16 bits before: 65536 links
    /// made an inode with no links).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm")))
    func linkCountsAtTheLimit() throws {
        let dir = try TemporaryDirectory(in: "/dev/shm")  // tmpfs allows more links than ext4
        try sh(
            """
            set -e; mkdir -p \(dir.path)/src/l; echo data > \(dir.path)/src/f
            python3 -c 'import os,sys; [os.link(sys.argv[1], "%s/%d" % (sys.argv[2], i)) for i in range(64999)]' \(dir.path)/src/f \(dir.path)/src/l
            """)
        _ = try makeImage(dir.file("src"), dir.file("ok.img"), size: .bytes(256 << 20))
        #expect(try strictFsck(dir.file("ok.img")) == [])
        try sh("ln \(dir.path)/src/f \(dir.path)/src/one-more")
        #expect(throws: Ext4Error.tooManyLinks(path: "/f")) {
            _ = try makeImage(dir.file("src"), dir.file("bad.img"), size: .bytes(256 << 20))
        }
    }
}
