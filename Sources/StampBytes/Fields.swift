/// Field-by-field encoding of on-disk structures.
///
/// Every binary structure stamp writes (ext4, FAT, GPT, MBR, VMDK are little-endian; qcow2
/// and VHD are big-endian) is encoded one field at a time at an explicit byte offset with an
/// explicit byte order, never by dumping a Swift struct's memory. `FieldWriter` is a cursorless
/// view over a mutable byte region; `FieldReader` is its read-only twin, and every read is
/// bounds-checked so that readers of untrusted images cannot trap.
///
/// ```swift
/// var sector = [UInt8](repeating: 0, count: 512)
/// sector.withUnsafeMutableBytes { raw in
///     let w = FieldWriter(raw)
///     w.le32(0x5346_4D4B, at: 0)      // "KDMV"
///     w.be64(1 << 30, at: 8)
/// }
/// ```
public struct FieldWriter {
    /// The region being written; offsets are relative to its start.
    public let bytes: UnsafeMutableRawBufferPointer

    public init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    /// A writer over `count` bytes starting `offset` bytes into this one.
    public func slice(at offset: Int, count: Int) -> FieldWriter {
        precondition(offset >= 0 && count >= 0 && offset + count <= bytes.count, "slice out of range")
        return FieldWriter(UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }

    @inline(__always) public func u8(_ value: UInt8, at offset: Int) {
        bytes.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }
    @inline(__always) public func le16(_ value: UInt16, at offset: Int) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) public func le32(_ value: UInt32, at offset: Int) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) public func le64(_ value: UInt64, at offset: Int) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
    @inline(__always) public func be16(_ value: UInt16, at offset: Int) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) public func be32(_ value: UInt32, at offset: Int) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) public func be64(_ value: UInt64, at offset: Int) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }

    /// Copies `source` to `offset`; the caller guarantees it fits.
    public func bytes<C: Collection>(_ source: C, at offset: Int) where C.Element == UInt8 {
        precondition(offset + source.count <= bytes.count, "field out of range")
        var i = offset
        for b in source {
            bytes[i] = b
            i += 1
        }
    }

    /// `text` as ASCII/UTF-8, truncated or padded with `pad` to exactly `width` bytes.
    public func string(_ text: String, at offset: Int, width: Int, pad: UInt8 = 0) {
        let utf8 = Array(text.utf8.prefix(width))
        bytes(utf8, at: offset)
        if utf8.count < width {
            for i in (offset + utf8.count)..<(offset + width) { bytes[i] = pad }
        }
    }

    /// Sets `count` bytes at `offset` to `value`.
    public func fill(_ value: UInt8, at offset: Int, count: Int) {
        precondition(offset + count <= bytes.count, "fill out of range")
        guard count > 0, let base = bytes.baseAddress else { return }
        (base + offset).initializeMemory(as: UInt8.self, repeating: value, count: count)
    }
}

/// Errors raised while decoding untrusted bytes.
public enum FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field at `offset` of `size` bytes lies outside a region of `count` bytes.
    case outOfBounds(offset: Int, size: Int, count: Int)

    public var description: String {
        switch self {
        case .outOfBounds(let offset, let size, let count):
            return "field of \(size) bytes at offset \(offset) lies outside \(count) bytes"
        }
    }
}

/// Bounds-checked decoding of fields at explicit offsets.
public struct FieldReader {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inline(__always) private func check(_ offset: Int, _ size: Int) throws(FieldError) {
        guard offset >= 0, size <= bytes.count, offset <= bytes.count - size else {
            throw .outOfBounds(offset: offset, size: size, count: bytes.count)
        }
    }
    public func u8(at offset: Int) throws(FieldError) -> UInt8 {
        try check(offset, 1)
        return bytes[offset]
    }
    public func le16(at offset: Int) throws(FieldError) -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    public func le32(at offset: Int) throws(FieldError) -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    public func le64(at offset: Int) throws(FieldError) -> UInt64 {
        try check(offset, 8)
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    public func be16(at offset: Int) throws(FieldError) -> UInt16 {
        try check(offset, 2)
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    public func be32(at offset: Int) throws(FieldError) -> UInt32 {
        try check(offset, 4)
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    public func be64(at offset: Int) throws(FieldError) -> UInt64 {
        try check(offset, 8)
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    public func bytes(at offset: Int, count: Int) throws(FieldError) -> [UInt8] {
        try check(offset, count)
        return Array(bytes[offset..<(offset + count)])
    }
}
