import Foundation
import StampBytes
import StampIO
import StampTestSupport
import StampTree
import Testing

@testable import StampExt4

/// The tree is untrusted and may change between the scan and the write (issue 18, item 8):
/// a directory swapped for a symlink to a host directory, or a file swapped for another of
/// the same size and time, is refused in one line, and no host byte reaches the image.
struct SourceSwapTests {
    static func write(_ tree: RootTree, to path: String) -> String {
        var options = Ext4Options()
        options.uuid = Identifier.random()
        do {
            try Ext4Image(tree: tree, options: options).write(to: path)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func aDirectorySwappedForASymlinkAfterTheScanIsNotFollowed() throws {
        let dir = try TemporaryDirectory("stamp-swap")
        let secret = String(repeating: "S", count: 4096)
        try sh(
            """
            set -e; mkdir -p \(dir.path)/src/d \(dir.path)/host
            printf '%s' '\(String(repeating: "A", count: 4096))' > \(dir.path)/src/d/f
            printf '%s' '\(secret)' > \(dir.path)/host/f; touch -r \(dir.path)/src/d/f \(dir.path)/host/f
            """)
        let tree = try TreeScanner().scan(dir.file("src"))
        try sh("set -e; mv \(dir.path)/src/d \(dir.path)/src/d.old; ln -s \(dir.path)/host \(dir.path)/src/d")
        let message = Self.write(tree, to: dir.file("out.img"))
        #expect(message == "\(dir.path)/src/d/f: replaced by another file after the scan (not read)", "\(message)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    @Test func aFileSwappedForAnotherOfTheSameSizeAndTimeIsRefused() throws {
        let dir = try TemporaryDirectory("stamp-swap")
        try sh(
            """
            set -e; mkdir -p \(dir.path)/src; head -c 100000 /dev/urandom > \(dir.path)/src/f
            head -c 100000 /dev/urandom > \(dir.path)/other; touch -r \(dir.path)/src/f \(dir.path)/other
            """)
        let tree = try TreeScanner().scan(dir.file("src"))
        try sh("mv \(dir.path)/other \(dir.path)/src/f")
        let message = Self.write(tree, to: dir.file("out.img"))
        #expect(message == "\(dir.path)/src/f: replaced by another file after the scan (not read)", "\(message)")
    }

    @Test func aFileWrittenInPlaceAfterTheScanIsRefused() throws {
        let dir = try TemporaryDirectory("stamp-swap")
        try sh("set -e; mkdir -p \(dir.path)/src; head -c 100000 /dev/urandom > \(dir.path)/src/f")
        let tree = try TreeScanner().scan(dir.file("src"))
        try sh("sleep 0.01; dd if=/dev/zero of=\(dir.path)/src/f bs=1 count=10 conv=notrunc status=none")
        #expect(Self.write(tree, to: dir.file("out.img")) == "\(dir.path)/src/f: modified after the scan (not read)")
    }

    /// A root that is a symlink is followed only where the caller allows it (a command
    /// line's argument), not for a mount point inside an untrusted tree.
    @Test func aSymlinkRootIsFollowedOnlyWhenAllowed() throws {
        let dir = try TemporaryDirectory("stamp-swap")
        try sh("set -e; mkdir -p \(dir.path)/real; echo x > \(dir.path)/real/f; ln -s real \(dir.path)/link")
        #expect(try TreeScanner().scan(dir.file("link")).entries.count == 2)
        var options = ScanOptions()
        options.followRootSymlink = false
        #expect(throws: TreeError.notDirectory(path: dir.file("link"))) {
            try TreeScanner(options: options).scan(dir.file("link"))
        }
    }

    /// What the boot loader step adds goes to the model: a symlink in the tree at that path
    /// (`/etc/fstab -> /host/file`) is replaced in the model, the host file is untouched, and
    /// lookups resolve symlinks inside the tree only.
    @Test func modelEditsNeverReachTheHost() throws {
        let dir = try TemporaryDirectory("stamp-swap")
        try sh(
            """
            set -e; mkdir -p \(dir.path)/src/etc \(dir.path)/src/boot \(dir.path)/host
            echo 'host line' > \(dir.path)/host/fstab
            ln -s \(dir.path)/host/fstab \(dir.path)/src/etc/fstab
            ln -s ../../../../../../.. \(dir.path)/src/boot/up
            ln -s /etc \(dir.path)/src/boot/etc
            """)
        let tree = try TreeScanner().scan(dir.file("src"))
        let time = Timestamp(seconds: 1_700_000_000)
        let index = try tree.setFile("/etc/fstab", content: .bytes(Array("UUID=x / ext4 defaults 0 1\n".utf8)), time: time)
        #expect(tree.entries[index].kind == .regular)
        #expect(try tree.readData(of: index, limit: 100) == Array("UUID=x / ext4 defaults 0 1\n".utf8))
        try tree.setFile("/boot/grub/grub.cfg", content: .bytes(Array("menu\n".utf8)), time: time)
        #expect(try String(contentsOfFile: dir.file("host/fstab"), encoding: .utf8) == "host line\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("src/boot/grub")))
        // "..": never above the root; an absolute target is the tree's own /etc.
        #expect(tree.lookup("/boot/up") == 0)
        #expect(tree.lookup("/boot/etc/fstab") == index)
        #expect(tree.lookup("/boot/up/etc/fstab") == index)
        // The image holds the model's fstab, not the host's.
        let image = dir.file("out.img")
        #expect(Self.write(tree, to: image) == "")
        let cat = try run(["python3", repositoryRoot + "/Tests/tools/cat_file.py", image, "/etc/fstab"])
        #expect(cat.stdout == "UUID=x / ext4 defaults 0 1\n", "\(cat.output)")
        #expect(
            try run(["python3", repositoryRoot + "/Tests/tools/cat_file.py", image, "/boot/grub/grub.cfg"]).stdout == "menu\n")
        #expect(try strictFsck(image) == [])
    }
}
