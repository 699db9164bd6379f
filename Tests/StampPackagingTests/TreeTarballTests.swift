import Foundation
import StampIO
import StampTestSupport
import StampTree
import Testing

@testable import StampPackaging

/// Builds a source tree with every kind of entry a root filesystem has (needs root for
/// devices, foreign owners and security.capability).
func makeSourceTree(_ root: String) throws {
    let script = """
        set -e
        cd '\(root)'
        mkdir -p etc usr/bin srv/shared dev empty
        printf 'hello\\n' > etc/hostname
        head -c 3000000 /dev/urandom > usr/bin/big
        cp etc/hostname usr/bin/ping
        setcap cap_net_raw+ep usr/bin/ping
        ln usr/bin/big usr/bin/big-link
        ln usr/bin/big etc/big-link2
        ln -s ../etc/hostname usr/bin/sym
        printf 'x' > 'usr/bin/caf\\xc3\\xa9'
        mknod dev/null c 1 3
        mknod dev/loop0 b 7 0
        mkfifo dev/pipe
        setfattr -n user.note -v 'a note' etc/hostname
        setfattr -n trusted.md5 -v 0x00ff10 etc/hostname
        setfacl -m u:1234:rwx,g:99:r-x srv/shared
        setfacl -d -m u:1234:rwx,g:99:r-x srv/shared
        setfacl -m u:4321:r-- etc/hostname
        chown 1234:5678 usr/bin/big srv
        chown -h 7:8 usr/bin/sym
        chmod 4755 usr/bin/big
        chmod 2750 srv
        chmod 1777 empty
        chmod 0600 dev/pipe
        touch -h -d '2021-01-02 03:04:05.123456789' usr/bin/sym
        find . -mindepth 1 ! -type l -exec touch -d '2020-05-06 07:08:09.987654321' {} +
        touch -d '2019-01-01 00:00:00.5' usr/bin/big etc/hostname
        touch -d '2018-01-01 00:00:00' .
        """
    let result = try sh(script)
    if result.status != 0 { throw CocoaError(.fileWriteUnknown, userInfo: ["output": result.output]) }
}

@Suite(.serialized) struct TreeTarballTests {
    /// Writes the tree as a tarball, extracts it with GNU tar and compares.
    func roundTrip(_ format: TreeTarball.Format, ns: Bool) throws {
        let dir = try TemporaryDirectory("tarball")
        let source = dir.file("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try makeSourceTree(source)
        let tree = try TreeScanner().scan(source)
        let tarball = dir.file("root.tar")
        try TreeTarball(format: format).write(tree, to: tarball)
        #expect(listing(dir.path) == ["root.tar", "src"])

        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let extract = try run(["tar", "--xattrs", "--xattrs-include=*", "--acls", "-xpf", tarball, "-C", out])
        #expect(extract.status == 0 && extract.stderr.isEmpty, "\(extract.output)")

        let script = dir.file("compare_dirs.py")
        try compareDirsScript.write(toFile: script, atomically: false, encoding: .utf8)
        let compare = try run(["python3", script, source, out] + (ns ? ["--ns"] : []))
        #expect(compare.status == 0, "\(compare.output)")

        // GNU tar's own view: entries in tree order, a hard link stored as a link.
        let listed = try run(["tar", "tvf", tarball])
        let lines = listed.stdout.split(separator: "\n")
        #expect(lines.first?.hasSuffix(" ./") == true, "\(lines.first ?? "")")
        // etc/ comes before usr/ in tree order, so etc/big-link2 carries the data.
        #expect(lines.contains { $0.hasPrefix("-rwsr-xr-x 1234/5678   3000000 ") && $0.hasSuffix(" ./etc/big-link2") })
        #expect(lines.contains { $0.hasSuffix(" ./usr/bin/big link to ./etc/big-link2") }, "\(listed.stdout)")
        #expect(lines.contains { $0.hasSuffix(" ./usr/bin/big-link link to ./etc/big-link2") }, "\(listed.stdout)")
        let getcap = try run(["getcap", out + "/usr/bin/ping"])
        #expect(getcap.stdout.contains("cap_net_raw=ep"), "\(getcap.output)")
    }

    @Test(.enabled(if: isRoot && toolAvailable("setfacl") && toolAvailable("setcap") && toolAvailable("python3")))
    func paxRoundTripsExactly() throws {
        try roundTrip(.pax, ns: true)
    }

    @Test(.enabled(if: isRoot && toolAvailable("setfacl") && toolAvailable("setcap") && toolAvailable("python3")))
    func restrictedPaxRoundTripsToTheSecond() throws {
        try roundTrip(.paxRestricted, ns: false)
    }

    @Test(.enabled(if: isRoot && toolAvailable("setfacl")))
    func restrictedPaxKeepsNanosecondsWhereItHasAPaxHeader() throws {
        let dir = try TemporaryDirectory("tarball-ns")
        let source = dir.file("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try makeSourceTree(source)
        let tarball = dir.file("root.tar")
        try TreeTarball().write(try TreeScanner().scan(source), to: tarball)
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        _ = try run(["tar", "--xattrs", "--xattrs-include=*", "--acls", "-xpf", tarball, "-C", out])
        // etc/hostname has xattrs (so a pax header); dev/null has none.
        let stamp = try sh("stat -c %y '\(out)/etc/hostname' '\(out)/dev/null'").stdout
        #expect(stamp.contains("2019-01-01 00:00:00.500000000"), "\(stamp)")
        #expect(stamp.contains("2020-05-06 07:08:09.000000000"), "\(stamp)")
    }

    @Test func clampedTimesAndVanishedFilesLeaveNoTarball() throws {
        let dir = try TemporaryDirectory("tarball-fail")
        let source = dir.file("src")
        try FileManager.default.createDirectory(atPath: source + "/a", withIntermediateDirectories: true)
        try Data("one".utf8).write(to: URL(fileURLWithPath: source + "/a/one"))
        try Data("two".utf8).write(to: URL(fileURLWithPath: source + "/a/two"))
        let tree = try TreeScanner().scan(source)

        // Clamped to SOURCE_DATE_EPOCH.
        let clamped = dir.file("clamped.tar")
        try TreeTarball(format: .pax, clampTime: Timestamp(seconds: 1_000_000_000)).write(tree, to: clamped)
        let verbose = try run(["tar", "--full-time", "-tvf", clamped])
        #expect(verbose.stdout.split(separator: "\n").allSatisfy { $0.contains("2001-09-09") }, "\(verbose.stdout)")

        // A file removed after the scan: an error naming it, and no tarball.
        try FileManager.default.removeItem(atPath: source + "/a/two")
        let tarball = dir.file("root.tar")
        #expect {
            try TreeTarball().write(tree, to: tarball)
        } throws: { error in
            "\(error)" == source + "/a/two: file vanished while the image was being written"
        }
        // A file that shrank.
        try Data().write(to: URL(fileURLWithPath: source + "/a/one"))
        #expect(throws: IOError.sourceShrank(path: source + "/a/one", expected: 3, actual: 0)) {
            try TreeTarball().write(tree, to: tarball)
        }
        #expect(listing(dir.path) == ["clamped.tar", "src"])
    }
}
