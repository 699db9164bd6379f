/// DIB's root `mkfs` options, read the way mke2fs reads them and mapped onto stamp's ext4 writer.
///
/// DIB makes the root filesystem with
///
/// ```
/// mkfs -t ext4 [-E resize=MAX_ONLINE_RESIZE] -i 4096 -J size=DIB_JOURNAL_SIZE DIB_MKFS_OPTS -L LABEL -U UUID -q DEV
/// ```
///
/// (diskimage-builder's mkfs plugin of the block-device layer), so the user's `--mkfs-options` come after DIB's own
/// `-i`/`-J` (and win, as the last value of an option does in mke2fs) and before `-L`/`-U`
/// (and lose). mke2fs keeps only the last `-E` string, so a user `-E` replaces
/// `--max-online-resize`'s. What each option does here:
///
/// | option | effect |
/// |---|---|
/// | `-i N` | bytes per inode |
/// | `-m N` | percentage of blocks reserved for root (whole numbers) |
/// | `-J size=N` | journal size in MiB |
/// | `-E resize=N` | the block count online growth may reach: sizes the reserved GDT blocks |
/// | `-b 4096`, `-I 256`, `-g 32768`, `-r 1`, `-O` of features stamp writes anyway, `-t ext4`, `-q -F -j -K -v` | nothing to do: already so |
/// | `-L`, `-U` | a warning: DIB's own `-L`/`-U` come later and win |
/// | other `-E` keys, `-G`, `-T`, `-e`, `-o`, `-M`, `-c`, `-l`, `-n`, `-S`, `-D`, `-z`, `-s` | a warning naming the option: ignored |
/// | `-N`, `-C`, `-d`, `-O` that changes stamp's feature set, other `-b`/`-I`/`-g`/`-r`/`-t`, `-J device=`, arguments | an error before the build starts |
public struct DIBMkfsOptions: Sendable, Equatable {
    public var inodeRatio: UInt64 = 4096
    public var journalMiB: UInt64
    public var reservedPercent: UInt64 = 5
    /// `-E resize=`, in 4 KiB blocks.
    public var resizeLimitBlocks: UInt64?
    /// One line per option that was given but has no effect on the image.
    public var warnings: [String] = []

    /// The options stamp cannot honour, one line each; reported on one line.
    public struct Problems: Error, Sendable, CustomStringConvertible {
        public var problems: [String]
        public var description: String { problems.joined(separator: "; ") }
    }

    /// The features stamp writes (bookworm's mke2fs.conf ext4 set), by mke2fs's names.
    static let features: Set<String> = [
        "has_journal", "ext_attr", "resize_inode", "dir_index", "filetype", "extent", "extents", "64bit",
        "flex_bg", "sparse_super", "large_file", "huge_file", "dir_nlink", "extra_isize", "metadata_csum",
    ]
    /// mke2fs's short options that take a value (its getopt string, less the obsolete ones).
    static let withValue: Set<Character> = [
        "b", "d", "e", "g", "i", "l", "m", "o", "r", "s", "t", "C", "E", "G", "I", "J", "L", "M", "N", "O", "R", "T", "U", "z",
    ]
    static let harmless: Set<Character> = ["q", "F", "j", "K", "v"]

    /// Reads `options` (`DIB_MKFS_OPTS`, split on blanks as DIB does) after DIB's own
    /// `-E resize=maxOnlineResize -i 4096 -J size=journalMiB`.
    /// - Throws: ``Problems`` naming every option stamp cannot honour.
    public static func parse(options: String?, maxOnlineResize: String?, journalMiB: UInt64) throws(Problems)
        -> DIBMkfsOptions
    {
        var result = DIBMkfsOptions(journalMiB: journalMiB)
        var problems: [String] = []
        var extended: (text: String, fromUser: Bool)?
        if let maxOnlineResize, !maxOnlineResize.isEmpty { extended = ("resize=" + maxOnlineResize, false) }

        let words = (options ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        var pairs: [(Character, String?)] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            guard word.hasPrefix("-"), word.count > 1 else {
                problems.append("--mkfs-options: unexpected argument '\(word)' (DIB gives mkfs the device itself)")
                continue
            }
            var letters = Substring(word.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                if withValue.contains(letter) {
                    if !letters.isEmpty {
                        pairs.append((letter, String(letters)))
                    } else if index < words.count {
                        pairs.append((letter, words[index]))
                        index += 1
                    } else {
                        problems.append("--mkfs-options: -\(letter) needs a value")
                    }
                    break
                }
                pairs.append((letter, nil))
            }
        }

        for (letter, value) in pairs {
            let value = value ?? ""
            let shown = "--mkfs-options -\(letter)\(value.isEmpty ? "" : " " + value)"
            switch letter {
            case "i":
                guard let n = UInt64(value), (1024...67_108_864).contains(n) else {
                    problems.append("\(shown): bytes per inode must be a whole number from 1024 to 67108864")
                    continue
                }
                result.inodeRatio = n
            case "m":
                guard let n = UInt64(value), n <= 50 else {
                    problems.append("\(shown): stamp takes a whole percentage from 0 to 50")
                    continue
                }
                result.reservedPercent = n
            case "J":
                for item in value.split(separator: ",") {
                    let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                    if kv[0] == "size", kv.count == 2, let n = UInt64(kv[1]), (4...40_000).contains(n) {
                        result.journalMiB = n
                    } else if kv[0] == "size" {
                        problems.append("\(shown): journal size must be a whole number of MiB from 4 to 40000")
                    } else if kv[0] == "device" {
                        problems.append("\(shown): stamp writes the journal inside the filesystem, not on a device")
                    } else {
                        result.warnings.append("\(shown): '\(item)' ignored (stamp places the journal itself)")
                    }
                }
            case "E", "R": extended = (value, true)  // -R: the old name of -E
            case "O": problems += featureProblems(value, shown: shown)
            case "b": if value != "4096" && value != "4k" { problems.append("\(shown): stamp writes 4096-byte blocks only") }
            case "I": if value != "256" { problems.append("\(shown): stamp writes 256-byte inodes only") }
            case "g": if value != "32768" { problems.append("\(shown): stamp writes 32768 blocks per group only") }
            case "r": if value != "1" { problems.append("\(shown): stamp writes revision 1 filesystems only") }
            case "t": problems.append("\(shown): DIB passes -t itself and mke2fs refuses a second -t")
            case "N": problems.append("\(shown): stamp cannot set the inode count; give -i BYTES_PER_INODE instead")
            case "C": problems.append("\(shown): stamp does not write bigalloc filesystems")
            case "d": problems.append("\(shown): the filesystem's contents are the built tree")
            case "L":
                result.warnings.append(
                    "\(shown): ignored (DIB passes -L with the root label after these options; use --root-label)")
            case "U": result.warnings.append("\(shown): ignored (DIB passes -U with its own UUID after these options)")
            case "e" where value == "continue": break
            case _ where harmless.contains(letter): break
            default: result.warnings.append("\(shown): ignored (stamp's ext4 writer has no such setting)")
            }
        }

        if let (text, fromUser) = extended {
            let shown = fromUser ? "--mkfs-options -E \(text)" : "--max-online-resize"
            for item in text.split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                switch kv[0] {
                case "resize":
                    guard kv.count == 2, let blocks = resizeBlocks(kv[1]) else {
                        problems.append(
                            "\(shown): invalid resize parameter '\(kv.count == 2 ? kv[1] : "")' (a block count, or a size with K, M, G or T)"
                        )
                        continue
                    }
                    result.resizeLimitBlocks = blocks
                case "lazy_itable_init", "lazy_journal_init", "nodiscard", "discard", "assume_storage_prezeroed":
                    result.warnings.append("\(shown): '\(item)' has no effect (stamp writes every table and discards nothing)")
                default:
                    result.warnings.append("\(shown): '\(item)' ignored (stamp's ext4 writer has no such setting)")
                }
            }
            if fromUser, let maxOnlineResize, !maxOnlineResize.isEmpty, !text.contains("resize=") {
                result.warnings.append(
                    "--max-online-resize \(maxOnlineResize): ignored, as mke2fs keeps only the last -E and --mkfs-options gives one"
                )
            }
        }
        guard problems.isEmpty else { throw Problems(problems: problems) }
        return result
    }

    /// Problems with an `-O` list: anything that would change stamp's feature set.
    static func featureProblems(_ list: String, shown: String) -> [String] {
        list.split(separator: ",").compactMap { item in
            let off = item.hasPrefix("^")
            let name = String(off ? item.dropFirst() : item)
            if name == "none" { return "\(shown): stamp's feature set is fixed; it cannot clear every feature" }
            if features.contains(name) != off { return nil }  // already so
            return off
                ? "\(shown): stamp's feature set is fixed; it cannot turn \(name) off"
                : "\(shown): stamp's feature set is fixed; it does not write \(name)"
        }
    }

    /// mke2fs's `parse_num_blocks2` for 4 KiB blocks: a plain number is blocks; K, M, G, T
    /// suffixes are sizes; `s` is 512-byte sectors. Nil when malformed or zero.
    static func resizeBlocks(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var shift = 0  // left shift in KiB steps before converting KiB to blocks
        var unit: Character?
        if let last = digits.last, !last.isNumber {
            unit = last
            digits = digits.dropLast()
        }
        guard let n = UInt64(digits), n > 0 else { return nil }
        switch unit?.lowercased() {
        case nil: return n
        case "s": return n / 8
        case "k": shift = 0
        case "m": shift = 10
        case "g": shift = 20
        case "t": shift = 30
        default: return nil
        }
        let (kib, overflow) = n.multipliedReportingOverflow(by: 1 << UInt64(shift))
        guard !overflow, kib >= 4 else { return nil }
        return kib / 4
    }
}
