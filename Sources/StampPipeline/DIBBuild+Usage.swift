#if canImport(Glibc)
    import Glibc
#endif

/// DIB's image size report (`DIB_SHOW_IMAGE_USAGE`), computed here rather than by running
/// `du -a -c -x ROOT | sort -nr | numfmt --to=iec-i --padding=7 --suffix=B --field=1
/// --from-unit=1024`, line for line what that pipeline prints:
///
/// ```
///   11MiB total             ◄─ du -c: the sum, a line like the others
///   11MiB /tmp/x/built      ◄─ a directory: its own blocks and all below it
///  8.0KiB /tmp/x/built/a b  ◄─ size: allocated 1 KiB blocks (st_blocks), rounded up; the
///      0B /tmp/x/built/s        blank after it, and each blank ending a word of the path,
///  └─┬──┘                       printed as one space (numfmt re-joins the fields it split)
///    numfmt: ≥ 1024 scaled by 1024 (K, M, G, T, P, E + "iB"), one decimal below 10,
///    rounded up, right-aligned in 7 columns
/// ```
///
/// As `du`: every entry of the root's file system once (another file system mounted inside is
/// left out with its contents, `-x`), a file with several hard links counted and listed once,
/// at the first name met in directory order; sizes are allocated blocks, so a sparse file
/// counts only its data. As `sort -nr` in the C locale: largest first, equal sizes by the
/// line's bytes, greatest first.
extension DIBBuild {
    /// `DIB_SHOW_IMAGE_USAGE` (any value but empty or `0`): the report's lines, title and end
    /// included. Without `DIB_SHOW_IMAGE_USAGE_FULL` (empty or `0`) only lines of 10 MiB and
    /// more are kept, DIB's filter: those naming `MiB`, `GiB`, `TiB` or `PiB`, less the
    /// one-decimal `MiB` sizes numfmt prints below 10 MiB. Nil when the report is not asked for.
    static func imageUsageReport(root: String, environment: [String: String]) throws -> [String]? {
        let show = environment["DIB_SHOW_IMAGE_USAGE"] ?? ""
        guard !show.isEmpty && show != "0" else { return nil }
        let full = !(environment["DIB_SHOW_IMAGE_USAGE_FULL"] ?? "").isEmpty && environment["DIB_SHOW_IMAGE_USAGE_FULL"] != "0"
        var lines: [String]
        do {
            lines = try diskUsage(root: root).map(\.line)
        } catch {
            throw PackProblems(problems: ["image size report: \(error)"])
        }
        if !full { lines = lines.filter(isTenMiBOrMore) }
        let title = full ? "Image size report" : "Image size report (files > 10MiB)"
        let rule = String(repeating: "=", count: title.count)
        return [rule, title, rule] + lines + ["", "===== end image size report =====", ""]
    }

    /// DIB's filter of the short report: `egrep 'MiB|GiB|TiB|PiB' | grep -v '\..MiB'`.
    static func isTenMiBOrMore(_ line: String) -> Bool {
        ["MiB", "GiB", "TiB", "PiB"].contains { line.contains($0) }
            && line.range(of: #"\..MiB"#, options: .regularExpression) == nil
    }

    /// One line of the report: its size in KiB and the text printed.
    struct UsageLine {
        var kibibytes: UInt64
        var line: String
    }

    /// `du -a -c -x ROOT | sort -nr | numfmt …` (see the diagram above), every line.
    static func diskUsage(root: String) throws -> [UsageLine] {
        let tree = try TreeBeneath(root: root)
        defer { tree.close() }
        struct Key: Hashable {
            var device: UInt64
            var inode: UInt64
        }
        var seen = Set<Key>()
        var rootDevice: UInt64 = 0
        var totals: [UInt64] = []  // 512-byte blocks of each directory entered, innermost last
        var found: [(blocks: UInt64, path: [UInt8])] = []
        func pathBytes(_ relative: [UInt8]) -> [UInt8] { Array(root.utf8) + (relative.isEmpty ? [] : [0x2F] + relative) }
        try tree.walk { event in
            switch event {
            case .enter(let entry):
                if entry.relative.isEmpty { rootDevice = UInt64(entry.info.st_dev) }
                guard UInt64(entry.info.st_dev) == rootDevice else { return false }
                totals.append(UInt64(entry.info.st_blocks))
                return true
            case .entry(let entry):
                guard UInt64(entry.info.st_dev) == rootDevice else { return true }
                if entry.info.st_nlink > 1 {
                    guard seen.insert(Key(device: UInt64(entry.info.st_dev), inode: UInt64(entry.info.st_ino))).inserted else {
                        return true
                    }
                }
                let blocks = UInt64(entry.info.st_blocks)
                totals[totals.count - 1] += blocks
                found.append((blocks, pathBytes(entry.relative)))
                return true
            case .leave(let entry):
                let blocks = totals.removeLast()
                if !totals.isEmpty { totals[totals.count - 1] += blocks }
                found.append((blocks, pathBytes(entry.relative)))
                return true
            }
        }
        if let top = found.last { found.append((top.blocks, Array("total".utf8))) }
        // sort -nr: by the number, then (the last resort) by the whole line, both reversed.
        let kib = found.map { (kib: ($0.blocks + 1) / 2, path: $0.path) }
        let sorted = kib.sorted { a, b in
            a.kib != b.kib ? a.kib > b.kib : b.path.lexicographicallyPrecedes(a.path)
        }
        return sorted.map { UsageLine(kibibytes: $0.kib, line: iecSize(kibibytes: $0.kib) + " " + numfmtJoined($0.path)) }
    }

    /// numfmt's `--to=iec-i --suffix=B --padding=7 --from-unit=1024` of a size in KiB: scaled
    /// by 1024 while 1024 or more, one decimal below 10 (none for plain bytes), rounded away
    /// from zero, a carry to 1024 moved to the next unit.
    static func iecSize(kibibytes: UInt64) -> String {
        let units = ["", "K", "M", "G", "T", "P", "E"]
        var value = Double(kibibytes) * 1024
        var power = 0
        while value >= 1024 && power < units.count - 1 {
            value /= 1024
            power += 1
        }
        let decimals = value < 10 ? 1 : 0
        let scale = decimals == 1 ? 10.0 : 1.0
        value = (value * scale).rounded(.up) / scale
        if value >= 1024 && power < units.count - 1 {
            value /= 1024
            power += 1
        }
        let showDecimal = value != 0 && value < 10 && power > 0
        let number = showDecimal ? formatOneDecimal(value) : String(UInt64(value.rounded(.up)))
        let text = number + units[power] + (power > 0 ? "i" : "") + "B"
        return String(repeating: " ", count: max(0, 7 - text.count)) + text
    }

    private static func formatOneDecimal(_ value: Double) -> String {
        let tenths = UInt64((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// The path as numfmt prints the fields after the first: each blank (space or tab) that
    /// ends a word becomes a space; other blanks stay as they are.
    static func numfmtJoined(_ path: [UInt8]) -> String {
        var out = path
        for i in out.indices.dropFirst() where (out[i] == 0x20 || out[i] == 0x09) && out[i - 1] != 0x20 && out[i - 1] != 0x09 {
            out[i] = 0x20
        }
        return String(decoding: out, as: UTF8.self)
    }
}
