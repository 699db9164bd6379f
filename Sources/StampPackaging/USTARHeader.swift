/// One 512-byte POSIX ustar header block (POSIX.1-1988 / DSP0243's "tar"), encoded field by field.
///
/// ```
/// offset size field      how stamp writes it
///      0  100 name       member name, NUL-padded (plain file names in an OVA)
///    100    8 mode       7 octal digits + NUL       "0000644\0"
///    108    8 uid        7 octal digits + NUL       "0000000\0"
///    116    8 gid        7 octal digits + NUL       "0000000\0"
///    124   12 size       11 octal digits + NUL      (≥ 8 GiB: GNU base-256, see below)
///    136   12 mtime      11 octal digits + NUL      seconds since the epoch
///    148    8 chksum     6 octal digits + NUL + " " (sum of all 512 bytes, this field as 8 spaces)
///    156    1 typeflag   '0' regular file
///    157  100 linkname   NUL
///    257    6 magic      "ustar\0"
///    263    2 version    "00"
///    265   32 uname      "root", NUL-padded
///    297   32 gname      "root", NUL-padded
///    329    8 devmajor   "0000000\0"
///    337    8 devminor   "0000000\0"
///    345  155 prefix     NUL (never used: OVA members have short plain names)
///    500   12 (pad)      NUL
/// ```
///
/// The size field holds at most 8 GiB − 1 in octal. A bigger member (a large VMDK) gets GNU's
/// base-256 form: first byte 0x80, the value big-endian in the other 11 bytes — what GNU tar and
/// open-vmdk's ova-compose write. vSphere accepts it; PAX `x` headers are what it does not.
public struct USTARHeader: Sendable, Equatable {
    public static let size = 512
    /// Largest size the 11-digit octal field can hold.
    public static let maximumOctalSize: UInt64 = 0o77777777777

    public var name: String
    public var mode: UInt32 = 0o644
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    /// The member's data size in bytes.
    public var fileSize: UInt64
    /// Modification time, seconds since the epoch.
    public var modificationTime: UInt64
    public var typeflag: UInt8 = UInt8(ascii: "0")
    public var userName: String = "root"
    public var groupName: String = "root"

    public init(name: String, fileSize: UInt64, modificationTime: UInt64) {
        self.name = name
        self.fileSize = fileSize
        self.modificationTime = modificationTime
    }

    /// Checks that `name` can be a member name: 1–100 bytes of printable ASCII, no slash.
    public static func validate(memberName name: String) throws {
        let bytes = Array(name.utf8)
        if bytes.isEmpty || bytes.count > 100 {
            throw PackagingError.invalidMemberName(name: name, reason: "must be 1 to 100 bytes long")
        }
        if !bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) {
            throw PackagingError.invalidMemberName(name: name, reason: "must be printable ascii without spaces or slashes")
        }
        if name == "." || name == ".." {
            throw PackagingError.invalidMemberName(name: name, reason: "must not be a directory name")
        }
    }

    /// The 512 header bytes.
    /// - Throws: ``PackagingError/invalidMemberName(name:reason:)``.
    public func encode() throws -> [UInt8] {
        try Self.validate(memberName: name)
        var block = [UInt8](repeating: 0, count: Self.size)
        Self.setString(name, at: 0, width: 100, in: &block)
        Self.setOctal(UInt64(mode), at: 100, width: 8, in: &block)
        Self.setOctal(UInt64(uid), at: 108, width: 8, in: &block)
        Self.setOctal(UInt64(gid), at: 116, width: 8, in: &block)
        if fileSize <= Self.maximumOctalSize {
            Self.setOctal(fileSize, at: 124, width: 12, in: &block)
        } else {
            Self.setBase256(fileSize, at: 124, width: 12, in: &block)
        }
        if modificationTime <= 0o77777777777 {
            Self.setOctal(modificationTime, at: 136, width: 12, in: &block)
        } else {
            Self.setBase256(modificationTime, at: 136, width: 12, in: &block)  // past 2242, as GNU tar
        }
        block[156] = typeflag
        Self.setString("ustar", at: 257, width: 6, in: &block)  // "ustar\0"
        block[263] = UInt8(ascii: "0")
        block[264] = UInt8(ascii: "0")
        Self.setString(userName, at: 265, width: 32, in: &block)
        Self.setString(groupName, at: 297, width: 32, in: &block)
        Self.setOctal(0, at: 329, width: 8, in: &block)
        Self.setOctal(0, at: 337, width: 8, in: &block)
        // The checksum is computed with its own field read as eight spaces.
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(UInt64(0)) { $0 + UInt64($1) }
        Self.setOctal(sum, at: 148, width: 7, in: &block)  // 6 digits + NUL; byte 155 stays " "
        return block
    }

    /// Writes `value` as `width - 1` zero-padded octal digits followed by NUL.
    static func setOctal(_ value: UInt64, at offset: Int, width: Int, in block: inout [UInt8]) {
        var v = value
        var i = offset + width - 2
        while i >= offset {
            block[i] = UInt8(ascii: "0") + UInt8(v & 7)
            v >>= 3
            i -= 1
        }
        precondition(v == 0, "value \(value) does not fit \(width - 1) octal digits")
        block[offset + width - 1] = 0
    }

    /// GNU base-256: 0x80 then the value big-endian in the remaining `width - 1` bytes.
    static func setBase256(_ value: UInt64, at offset: Int, width: Int, in block: inout [UInt8]) {
        block[offset] = 0x80
        var v = value
        for i in stride(from: offset + width - 1, to: offset, by: -1) {
            block[i] = UInt8(v & 0xFF)
            v >>= 8
        }
    }

    /// Copies `text`'s UTF-8 bytes (truncated to `width`) and leaves the rest NUL.
    static func setString(_ text: String, at offset: Int, width: Int, in block: inout [UInt8]) {
        for (i, byte) in text.utf8.prefix(width).enumerated() { block[offset + i] = byte }
    }
}
