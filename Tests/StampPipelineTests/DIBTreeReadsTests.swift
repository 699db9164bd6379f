import Foundation
import StampTestSupport
import Testing

@testable import StampPipeline

/// What `disk-image-create` reads of the built tree without starting a program: the image size
/// report (checked line for line against real `du | sort | numfmt`) and the manifests copied
/// out (checked against real `cp -a`, and against a tree whose links point at host files).
@Suite struct DIBTreeReadsTests {
    /// DIB's report pipeline, as its disk-image-create runs it (sorted in the C locale).
    static let pipeline =
        "set -o pipefail; du -a -c -x -- \"$1\" | LC_ALL=C sort -nr | numfmt --to=iec-i --padding=7 --suffix=B --field=1 --from-unit=1024"

    /// A tree with what changes du's figures: hard links (counted once, listed at the first
    /// name met), a sparse file (its data only), files of sizes around the units' steps,
    /// links, empty directories, blanks and tabs in names.
    static func makeTree(_ root: String) throws {
        let made = try sh(
            """
            set -e; mkdir -p '\(root)'; cd '\(root)'
            mkdir -p a/b/c 'sp ace/x  y' empty 'tab\tdir'
            head -c 5000 /dev/urandom > a/small
            ln a/small a/b/hard; ln a/small 'sp ace/hard two'
            head -c 10600000 /dev/zero > a/b/ten-mib
            head -c 1048576 /dev/zero > a/b/c/one-mib
            head -c 9000000 /dev/zero > 'sp ace/x  y/nine'
            truncate -s 1G sparse; printf data | dd of=sparse bs=1 seek=500000000 conv=notrunc 2>/dev/null
            ln -s a/small link; ln -s /etc/passwd 'sp ace/abs'
            printf x > 'tab\tdir/f '; : > a/b/c/empty-file
            for i in $(seq 1 40); do head -c $((i * 777)) /dev/zero > "a/b/c/f$i"; done
            """)
        try #require(made.status == 0, "\(made.output)")
    }

    @Test func usageReportIsDus() throws {
        let dir = try TemporaryDirectory("stamp-usage")
        defer { dir.cleanup() }
        let root = dir.file("built")
        try Self.makeTree(root)
        let real = try run(["bash", "-c", Self.pipeline, "usage", root])
        try #require(real.status == 0, "\(real.output)")
        let expected = real.stdout.split(separator: "\n").map(String.init)
        let native = try DIBBuild.diskUsage(root: root).map(\.line)
        #expect(native == expected, "native:\n\(native.joined(separator: "\n"))\ndu:\n\(expected.joined(separator: "\n"))")
        #expect(native.count > 50)  // the tree was read, not an empty report

        // The short report keeps what DIB's egrep/grep keep; the full one everything.
        let short = try #require(try DIBBuild.imageUsageReport(root: root, environment: ["DIB_SHOW_IMAGE_USAGE": "1"]))
        let filtered = try run(["bash", "-c", Self.pipeline + " | grep -E 'MiB|GiB|TiB|PiB' | grep -v '\\..MiB'", "usage", root])
        #expect(Array(short[3..<(short.count - 3)]) == filtered.stdout.split(separator: "\n").map(String.init))
        #expect(
            short[1] == "Image size report (files > 10MiB)" && short.suffix(3) == ["", "===== end image size report =====", ""])
        let full = try #require(
            try DIBBuild.imageUsageReport(
                root: root, environment: ["DIB_SHOW_IMAGE_USAGE": "1", "DIB_SHOW_IMAGE_USAGE_FULL": "1"]))
        #expect(Array(full[3..<(full.count - 3)]) == expected)
        #expect(try DIBBuild.imageUsageReport(root: root, environment: ["DIB_SHOW_IMAGE_USAGE": "0"]) == nil)
    }

    /// numfmt's figures at each unit's steps, against numfmt itself.
    @Test func sizesAreNumfmts() throws {
        let sizes: [UInt64] = [
            0, 1, 4, 9, 10, 11, 1000, 1023, 1024, 1025, 10_239, 10_240, 10_241, 1_048_063, 1_048_575, 1_048_576, 123_456_789,
        ]
        let real = try run(
            ["numfmt", "--to=iec-i", "--padding=7", "--suffix=B", "--from-unit=1024"] + sizes.map(String.init))
        try #require(real.status == 0, "\(real.output)")
        #expect(sizes.map { DIBBuild.iecSize(kibibytes: $0) } == real.stdout.split(separator: "\n").map(String.init))
    }

    /// `find -printf` of a copy: path, type, mode, size, mtime, link target, owner.
    static func listing(_ directory: String) throws -> [String] {
        let found = try run(["find", directory, "-mindepth", "1", "-printf", "%P|%y|%m|%s|%T@|%l|%U|%G\\n"])
        #expect(found.status == 0, "\(found.output)")
        return found.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test func manifestsAreCopiedAsCpDoesWithoutFollowingLinks() throws {
        let dir = try TemporaryDirectory("stamp-manifests")
        defer { dir.cleanup() }
        let root = dir.file("built")
        let host = dir.file("host")
        let made = try sh(
            """
            set -e; mkdir -p '\(host)' '\(root)/etc/dib-manifests/sub/deeper' '\(root)/etc/dib-manifests/empty'
            echo SECRET > '\(host)/secret'; echo ORIGINAL > '\(host)/file'
            cd '\(root)/etc/dib-manifests'
            printf 'dpkg list\\n' > dib-manifest-dpkg; chmod 640 dib-manifest-dpkg
            head -c 70000 /dev/urandom > sub/blob; chmod 755 sub/blob; chmod 700 sub
            echo deep > 'sub/deeper/a file'
            ln -s dib-manifest-dpkg relative-link
            ln -s '\(host)/secret' escape-absolute
            ln -s ../../../../host/secret sub/escape-relative
            ln -s '\(host)' sub/escape-dir
            touch -d '2001-02-03 04:05:06.123456789' dib-manifest-dpkg sub/blob sub/deeper empty
            touch -h -d '2002-03-04 05:06:07' relative-link
            """)
        try #require(made.status == 0, "\(made.output)")
        let native = dir.file("native")
        try DIBBuild.writeManifests(root: root, directory: native)
        let reference = dir.file("reference")
        let copied = try sh(
            "mkdir -p '\(reference)/dib-manifests' && cp -a '\(root)/etc/dib-manifests/.' '\(reference)/dib-manifests/'")
        try #require(copied.status == 0, "\(copied.output)")
        let nativeListing = try Self.listing(native)
        #expect(nativeListing == (try Self.listing(reference)))
        #expect(nativeListing.count == 11, "\(nativeListing)")
        let diff = try run(["diff", "-r", "--no-dereference", native + "/dib-manifests", reference + "/dib-manifests"])
        #expect(diff.status == 0, "\(diff.output)")
        // The links stay links: no host file's bytes came out, none was written.
        let leaked = try run(["grep", "-r", "SECRET", native])
        #expect(leaked.status == 1, "\(leaked.output)")
        #expect(try String(contentsOfFile: host + "/file", encoding: .utf8) == "ORIGINAL\n")

        // An existing copy (upstream's manifests element) is merged into; a link in a file's
        // place is replaced, not written through.
        let merged = dir.file("merged")
        try sh(
            "mkdir -p '\(merged)/dib-manifests' && echo old > '\(merged)/dib-manifests/old' && ln -s '\(host)/file' '\(merged)/dib-manifests/dib-manifest-dpkg'"
        )
        try DIBBuild.writeManifests(root: root, directory: merged)
        #expect(try String(contentsOfFile: host + "/file", encoding: .utf8) == "ORIGINAL\n")
        #expect(try String(contentsOfFile: merged + "/dib-manifests/dib-manifest-dpkg", encoding: .utf8) == "dpkg list\n")
        #expect(FileManager.default.fileExists(atPath: merged + "/dib-manifests/old"))
    }

    /// `/etc/dib-manifests` or `/etc` a link to a host directory: nothing is copied.
    @Test(arguments: ["etc/dib-manifests", "etc"])
    func aLinkOnTheWayCopiesNothing(link: String) throws {
        let dir = try TemporaryDirectory("stamp-manifests-link")
        defer { dir.cleanup() }
        let root = dir.file("built")
        let host = dir.file("host")
        let parent = (root + "/" + link as NSString).deletingLastPathComponent
        let made = try sh(
            "set -e; mkdir -p '\(host)/dib-manifests' '\(parent)'; echo SECRET > '\(host)/dib-manifests/m'; ln -s '\(host)\(link == "etc" ? "" : "/dib-manifests")' '\(root)/\(link)'"
        )
        try #require(made.status == 0, "\(made.output)")
        let out = dir.file("out")
        try DIBBuild.writeManifests(root: root, directory: out)
        #expect(!FileManager.default.fileExists(atPath: out + "/dib-manifests"))
    }

    /// Over the entry limit: one line naming it, nothing written.
    @Test func anOversizedTreeIsRefusedWhole() throws {
        let dir = try TemporaryDirectory("stamp-manifests-limit")
        defer { dir.cleanup() }
        try sh("mkdir -p '\(dir.path)/src' && cd '\(dir.path)/src' && for i in 1 2 3 4 5; do echo $i > f$i; done")
        let source = try TreeBeneath(root: dir.file("src"))
        defer { source.close() }
        #expect {
            try DIBBuild.copyTree(source, to: dir.file("dst"), entryLimit: 4)
        } throws: { error in
            "\(error)".contains("more than 4 entries") && !"\(error)".contains("\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("dst")))
        #expect {
            try DIBBuild.copyTree(source, to: dir.file("dst"), byteLimit: 9)
        } throws: { error in
            "\(error)".contains("more than 9 bytes")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("dst")))
    }
}
