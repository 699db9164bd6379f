/// Bytes from hex text for golden-bytes tests: non-hex characters (spaces, newlines) are
/// ignored, so expected sectors can be written as a hexdump.
public func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { $0.isHexDigit })
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i + 1 < digits.count {
        out.append(UInt8(String(digits[i...(i + 1)]), radix: 16) ?? 0)
        i += 2
    }
    return out
}
