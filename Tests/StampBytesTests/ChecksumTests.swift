import StampBytes
import Testing

struct ChecksumTests {
    let check = Array("123456789".utf8)

    @Test func crc32cMatchesTheCastagnoliCheckValue() {
        // The standard check value of CRC-32C is 0xE3069283 (with inversion on both ends).
        #expect(~crc32c(~0, check) == 0xE306_9283)
    }

    @Test func crc32cChainsAcrossSplits() {
        let whole = crc32c(~0, check)
        let split = crc32c(crc32c(~0, Array(check[0..<4])), Array(check[4...]))
        #expect(whole == split)
        // Unaligned lengths longer than a word exercise both the 8-byte and tail loops.
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(crc32c(crc32c(~0, Array(long[0..<333])), Array(long[333...])) == crc32c(~0, long))
    }

    @Test func crc32MatchesTheIEEECheckValue() {
        #expect(crc32(0, check) == 0xCBF4_3926)
        #expect(crc32(crc32(0, Array(check[0..<5])), Array(check[5...])) == 0xCBF4_3926)
    }
}

struct FieldTests {
    @Test func encodesBothByteOrders() {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.le32(0x1122_3344, at: 0)
            w.be32(0x1122_3344, at: 4)
            w.le16(0xABCD, at: 8)
            w.be64(0x0102_0304_0506_0708, at: 8)
        }
        #expect(bytes == [0x44, 0x33, 0x22, 0x11, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func readerRejectsOutOfBoundsFields() throws {
        let bytes: [UInt8] = [1, 2, 3]
        try bytes.withUnsafeBytes { raw throws in
            let r = FieldReader(raw)
            let v = try r.le16(at: 1)
            #expect(v == 0x0302)
            #expect(throws: FieldError.outOfBounds(offset: 2, size: 2, count: 3)) { try r.le16(at: 2) }
            #expect(throws: FieldError.self) { try r.le32(at: -1) }
        }
    }
}

struct IdentifierTests {
    @Test func parsesAndPrints() throws {
        let text = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
        let id = try #require(Identifier(text))
        #expect(id.description == text)
        // GPT mixed-endian encoding of the ESP type GUID.
        #expect(id.gptBytes == [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B])
        #expect(Identifier(gptBytes: id.gptBytes) == id)
        #expect(Identifier("not-a-uuid") == nil)
        #expect(Identifier("c12a7328f81f11d2ba4b00a0c93ec93b") == nil)
        // UInt8(_:radix:) alone would take a sign: "+f" is not two hex digits.
        #expect(Identifier("+f0e0d0c-0b0a-4908-8706-050403020100") == nil)
        #expect(Identifier("0f0e0d0c-0b0a-4908-8706-05040302-100") == nil)
    }

    @Test func parsesSizes() {
        #expect(parseSize("64M") == 64 << 20)
        #expect(parseSize("2GiB") == 2 << 30)
        #expect(parseSize("1.5G") == 3 << 29)
        #expect(parseSize("4096") == 4096)
        #expect(parseSize("-1G") == nil)
        #expect(parseSize("12Q") == nil)
        #expect(parseSize("") == nil)
    }
}
