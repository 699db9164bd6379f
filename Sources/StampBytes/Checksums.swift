import CStampSupport

/// CRC-32C (Castagnoli) as ext4 and jbd2 use it: no final inversion, the caller's seed taken
/// as the register value. `crc32c(~0, bytes)` is ext4's `ext4_chksum(sbi, ~0, ...)`.
@inline(__always)
public func crc32c(_ seed: UInt32, _ data: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = data.baseAddress, data.count > 0 else { return seed }
    return stamp_crc32c(seed, base, data.count)
}

/// CRC-32C over an array's bytes.
@inline(__always)
public func crc32c(_ seed: UInt32, _ data: [UInt8]) -> UInt32 {
    data.withUnsafeBytes { crc32c(seed, $0) }
}

/// CRC-32C over one little-endian 32-bit value (ext4 mixes inode and group numbers in this way).
@inline(__always)
public func crc32c(_ seed: UInt32, le32 value: UInt32) -> UInt32 {
    withUnsafeBytes(of: value.littleEndian) { crc32c(seed, $0) }
}

/// CRC-32C over one little-endian 64-bit value.
@inline(__always)
public func crc32c(_ seed: UInt32, le64 value: UInt64) -> UInt32 {
    withUnsafeBytes(of: value.littleEndian) { crc32c(seed, $0) }
}

/// CRC-32 (IEEE 802.3, zlib's and GPT's): `crc32(0, bytes)`, chainable.
@inline(__always)
public func crc32(_ crc: UInt32, _ data: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = data.baseAddress, data.count > 0 else { return crc }
    return stamp_crc32(crc, base, data.count)
}

/// CRC-32 over an array's bytes.
@inline(__always)
public func crc32(_ crc: UInt32, _ data: [UInt8]) -> UInt32 {
    data.withUnsafeBytes { crc32(crc, $0) }
}
