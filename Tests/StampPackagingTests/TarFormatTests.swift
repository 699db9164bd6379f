import Foundation
import StampTestSupport
import Testing

@testable import StampPackaging

/// The GNU and pax dialects of ``USTARHeader`` (ova-compose's `--tar-format`), checked against
/// blocks built from the field tables by hand and against GNU tar's own headers.
@Suite struct TarFormatTests {
    /// A 512-byte block from (text, offset) fields, its checksum summed here, independently
    /// of the encoder (the chksum field read as eight spaces, written as 6 octal digits, NUL, space).
    static func block(_ fields: [(String, Int)]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        for (text, offset) in fields {
            for (i, b) in text.utf8.enumerated() { bytes[offset + i] = b }
        }
        for i in 148..<156 { bytes[i] = 0x20 }
        let sum = bytes.reduce(0) { $0 + Int($1) }
        for (i, b) in (String(sum, radix: 8).leftPadded(to: 6) + "\0 ").utf8.enumerated() { bytes[148 + i] = b }
        return bytes
    }

    static let common: [(String, Int)] = [
        ("vm.ovf", 0), ("0000644", 100), ("0000000", 108), ("0000000", 116), ("00000002322", 124), ("14524770400", 136),
        ("0", 156), ("root", 265), ("root", 297),
    ]

    /// gnu: magic "ustar  \0" (no version), device numbers left NUL, as GNU tar writes them.
    @Test func gnuGoldenBytes() throws {
        let expected = Self.block(Self.common + [("ustar  ", 257)])
        let got = try USTARHeader.memberBlocks(name: "vm.ovf", fileSize: 1234, modificationTime: 1_700_000_000, format: .gnu)
        #expect(got == expected)
        #expect(Array(got[257..<265]) == Array("ustar  \0".utf8))
    }

    /// pax: an `x` header ("./PaxHeaders/NAME", the records' length, no owner names), one block
    /// of records ("20 mtime=1700000000\n"), then the ustar header.
    @Test func paxGoldenBytes() throws {
        let records = "20 mtime=1700000000\n"
        let extended = Self.block([
            ("./PaxHeaders/vm.ovf", 0), ("0000644", 100), ("0000000", 108), ("0000000", 116), ("00000000024", 124),
            ("14524770400", 136), ("x", 156), ("ustar", 257), ("00", 263), ("0000000", 329), ("0000000", 337),
        ])
        var recordBlock = [UInt8](repeating: 0, count: 512)
        recordBlock.replaceSubrange(0..<records.utf8.count, with: Array(records.utf8))
        let ustar = Self.block(Self.common + [("ustar", 257), ("00", 263), ("0000000", 329), ("0000000", 337)])
        let got = try USTARHeader.memberBlocks(name: "vm.ovf", fileSize: 1234, modificationTime: 1_700_000_000, format: .pax)
        #expect(got.count == 1536 && UInt64(got.count) == USTARHeader.Format.pax.headerLength)
        #expect(Array(got[0..<512]) == extended)
        #expect(Array(got[512..<1024]) == recordBlock)
        #expect(Array(got[1024..<1536]) == ustar)
        #expect(
            try USTARHeader.memberBlocks(name: "vm.ovf", fileSize: 1234, modificationTime: 1_700_000_000, format: .ustar) == ustar
        )
    }

    /// A record's length counts its own digits: " k=12345\n" is 9 bytes, and 9 + 1 digit = 10
    /// has two digits, so the record is 11.
    @Test func paxRecordLengths() {
        #expect(USTARHeader.paxRecord("a", "b") == Array("6 a=b\n".utf8))
        #expect(USTARHeader.paxRecord("k", "12345") == Array("11 k=12345\n".utf8))
        #expect(USTARHeader.paxRecord("k", "1234") == Array("9 k=1234\n".utf8))
        #expect(USTARHeader.paxRecord("size", "10737418240") == Array("20 size=10737418240\n".utf8))
    }

    /// Past 8 GiB − 1 a pax member carries a `size` record (and the GNU base-256 field).
    @Test func paxSizeRecordForHugeMembers() throws {
        let got = try USTARHeader.memberBlocks(name: "big.vmdk", fileSize: 10 << 30, modificationTime: 0, format: .pax)
        let records = String(decoding: got[512..<1024].prefix { $0 != 0 }, as: UTF8.self)
        #expect(records == "11 mtime=0\n20 size=10737418240\n")
        #expect(OVAVerifier.paxRecords(Array(got[512..<1024]))?["size"] == "10737418240")
    }

    /// GNU tar writes the same ustar and gnu header for the same file, owner and time.
    @Test(.enabled(if: toolAvailable("tar")), arguments: [USTARHeader.Format.gnu, .ustar])
    func sameAsGNUTar(format: USTARHeader.Format) throws {
        let dir = try TemporaryDirectory("stamp-tar-format")
        defer { dir.cleanup() }
        try Data(repeating: 0x41, count: 1234).write(to: URL(fileURLWithPath: dir.file("vm.ovf")))
        let r = try run([
            "tar", "-C", dir.path, "--format=\(format.rawValue)", "--owner=root:0", "--group=root:0", "--mode=0644",
            "--mtime=@1700000000", "-cf", dir.file("x.tar"), "vm.ovf",
        ])
        #expect(r.status == 0, "\(r.output)")
        let gnu = try readBytes(dir.file("x.tar"))
        let ours = try USTARHeader.memberBlocks(name: "vm.ovf", fileSize: 1234, modificationTime: 1_700_000_000, format: format)
        #expect(Array(gnu[0..<512]) == ours)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
