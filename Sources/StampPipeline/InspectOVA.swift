import StampBytes
import StampContainers
import StampPackaging

#if canImport(Glibc)
    import Glibc
#endif

/// `stamp inspect` and `stamp convert` of an OVA: a tar whose first member is the `.ovf`.
///
/// ```
/// NAME.ovf   read (≤ 64 MiB) for the summary: VirtualSystem Name, osType, CPUs, memory,
///            DiskSection capacities and their files
/// NAME.mf, NAME.cert, …   listed
/// *.vmdk (any member the DiskSection's files name, else any member ending .vmdk)
///            opened in place (a window of the archive) by the container readers: format,
///            variant, virtual size; the member's size is its file size
/// ```
public struct OVAReport: Sendable {
    public struct Member: Sendable {
        public var name: String
        public var offset: UInt64
        public var size: UInt64
    }
    public struct Disk: Sendable {
        public var member: String
        public var format: String
        public var variant: String
        public var virtualSize: UInt64
        public var fileSize: UInt64
    }
    public var path: String
    public var members: [Member] = []
    public var disks: [Disk] = []
    public var name: String?
    public var osType: String?
    public var cpus: String?
    public var memoryMiB: String?

    /// A JSON document of the same facts.
    public var document: JSONValue {
        .object([
            ("filename", .string(path)), ("format", .string("ova")),
            (
                "members",
                .array(members.map { .object([("name", .string($0.name)), ("size", .unsigned($0.size))]) })
            ),
            (
                "disks",
                .array(
                    disks.map {
                        .object([
                            ("member", .string($0.member)), ("format", .string($0.format)), ("variant", .string($0.variant)),
                            ("virtual-size", .unsigned($0.virtualSize)), ("file-size", .unsigned($0.fileSize)),
                        ])
                    })
            ),
            (
                "ovf",
                .object([
                    ("name", name.map(JSONValue.string) ?? .null), ("os-type", osType.map(JSONValue.string) ?? .null),
                    ("cpus", cpus.map(JSONValue.string) ?? .null), ("memory-mib", memoryMiB.map(JSONValue.string) ?? .null),
                ])
            ),
        ])
    }
}

public enum OVAInspector {
    /// Whether `path` is a tar archive whose first member is a `.ovf` (its header checksum right).
    public static func isOVA(path: String) -> Bool {
        // Non-blocking, and regular files only: a FIFO must not hang the check (it is refused
        // by the readers afterwards).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        var header = [UInt8](repeating: 0, count: 512)
        guard pread(fd, &header, 512, 0) == 512, header[257..<262].elementsEqual(Array("ustar".utf8)) else { return false }
        let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        return name.hasSuffix(".ovf")
    }

    public static func inspect(path: String) throws -> OVAReport {
        var report = OVAReport(path: path)
        let members = try OVAVerifier.members(path: path)
        report.members = members.map { .init(name: $0.name, offset: $0.offset, size: $0.size) }
        guard let ovf = members.first, ovf.name.hasSuffix(".ovf") else {
            throw ContainerError.malformed(
                path: path, offset: 0, reason: "the first member of an OVA must be the .ovf descriptor")
        }
        let text = String(
            decoding: try OVAVerifier.memberBytes(path: path, offset: ovf.offset, size: ovf.size, name: ovf.name), as: UTF8.self)
        summarize(text, into: &report)
        for member in try diskMembers(members, ovf: text) {
            let reader = try ImageDetector.open(path: path, window: (member.offset, member.size))
            report.disks.append(
                .init(
                    member: member.name, format: reader.format.rawValue, variant: reader.variant, virtualSize: reader.virtualSize,
                    fileSize: member.size))
        }
        return report
    }

    /// The reader of the OVA's disk number `number` (1 for the first).
    public static func openDisk(path: String, number: Int) throws -> any DiskImageReader {
        let members = try OVAVerifier.members(path: path)
        guard let ovf = members.first, ovf.name.hasSuffix(".ovf") else {
            throw ContainerError.malformed(
                path: path, offset: 0, reason: "the first member of an OVA must be the .ovf descriptor")
        }
        let text = String(
            decoding: try OVAVerifier.memberBytes(path: path, offset: ovf.offset, size: ovf.size, name: ovf.name), as: UTF8.self)
        let disks = try diskMembers(members, ovf: text)
        guard number >= 1, number <= disks.count else {
            throw ContainerError.unsupported(path: path, feature: "disk \(number): the OVA has \(disks.count) disk(s)")
        }
        let member = disks[number - 1]
        return try ImageDetector.open(path: path, window: (member.offset, member.size))
    }

    /// The members holding disks: the files the DiskSection names, in its order, else every
    /// member ending `.vmdk`.
    static func diskMembers(_ members: [(name: String, offset: UInt64, size: UInt64)], ovf: String) throws -> [(
        name: String, offset: UInt64, size: UInt64
    )] {
        let hrefs = OVAVerifier.fileReferences(ovf)
        let ids = attributeValues("ovf:id", in: section("References", of: ovf))
        let refs = attributeValues("ovf:fileRef", in: section("DiskSection", of: ovf))
        let named = refs.compactMap { ref in ids.firstIndex(of: ref).flatMap { $0 < hrefs.count ? hrefs[$0] : nil } }
        if named.isEmpty { return members.filter { $0.name.hasSuffix(".vmdk") } }
        return named.compactMap { name in members.first { $0.name == name } }
    }

    static func summarize(_ ovf: String, into report: inout OVAReport) {
        let system = section("VirtualSystem", of: ovf)
        report.name = element("Name", in: system)
        report.osType = attributeValues("vmw:osType", in: system).first
        var rest = Substring(system)
        while let start = rest.range(of: "<Item"), let end = rest.range(of: "</Item>", range: start.upperBound..<rest.endIndex) {
            let item = String(rest[start.lowerBound..<end.upperBound])
            let quantity = element("rasd:VirtualQuantity", in: item)
            switch element("rasd:ResourceType", in: item) {
            case "3": report.cpus = report.cpus ?? quantity
            case "4": report.memoryMiB = report.memoryMiB ?? quantity
            default: break
            }
            rest = rest[end.upperBound...]
        }
    }

    static func section(_ tag: String, of text: String) -> String {
        guard let start = text.range(of: "<\(tag)"),
            let end = text.range(of: "</\(tag)>", range: start.upperBound..<text.endIndex)
        else { return "" }
        return String(text[start.lowerBound..<end.upperBound])
    }

    static func element(_ tag: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(tag)>"),
            let close = text.range(of: "</\(tag)>", range: open.upperBound..<text.endIndex)
        else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }

    static func attributeValues(_ name: String, in text: String) -> [String] {
        var values: [String] = []
        var rest = Substring(text)
        while let a = rest.range(of: " \(name)=\"") {
            guard let close = rest[a.upperBound...].firstIndex(of: "\"") else { break }
            values.append(String(rest[a.upperBound..<close]))
            rest = rest[close...]
        }
        return values
    }
}
