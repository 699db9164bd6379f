import Foundation
import Testing

import StampIO
import StampTestSupport

/// Scratch directories live in world-writable places (/dev/shm, /var/tmp, /tmp): the stale
/// clean-up must never remove what another user planted there, never follow a symlink, and
/// must remove trees of any depth (issue 18, item 6).
@Suite struct ScratchDirectoryTests {
    /// A pid that surely names no process: a child that has exited and been reaped.
    static func deadPid() throws -> Int32 {
        let r = try sh("sh -c 'echo $$'")
        return Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    /// Another user's stale-looking directory survives; so does a directory reached through
    /// a symlink named like a stale one; our own stale one goes.
    @Test(.enabled(if: isRoot)) func staleDirectoriesOfOtherUsersAndSymlinksSurvive() throws {
        let dir = try TemporaryDirectory("scratch-stale")
        let base = dir.file("shm")
        let pid = try Self.deadPid()
        let r = try sh(
            """
            set -e
            mkdir -m 1777 '\(base)'
            # another user's, as a user of a shared host could plant it
            mkdir -p '\(base)/stamp-image-\(pid).other/sub' && echo keep > '\(base)/stamp-image-\(pid).other/sub/f'
            chown -R 12345:12345 '\(base)/stamp-image-\(pid).other'
            # a symlink named like a stale directory, pointing at files that must survive
            mkdir -p '\(dir.path)/victim/inner' && echo keep > '\(dir.path)/victim/inner/g' && echo keep > '\(dir.path)/victim/h'
            ln -s '\(dir.path)/victim' '\(base)/stamp-image-\(pid).link'
            # ours, stale: removed
            mkdir -p '\(base)/stamp-image-\(pid).ours/a/b' && echo x > '\(base)/stamp-image-\(pid).ours/a/b/f'
            ln -s '\(dir.path)/victim' '\(base)/stamp-image-\(pid).ours/a/escape'
            """)
        try #require(r.status == 0, "\(r.output)")
        let scratch = try ScratchDirectory(label: "stamp-image", base: base)
        defer { scratch.remove() }
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: "\(base)/stamp-image-\(pid).other/sub/f"), "another user's directory was removed")
        #expect(fm.fileExists(atPath: "\(dir.path)/victim/inner/g") && fm.fileExists(atPath: "\(dir.path)/victim/h"))
        #expect(!fm.fileExists(atPath: "\(base)/stamp-image-\(pid).ours"))
        var st = stat()
        #expect(lstat(scratch.path, &st) == 0 && st.st_mode & 0o7777 == 0o700 && st.st_uid == geteuid())
    }

    /// A symlink in place of a subdirectory (as a swap during the removal would leave it) is
    /// unlinked, never entered; a 2,100-level deep tree (more than the open-file limit) and
    /// directories without write permission are removed.
    /// (Only one directory is open at a time, whatever the depth.)
    @Test func theRemoverNeverFollowsSymlinksAndHandlesDepth() throws {
        let dir = try TemporaryDirectory("scratch-remover")
        let r = try sh(
            """
            set -e
            cd '\(dir.path)'
            mkdir -p victim/deep && echo keep > victim/deep/f && echo keep > victim/g
            mkdir -p tree/a && ln -s "$PWD/victim" tree/a/sub && ln -s "$PWD/victim/g" tree/file
            mkdir -p tree/ro/x && echo y > tree/ro/x/y && chmod 0500 tree/ro/x && chmod 0 tree/ro
            python3 -c '
            import os
            os.chdir("tree")
            for i in range(2100):
                os.mkdir("d"); os.chdir("d")
            open("leaf", "w").write("leaf")
            '
            """)
        try #require(r.status == 0, "\(r.output)")
        // 2,100 levels: paths longer than PATH_MAX, which removal by path cannot handle.
        try TreeRemover.remove(path: dir.file("tree"))
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: dir.file("tree")))
        #expect(fm.fileExists(atPath: dir.file("victim/deep/f")) && fm.fileExists(atPath: dir.file("victim/g")))
    }

    /// A directory that is not the one expected (replaced since it was made) is left alone.
    @Test func aReplacedDirectoryIsNotRemoved() throws {
        let dir = try TemporaryDirectory("scratch-replaced")
        try FileManager.default.createDirectory(atPath: dir.file("s"), withIntermediateDirectories: false)
        let identity = try #require(TreeRemover.identity(of: dir.file("s")))
        // Moved aside (kept, so that its inode number cannot be reused for the new one).
        try FileManager.default.moveItem(atPath: dir.file("s"), toPath: dir.file("old"))
        try FileManager.default.createDirectory(atPath: dir.file("other"), withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: dir.file("other/keep"), contents: Data("k".utf8))
        // Another directory created under the old name (a new inode).
        try FileManager.default.moveItem(atPath: dir.file("other"), toPath: dir.file("s"))
        try TreeRemover.remove(path: dir.file("s"), expecting: identity)
        #expect(FileManager.default.fileExists(atPath: dir.file("s/keep")))
    }
}
