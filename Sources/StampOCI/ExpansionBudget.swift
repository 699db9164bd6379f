import Foundation

/// The bytes an image may expand to, counted as its layers are read: every member's size as
/// its tar header declares it, plus 512 bytes of metadata per member, over all layers.
///
/// A 66 KB zstd layer can declare 2 GiB of zeros (30,000:1); a registry can declare a 60 GiB
/// layer. So: declared blob sizes are checked against the limit before anything is
/// downloaded or staged (``ImageSource/fetchLayers(_:)``), and the expanded bytes are counted
/// against it member by member, before a member is written (``LayerApplier``) or while a layer
/// is measured to choose where the tree goes (``ImageSource/expandedSize(_:files:)``).
///
/// The limit: `--max-expanded SIZE` (stamp pack, stamp build), else `STAMP_MAX_EXPANDED`,
/// else ``defaultLimit`` (64 GiB).
public final class ExpansionBudget {
    public let limit: UInt64
    public private(set) var used: UInt64 = 0

    /// 64 GiB: more than any root filesystem stamp is asked for, far less than a bomb.
    public static let defaultLimit: UInt64 = 64 << 30

    public init(limit: UInt64) { self.limit = limit }

    /// The limit from `STAMP_MAX_EXPANDED` (a size: `512M`, `64G`, or bytes), else the default;
    /// nil when the variable is set but not a size.
    public static func limit(environment: [String: String]) -> UInt64? {
        guard let text = environment["STAMP_MAX_EXPANDED"], !text.isEmpty else { return defaultLimit }
        return parse(text)
    }

    /// A size: digits with an optional K, M, G or T suffix (powers of 1024, `iB` allowed).
    public static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var shift: UInt64 = 0
        for (suffix, bits) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10), ("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
            if digits.uppercased().hasSuffix(suffix.uppercased()) {
                digits = digits.dropLast(suffix.count)
                shift = UInt64(bits)
                break
            }
        }
        guard let value = UInt64(digits), value > 0, value <= UInt64.max >> shift else { return nil }
        return value << shift
    }

    /// Counts a member of `bytes` bytes; throws once the total passes the limit.
    func spend(_ bytes: UInt64, layer: String) throws {
        let (sum, overflow) = used.addingReportingOverflow(bytes &+ 512)
        used = overflow ? .max : sum
        if used > limit { throw OCIError.expansionLimit(what: layer, detail: "expands past", limit: limit) }
    }

    /// `64 GiB`, `512 MiB`, or bytes.
    static func display(_ bytes: UInt64) -> String {
        for (unit, bits) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]
        where bytes >= 1 << bits && bytes % (1 << bits) == 0 {
            return "\(bytes >> UInt64(bits)) \(unit)"
        }
        return "\(bytes) bytes"
    }
}
