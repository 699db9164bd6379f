import StampBytes

/// 8.3 short names and VFAT long-file-name (LFN) entries.
///
/// ```
///  short entry (32 bytes)                    LFN entry (32 bytes), stored before its short entry,
///  0  DIR_Name "BOOTX64 EFI" (11)            last part first:
///  11 DIR_Attr  (10 dir, 20 file, 08 label)   0  LDIR_Ord (n | 0x40 on the last part)
///  13 DIR_CrtTimeTenth                        1  name chars 1–5   (UTF-16LE)
///  14 DIR_CrtTime  16 DIR_CrtDate             11 attr 0F   12 type 0   13 checksum of short name
///  18 DIR_LstAccDate                          14 name chars 6–11
///  20 DIR_FstClusHI                           26 first cluster 0
///  22 DIR_WrtTime  24 DIR_WrtDate             28 name chars 12–13
///  26 DIR_FstClusLO  28 DIR_FileSize          (after the name: one 0000, then FFFF padding)
/// ```
enum FATNames {
    /// Characters allowed in a short name besides A–Z and 0–9.
    static let shortSpecials: Set<UInt8> = Set("!#$%&'()-@^_`{}~".utf8)
    /// Characters never allowed in a long name.
    static let forbidden: Set<Character> = ["/", "\\", ":", "*", "?", "\"", "<", ">", "|"]

    /// Why a name cannot be stored, or nil if it can.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name == "." || name == ".." { return "reserved name" }
        if name.utf16.count > 255 { return "longer than 255 characters" }
        if name.hasSuffix(".") || name.hasSuffix(" ") { return "ends with a dot or a space" }
        for c in name {
            if forbidden.contains(c) { return "contains '\(c)'" }
            if c.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "contains a control character" }
        }
        return nil
    }

    /// The 11-byte short name if `name` is already a valid upper-case 8.3 name, else nil.
    static func exactShortName(_ name: String) -> [UInt8]? {
        let bytes = Array(name.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = parts.first, !base.isEmpty, base.count <= 8 else { return nil }
        let ext = parts.count == 2 ? Array(parts[1]) : []
        guard ext.count <= 3, parts.count == 1 || !ext.isEmpty else { return nil }
        func ok(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || shortSpecials.contains(b)
        }
        guard base.allSatisfy(ok), ext.allSatisfy(ok) else { return nil }
        return pad(Array(base), 8) + pad(ext, 3)
    }

    static func pad(_ bytes: [UInt8], _ width: Int) -> [UInt8] {
        Array(bytes.prefix(width)) + [UInt8](repeating: 0x20, count: max(0, width - bytes.count))
    }

    /// A short name for a name that needs an LFN: the Windows-style basis name with a numeric
    /// tail (`LONGFI~1.TXT`) that is not in `taken`.
    static func generatedShortName(_ name: String, taken: Set<[UInt8]>) -> [UInt8] {
        func clean(_ s: Substring) -> [UInt8] {
            s.uppercased().unicodeScalars.compactMap { u -> UInt8? in
                if u == " " || u == "." { return nil }
                guard u.isASCII else { return UInt8(ascii: "_") }
                let b = UInt8(u.value)
                let ok =
                    (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                    || shortSpecials.contains(b)
                return ok ? b : UInt8(ascii: "_")
            }
        }
        let trimmed = name.drop { $0 == "." }
        let dot = trimmed.lastIndex(of: ".")
        var base = clean(dot.map { trimmed[..<$0] } ?? trimmed[...])
        let ext = Array(clean(dot.map { trimmed[trimmed.index(after: $0)...] } ?? "").prefix(3))
        if base.isEmpty { base = Array("_".utf8) }
        // A lossless upper-casing needs no tail (e.g. "grub.cfg" -> "GRUB.CFG").
        if let exact = exactShortName(name.uppercased()), !taken.contains(exact) { return exact }
        var n = 1
        while true {
            let tail = Array("~\(n)".utf8)
            let candidate = pad(Array(base.prefix(8 - tail.count)) + tail, 8) + pad(ext, 3)
            if !taken.contains(candidate) { return candidate }
            n += 1
        }
    }

    /// The checksum LFN entries carry of their short name.
    static func checksum(_ short: [UInt8]) -> UInt8 {
        var sum: UInt8 = 0
        for b in short { sum = ((sum & 1) << 7) &+ (sum >> 1) &+ b }
        return sum
    }

    /// The LFN entries for `name`, in on-disk order (highest ordinal first).
    static func longNameEntries(_ name: String, shortName: [UInt8]) -> [[UInt8]] {
        var units = Array(name.utf16)
        let count = (units.count + 12) / 13
        if units.count % 13 != 0 { units.append(0) }
        while units.count < count * 13 { units.append(0xFFFF) }
        let sum = checksum(shortName)
        var entries: [[UInt8]] = []
        for part in stride(from: count, through: 1, by: -1) {
            var e = [UInt8](repeating: 0, count: 32)
            e.withUnsafeMutableBytes { raw in
                let w = FieldWriter(raw)
                w.u8(UInt8(part) | (part == count ? 0x40 : 0), at: 0)
                w.u8(0x0F, at: 11)
                w.u8(sum, at: 13)
                let chunk = units[(part - 1) * 13..<part * 13]
                let slots = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                for (slot, unit) in zip(slots, chunk) { w.le16(unit, at: slot) }
            }
            entries.append(e)
        }
        return entries
    }
}

/// DOS date and time (UTC) of a Unix timestamp, clamped to 1980-01-01 … 2107-12-31.
struct DOSTimestamp: Equatable {
    var date: UInt16
    var time: UInt16

    init(unixSeconds: Int64) {
        let minimum: Int64 = 315_532_800  // 1980-01-01T00:00:00Z
        let maximum: Int64 = 4_354_819_199  // 2107-12-31T23:59:59Z
        let t = min(max(unixSeconds, minimum), maximum)
        let days = t / 86_400
        let seconds = t % 86_400
        // Civil date from days since 1970-01-01 (Hinnant's algorithm).
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        date = UInt16((year - 1980) << 9 | month << 5 | day)
        time = UInt16((seconds / 3600) << 11 | (seconds % 3600 / 60) << 5 | (seconds % 60) / 2)
    }
}
