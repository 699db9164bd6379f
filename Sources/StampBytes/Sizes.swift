/// Integer helpers for the alignment arithmetic every layout needs.
extension BinaryInteger {
    /// `self` rounded up to a multiple of `alignment` (> 0).
    @inline(__always) public func roundedUp(toMultipleOf alignment: Self) -> Self {
        (self + alignment - 1) / alignment * alignment
    }
    /// `self / divisor`, rounded up.
    @inline(__always) public func dividedRoundingUp(by divisor: Self) -> Self {
        (self + divisor - 1) / divisor
    }
}

/// Parses a human size: `123`, `64K`, `512M`, `2G`, `1.5G`, `10GiB`, `100MB` (binary units;
/// `B` suffix optional). Returns bytes, or nil when malformed or negative.
public func parseSize(_ text: String) -> UInt64? {
    var s = text.trimmingCharactersInSet(" ")
    guard !s.isEmpty else { return nil }
    if s.hasSuffix("iB") || s.hasSuffix("ib") {
        s.removeLast(2)
    } else if s.hasSuffix("B") || s.hasSuffix("b") {
        s.removeLast()
    }
    var multiplier: Double = 1
    if let last = s.last, last.isLetter {
        switch last.uppercased() {
        case "K": multiplier = 1024
        case "M": multiplier = 1024 * 1024
        case "G": multiplier = 1024 * 1024 * 1024
        case "T": multiplier = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        s.removeLast()
    }
    guard !s.isEmpty, s.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(s), value >= 0 else { return nil }
    let bytes = value * multiplier
    guard bytes < 9.2e18 else { return nil }
    return UInt64(bytes.rounded(.up))
}

extension String {
    fileprivate func trimmingCharactersInSet(_ set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

/// Formats a byte count the way people read it: `812.4 MiB`.
public func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    let tenths = (value * 10).rounded() / 10
    return "\(tenths) \(units[unit])"
}
