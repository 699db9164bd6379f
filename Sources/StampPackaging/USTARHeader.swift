/// One 512-byte tar header block in one of three dialects (``Format``), encoded field by field:
/// POSIX.1-1988 ustar (DSP0243's "tar"), GNU tar's `gnu` format, and POSIX.1-2001 pax.
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
///    257    6 magic      "ustar\0"                  gnu: "ustar " (with version: "ustar  \0")
///    263    2 version    "00"                       gnu: " \0"
///    265   32 uname      "root", NUL-padded
///    297   32 gname      "root", NUL-padded
///    329    8 devmajor   "0000000\0"                gnu: NUL (as GNU tar leaves it)
///    337    8 devminor   "0000000\0"                gnu: NUL
///    345  155 prefix     NUL (never used: OVA members have short plain names)
///    500   12 (pad)      NUL
/// ```
///
/// The size field holds at most 8 GiB − 1 in octal. A bigger member (a large VMDK) gets GNU's
/// base-256 form: first byte 0x80, the value big-endian in the other 11 bytes — what GNU tar and
/// open-vmdk's ova-compose write. vSphere accepts it; PAX `x` headers are what it does not.
///
/// The pax dialect (``memberBlocks(name:fileSize:modificationTime:format:)``) puts an extended
/// header before each member's ustar header, as GNU tar `--format=posix` does:
///
/// ```
/// block 0   ustar header, typeflag 'x', name "./PaxHeaders/NAME", size = the records' length,
///           uname/gname empty
/// block 1   records "LEN key=value\n": "mtime=SECONDS", and "size=BYTES" past 8 GiB − 1
///           (LEN counts the whole record, its own digits included), NUL-padded
/// block 2   the member's ustar header
/// ```
public struct USTARHeader: Sendable, Equatable {
    public static let size = 512

    /// The tar dialect (ova-compose's `--tar-format`, GNU tar's `--format`).
    public enum Format: String, Sendable, CaseIterable {
        /// POSIX.1-1988: magic "ustar\0", version "00".
        case ustar
        /// GNU tar's default: magic "ustar  \0", device fields NUL.
        case gnu
        /// POSIX.1-2001: ustar headers, each after a pax extended header.
        case pax

        /// The bytes before a member's data: one block, three for pax.
        public var headerLength: UInt64 { self == .pax ? 3 * 512 : 512 }
    }

    /// The header format this block is written in.
    public var format: Format = .ustar
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
        return encodeUnchecked()
    }

    /// The 512 bytes, the name taken as it is (a pax extended header's name has slashes).
    func encodeUnchecked() -> [UInt8] {
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
        if format == .gnu {
            Self.setString("ustar  ", at: 257, width: 8, in: &block)  // "ustar  \0"
        } else {
            Self.setString("ustar", at: 257, width: 6, in: &block)  // "ustar\0"
            block[263] = UInt8(ascii: "0")
            block[264] = UInt8(ascii: "0")
        }
        Self.setString(userName, at: 265, width: 32, in: &block)
        Self.setString(groupName, at: 297, width: 32, in: &block)
        if format != .gnu {
            Self.setOctal(0, at: 329, width: 8, in: &block)
            Self.setOctal(0, at: 337, width: 8, in: &block)
        }
        // The checksum is computed with its own field read as eight spaces.
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(UInt64(0)) { $0 + UInt64($1) }
        Self.setOctal(sum, at: 148, width: 7, in: &block)  // 6 digits + NUL; byte 155 stays " "
        return block
    }

    /// Everything before a member's data in `format`: its header block, and for pax the
    /// extended header and its records first (``Format/headerLength`` bytes in all).
    public static func memberBlocks(name: String, fileSize: UInt64, modificationTime: UInt64, format: Format) throws
        -> [UInt8]
    {
        var header = USTARHeader(name: name, fileSize: fileSize, modificationTime: modificationTime)
        header.format = format
        guard format == .pax else { return try header.encode() }
        var records = paxRecord("mtime", "\(modificationTime)")
        if fileSize > maximumOctalSize { records += paxRecord("size", "\(fileSize)") }
        precondition(records.count <= size, "the pax records fit one block")
        // The extended header's own name only labels it; readers do not create it.
        var extended = USTARHeader(
            name: String(decoding: ("./PaxHeaders/" + name).utf8.prefix(100), as: UTF8.self), fileSize: UInt64(records.count),
            modificationTime: modificationTime)
        extended.format = .pax
        extended.typeflag = UInt8(ascii: "x")
        extended.userName = ""
        extended.groupName = ""
        return try extended.encodeUnchecked() + records + [UInt8](repeating: 0, count: size - records.count) + header.encode()
    }

    /// One pax record, `"LEN key=value\n"`, LEN being the record's whole length in decimal.
    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n".utf8.count
        var length = body + 1
        while "\(length)".utf8.count + body != length { length = "\(length)".utf8.count + body }
        return Array("\(length) \(key)=\(value)\n".utf8)
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
