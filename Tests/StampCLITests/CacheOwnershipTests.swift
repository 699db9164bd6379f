import Foundation
import Testing

import StampTestSupport

/// After an unprivileged build, everything under the image cache belongs to the calling
/// user (issue 18, item 10): apt chowns the shared cache's `partial/` to `_apt`, which is a
/// subordinate id outside the namespace. Here an element does the same to a directory and a
/// file of the cache (no network), and the build gives them back.
@Suite(.serialized, .enabled(if: canRunUnprivilegedBuilds, "needs root, busybox-static, unshare and newuidmap"))
struct CacheOwnershipTests {
    @Test func theImageCacheBelongsToTheCallingUserAfterAnUnprivilegedBuild() throws {
        let user = try UnprivilegedBuildTests.ThrowawayUser()
        defer { user.remove() }
        let dir = try UnprivilegedBuildTests.workspace(for: user)
        defer { dir.cleanup() }
        let setup = try sh(
            """
            set -e; cd '\(dir.path)'
            mkdir -p els/aptlike/root.d
            printf '#!/bin/sh\\nset -e\\nc=$DIB_IMAGE_CACHE/apt/debian\\nmkdir -p $c/partial\\necho deb > $c/x.deb\\nchown 42:42 $c/partial $c/x.deb\\n' > els/aptlike/root.d/60-aptlike
            chmod +x els/aptlike/root.d/60-aptlike
            """)
        try #require(setup.status == 0, "\(setup.output)")
        let r = try run(UnprivilegedBuildTests.arguments(user, dir, ["aptlike"]))
        try #require(r.status == 0, "\(r.stderr) \(r.stdout.suffix(1500))")
        let cache = dir.file("home/.cache/image-create")
        #expect(FileManager.default.fileExists(atPath: cache + "/apt/debian/partial"), "the element did not run")
        let others = try sh("find '\(cache)' \\( ! -uid \(user.uid) -o ! -gid \(user.uid) \\) -printf '%p %U:%G\\n'")
        #expect(others.status == 0 && others.stdout.isEmpty, "owned by another id: \(others.output)")
    }
}
