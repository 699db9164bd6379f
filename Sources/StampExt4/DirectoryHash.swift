/// The directory-index hash ext4 uses with `dir_index`: "half MD4" over the name, keyed
/// by the superblock's `s_hash_seed`, reading name bytes as *signed* chars
/// (`s_flags` bit `EXT2_FLAGS_SIGNED_HASH`, as mke2fs sets on x86).
///
/// The result is even (bit 0 is the "continued collision" marker inside index entries).
struct DirectoryHash {
    private let seed: (UInt32, UInt32, UInt32, UInt32)

    /// - Parameter seed: the 16 bytes of `s_hash_seed`; all zeros selects MD4's constants.
    init(seed bytes: [UInt8]) {
        func word(_ i: Int) -> UInt32 {
            UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        }
        if bytes.allSatisfy({ $0 == 0 }) {
            seed = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
        } else {
            seed = (word(0), word(4), word(8), word(12))
        }
    }

    /// The major hash of `name`.
    func hash(_ name: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var buf = [seed.0, seed.1, seed.2, seed.3]
        var input = [UInt32](repeating: 0, count: 8)
        var offset = 0
        var remaining = name.count
        repeat {
            DirectoryHash.fill(&input, name, from: offset, length: remaining)
            DirectoryHash.transform(&buf, input)
            offset += 32
            remaining -= 32
        } while remaining > 0
        var h = buf[1] & ~1
        if h == 0x7FFF_FFFF << 1 { h = (0x7FFF_FFFF - 1) << 1 }
        return h
    }

    func hash(_ name: [UInt8]) -> UInt32 { name.withUnsafeBufferPointer { hash($0) } }

    /// e2fsprogs' `str2hashbuf`: packs up to 32 bytes into 8 words, padded with the length.
    private static func fill(_ out: inout [UInt32], _ name: UnsafeBufferPointer<UInt8>, from start: Int, length: Int) {
        var pad = UInt32(truncatingIfNeeded: length) | (UInt32(truncatingIfNeeded: length) << 8)
        pad |= pad << 16
        var value = pad
        let n = min(length, 32)
        var slot = 0
        for i in 0..<n {
            let c = Int32(Int8(bitPattern: name[start + i]))  // signed char
            value = UInt32(bitPattern: c) &+ (value << 8)
            if i % 4 == 3 {
                out[slot] = value
                slot += 1
                value = pad
            }
        }
        if slot < 8 && n % 4 != 0 {
            out[slot] = value
            slot += 1
        }
        while slot < 8 {
            out[slot] = pad
            slot += 1
        }
    }

    @inline(__always) private static func rotl(_ x: UInt32, _ s: UInt32) -> UInt32 { (x << s) | (x >> (32 - s)) }

    private static func transform(_ buf: inout [UInt32], _ x: [UInt32]) {
        var a = buf[0]
        var b = buf[1]
        var c = buf[2]
        var d = buf[3]
        func f(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { z ^ (x & (y ^ z)) }
        func g(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) &+ ((x ^ y) & z) }
        func h(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { x ^ y ^ z }
        let k2: UInt32 = 0o13240474631
        let k3: UInt32 = 0o15666365641
        // Round 1
        a = rotl(a &+ f(b, c, d) &+ x[0], 3)
        d = rotl(d &+ f(a, b, c) &+ x[1], 7)
        c = rotl(c &+ f(d, a, b) &+ x[2], 11)
        b = rotl(b &+ f(c, d, a) &+ x[3], 19)
        a = rotl(a &+ f(b, c, d) &+ x[4], 3)
        d = rotl(d &+ f(a, b, c) &+ x[5], 7)
        c = rotl(c &+ f(d, a, b) &+ x[6], 11)
        b = rotl(b &+ f(c, d, a) &+ x[7], 19)
        // Round 2
        a = rotl(a &+ g(b, c, d) &+ x[1] &+ k2, 3)
        d = rotl(d &+ g(a, b, c) &+ x[3] &+ k2, 5)
        c = rotl(c &+ g(d, a, b) &+ x[5] &+ k2, 9)
        b = rotl(b &+ g(c, d, a) &+ x[7] &+ k2, 13)
        a = rotl(a &+ g(b, c, d) &+ x[0] &+ k2, 3)
        d = rotl(d &+ g(a, b, c) &+ x[2] &+ k2, 5)
        c = rotl(c &+ g(d, a, b) &+ x[4] &+ k2, 9)
        b = rotl(b &+ g(c, d, a) &+ x[6] &+ k2, 13)
        // Round 3
        a = rotl(a &+ h(b, c, d) &+ x[3] &+ k3, 3)
        d = rotl(d &+ h(a, b, c) &+ x[7] &+ k3, 9)
        c = rotl(c &+ h(d, a, b) &+ x[2] &+ k3, 11)
        b = rotl(b &+ h(c, d, a) &+ x[6] &+ k3, 15)
        a = rotl(a &+ h(b, c, d) &+ x[1] &+ k3, 3)
        d = rotl(d &+ h(a, b, c) &+ x[5] &+ k3, 9)
        c = rotl(c &+ h(d, a, b) &+ x[0] &+ k3, 11)
        b = rotl(b &+ h(c, d, a) &+ x[4] &+ k3, 15)
        buf[0] = buf[0] &+ a
        buf[1] = buf[1] &+ b
        buf[2] = buf[2] &+ c
        buf[3] = buf[3] &+ d
    }
}
