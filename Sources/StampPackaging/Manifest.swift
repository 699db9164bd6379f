/// The OVF manifest (`.mf`): one `SHA256(name)= hex` line per file of the package.
///
/// The spelling is ovftool's, and vCenter parses it strictly: the algorithm name `SHA256`
/// (not `SHA2-256`), no space before the parenthesis, exactly one space after `=`, lower-case
/// hex, `\n` line ends. The `.ovf` comes first, then every `References/File`; the manifest
/// never lists itself.
///
/// ```
/// SHA256(web01.ovf)= 5e1f…
/// SHA256(web01-disk1.vmdk)= 0c3a…
/// ```
public struct Manifest: Sendable, Equatable {
    /// (file name, SHA-256) in package order.
    public var entries: [(name: String, sha256: [UInt8])]

    public init(entries: [(name: String, sha256: [UInt8])]) {
        self.entries = entries
    }

    /// The manifest's text.
    public var text: String {
        entries.map { "SHA256(\($0.name))= \(hex($0.sha256))\n" }.joined()
    }

    public static func == (a: Manifest, b: Manifest) -> Bool {
        a.entries.elementsEqual(b.entries) { $0.name == $1.name && $0.sha256 == $1.sha256 }
    }
}
