import Foundation
import StampTestSupport
import Testing

@testable import StampPackaging

/// ``OVAComposeTar``: members written in place behind a front reserved for the longest
/// descriptor; when the real one is shorter the members move down. Read back with GNU tar
/// and Python's tarfile, in each dialect.
@Suite(.enabled(if: toolAvailable("tar") && toolAvailable("python3")))
struct OVAComposeTarTests {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix(seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Writes an archive: a file member, a streamed member, the certificate; the descriptor's
    /// room reserved for `reserve` bytes.
    func check(format: USTARHeader.Format, reserve: Int) throws {
        let dir = try TemporaryDirectory("stamp-ova-compose-tar")
        defer { dir.cleanup() }
        let file = Self.random(100_000, seed: 1)
        let streamed = Self.random(3 << 20, seed: 2)
        let ovf = Array("<?xml version='1.0'?>\n<Envelope/>\n".utf8)
        let manifest = Array("SHA256(pkg.ovf)= 00\nSHA256(a.iso)= 00\nSHA256(b.vmdk)= 00\n".utf8)
        let cert = Array("SHA256(pkg.mf)= 00\n".utf8)
        try Data(file).write(to: URL(fileURLWithPath: dir.file("a.iso")))
        let tar = try OVAComposeTar(
            path: dir.file("pkg.ova"), ovfName: "pkg.ovf", manifestName: "pkg.mf", maximumOVFLength: reserve,
            manifestLength: manifest.count, format: format, mtime: 1_700_000_000)
        var seen = 0
        let copied = try tar.appendFile(name: "a.iso", path: dir.file("a.iso")) { seen += $0.count }
        #expect(copied == 100_000 && seen == 100_000)
        let at = try tar.beginMember(name: "b.vmdk")
        for start in stride(from: 0, to: streamed.count, by: 1 << 20) {
            try streamed[start..<(start + (1 << 20))].withUnsafeBytes { try tar.writer.write($0, at: at + UInt64(start)) }
        }
        tar.endMember(size: UInt64(streamed.count))
        #expect(!exists(dir.file("pkg.ova")), "nothing under the final name before finish")
        try tar.finish(ovf: ovf, manifest: manifest, trailer: [("pkg.cert", cert)])
        let size = try FileManager.default.attributesOfItem(atPath: dir.file("pkg.ova"))[.size] as? Int
        #expect(size.map { $0 % 10240 == 0 } == true, "whole 10 KiB records, as GNU tar writes")
        let list = try run(["tar", "--list", "--verbose", "--file", dir.file("pkg.ova")])
        #expect(list.status == 0, "\(list.output)")
        let names = list.stdout.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(names == ["pkg.ovf", "pkg.mf", "a.iso", "b.vmdk", "pkg.cert"], "\(list.output)")
        let x = try run(["tar", "-C", dir.path, "-xf", dir.file("pkg.ova"), "--one-top-level=x"])
        #expect(x.status == 0, "\(x.output)")
        #expect(try readBytes(dir.file("x/pkg.ovf")) == ovf && readBytes(dir.file("x/pkg.mf")) == manifest)
        #expect(try readBytes(dir.file("x/a.iso")) == file && readBytes(dir.file("x/b.vmdk")) == streamed)
        #expect(try readBytes(dir.file("x/pkg.cert")) == cert)
        // Python's tarfile sees the dialect asked for: the magic of each header, pax records.
        let script = """
            import sys, tarfile
            raw = open(sys.argv[1], "rb").read()
            t = tarfile.open(sys.argv[1])
            for m in t.getmembers():
                magic = raw[m.offset + 257:m.offset + 265]
                print(m.name, m.size, magic, m.pax_headers.get("mtime"), m.mtime, m.uname, oct(m.mode))
            """
        let py = try run(["python3", "-c", script, dir.file("pkg.ova")])
        #expect(py.status == 0, "\(py.output)")
        let lines = py.stdout.split(separator: "\n")
        #expect(lines.count == 5, "\(py.output)")
        for line in lines {
            switch format {
            case .gnu: #expect(line.contains("b'ustar  \\x00' None 1700000000 root 0o644"), "\(line)")
            case .ustar: #expect(line.contains("b'ustar\\x0000' None 1700000000 root 0o644"), "\(line)")
            case .pax: #expect(line.contains("b'ustar\\x0000' 1700000000 1700000000.0 root 0o644"), "\(line)")
            }
        }
        let members = try OVAVerifier.members(path: dir.file("pkg.ova"))
        #expect(members.map(\.name) == ["pkg.ovf", "pkg.mf", "a.iso", "b.vmdk", "pkg.cert"])
        #expect(members.map(\.size) == [UInt64(ovf.count), UInt64(manifest.count), 100_000, UInt64(streamed.count), 19])
    }

    /// The descriptor fills the room reserved: nothing moves.
    @Test(arguments: USTARHeader.Format.allCases)
    func exactReservation(format: USTARHeader.Format) throws { try check(format: format, reserve: 40) }

    /// Four blocks reserved, one used: the members move down three blocks.
    @Test(arguments: USTARHeader.Format.allCases)
    func shorterDescriptorMovesTheMembers(format: USTARHeader.Format) throws { try check(format: format, reserve: 2000) }

    /// A descriptor longer than its reservation is refused, and nothing is written.
    @Test func longerDescriptorIsRefused() throws {
        let dir = try TemporaryDirectory("stamp-ova-compose-tar")
        defer { dir.cleanup() }
        let tar = try OVAComposeTar(
            path: dir.file("pkg.ova"), ovfName: "pkg.ovf", manifestName: "pkg.mf", maximumOVFLength: 10, manifestLength: 1,
            format: .gnu, mtime: 0)
        #expect(throws: PackagingError.self) {
            try tar.finish(ovf: [UInt8](repeating: 0x20, count: 600), manifest: [0x0A])
        }
        tar.discard()
        #expect(listing(dir.path).isEmpty, "\(listing(dir.path))")
    }
}
