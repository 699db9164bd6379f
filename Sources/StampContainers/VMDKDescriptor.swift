/// Reads keys of a VMDK descriptor (the text a hosted sparse extent embeds at its
/// `descriptorOffset`, or a descriptor file of its own).
///
/// ```
/// # Disk DescriptorFile
/// version=1
/// CID=fffffffe                      ← KEY=VALUE, quotes optional
/// parentCID=ffffffff                ← ffffffff: no parent (anything else: a delta disk)
/// createType="streamOptimized"
/// RW 2048 SPARSE "disk.vmdk"        ← extent lines: ACCESS SECTORS TYPE "FILE" [OFFSET]
/// ddb.logicalSectorSize = "4096"    ← disk database keys (`ddb.`)
/// ```
public enum VMDKDescriptor {
    /// The value of `key` (first occurrence, quotes and blanks stripped), or nil.
    public static func value(of key: String, in text: String) -> String? {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmingBlanks
            guard name == key else { continue }
            var value = Substring(line[line.index(after: eq)...].trimmingBlanks)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
