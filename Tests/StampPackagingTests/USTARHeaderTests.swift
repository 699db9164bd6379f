import Testing

@testable import StampPackaging

@Suite struct USTARHeaderTests {
    /// A header built from the field table by hand, independent of the encoder.
    ///
    /// Checksum by hand (sum of the bytes of each field, the chksum field as 8 spaces):
    /// name "vm.ovf" 604, mode "0000644\0" 350, uid 336, gid 336, size "00000002322\0" 537
    /// (1234 = 0o2322), mtime "14524770400\0" 562 (1700000000 = 0o14524770400), chksum spaces 256,
    /// typeflag '0' 48, magic "ustar\0" 559, version "00" 96, uname "root" 452, gname "root" 452,
    /// devmajor 336, devminor 336: total 5260 = 0o12214, written "012214\0 ".
    @Test func goldenBytes() throws {
        var expected = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int) {
            for (i, b) in text.utf8.enumerated() { expected[offset + i] = b }
        }
        put("vm.ovf", 0)
        put("0000644", 100)
        put("0000000", 108)
        put("0000000", 116)
        put("00000002322", 124)
        put("14524770400", 136)
        put("012214", 148)
        put(" ", 155)
        put("0", 156)
        put("ustar", 257)
        put("00", 263)
        put("root", 265)
        put("root", 297)
        put("0000000", 329)
        put("0000000", 337)
        let header = USTARHeader(name: "vm.ovf", fileSize: 1234, modificationTime: 1_700_000_000)
        #expect(try header.encode() == expected)
    }

    @Test func hugeSizesUseBase256() throws {
        let size: UInt64 = 10 << 30  // 10 GiB > 8 GiB - 1
        let bytes = try USTARHeader(name: "big.vmdk", fileSize: size, modificationTime: 0).encode()
        #expect(bytes[124] == 0x80)
        let value = bytes[125..<136].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(value == size)
        let largestOctal = try USTARHeader(name: "x", fileSize: USTARHeader.maximumOctalSize, modificationTime: 0)
            .encode()
        #expect(Array(largestOctal[124..<136]) == Array("77777777777\0".utf8))
    }

    /// Times past 2242 (11 octal digits) are GNU base-256, as sizes are (a precondition
    /// trapped on `--source-date-epoch 8589934592` before).
    @Test func timesPast2242UseBase256() throws {
        let time: UInt64 = 1 << 33
        let bytes = try USTARHeader(name: "vm.ovf", fileSize: 1, modificationTime: time).encode()
        #expect(bytes[136] == 0x80)
        #expect(bytes[137..<148].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == time)
    }

    @Test(arguments: ["", String(repeating: "a", count: 101), "dir/x.ovf", "caf\u{e9}.ovf", "a b.ovf", ".."])
    func badNamesAreRejected(_ name: String) {
        #expect(throws: PackagingError.self) { try USTARHeader.validate(memberName: name) }
    }
}
