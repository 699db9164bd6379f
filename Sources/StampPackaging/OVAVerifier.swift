import Crypto
import Foundation
import StampIO
import SystemPackage

/// `stamp verify`: checks an OVA the way vCenter does before it deploys one.
///
/// ```
/// member 0   NAME.ovf                  must come first (DSP0243 §5.3)
/// member 1   NAME.mf                   ALG(member)= hex, one line per member
/// [member 2  NAME.cert]                ALG(NAME.mf)= signature hex, certificate PEM
/// then       every References/File     in References order, nothing else
/// ```
///
/// Every member is read once, in archive order, and hashed with the manifest's algorithm for
/// it. The first failure names its member: a tar header whose checksum is wrong, the .ovf or
/// .mf out of place, a member not listed, a digest that differs, the signature, and (once the
/// descriptor is known intact) a member out of References order. When the signature does
/// not verify and every digest matches, the `.cert` is the damaged member; when a digest
/// differs too, the `.mf` is.
public enum OVAVerifier {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The member at fault (or the OVA's path for the archive itself).
        public var member: String
        public var reason: String
        public var description: String { "\(member): \(reason)" }
    }

    public struct Report: Sendable, Equatable {
        public var members: [String] = []
        /// Whether a `.cert` was present and its signature verified.
        public var signed = false
        /// Whether the certificate was checked against a CA (`--cert`).
        public var trusted = false
    }

    struct Member {
        var name: String
        var size: UInt64
        var dataOffset: UInt64
    }

    /// Verifies the OVA at `path`; `ca` is the trusted certificate(s) for `--cert`.
    public static func verify(path: String, ca: [X509Certificate] = []) throws -> Report {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        let fileSize = try withPath(path, "stat") { try Syscalls.size(of: fd) }
        let members = try listMembers(fd, path: path, fileSize: fileSize)
        guard let ovf = members.first, ovf.name.hasSuffix(".ovf") else {
            throw Failure(member: members.first?.name ?? path, reason: "the first member of an OVA must be the .ovf descriptor")
        }
        let base = String(ovf.name.dropLast(4))
        guard members.count > 1, members[1].name == base + ".mf" else {
            throw Failure(
                member: members.count > 1 ? members[1].name : path, reason: "the second member must be the manifest \(base).mf")
        }
        let ovfText = try read(fd, path: path, ovf)
        let manifestBytes = try read(fd, path: path, members[1])
        // The certificate follows the manifest (DSP0243), or ends the archive (ova-compose's order).
        let certIndex = members.indices.first { i in
            i >= 2 && (i == 2 || i == members.count - 1) && members[i].name == base + ".cert"
        }
        let hasCert = certIndex != nil
        let certName = base + ".cert"
        let certBytes = try certIndex.map { try read(fd, path: path, members[$0]) } ?? []
        let rest = members.indices.filter { $0 >= 2 && $0 != certIndex }.map { members[$0] }
        // Digests: a damaged manifest line is the manifest's fault.
        var expected: [String: (algorithm: String, digest: [UInt8])] = [:]
        for line in String(decoding: manifestBytes, as: UTF8.self).split(separator: "\n") {
            guard let open = line.firstIndex(of: "("), let close = line.range(of: ")= "),
                let digest = unhex(line[close.upperBound...].trimmingCharacters(in: .whitespaces))
            else { throw Failure(member: members[1].name, reason: "unreadable line '\(line.prefix(60))'") }
            expected[String(line[line.index(after: open)..<close.lowerBound])] = (String(line[..<open]), digest)
        }
        var mismatch: Failure?
        var checked: [String] = []
        for member in [ovf] + rest {
            guard let want = expected[member.name] else {
                throw Failure(member: member.name, reason: "not listed in \(members[1].name)")
            }
            let got = try digest(fd, path: path, member, algorithm: want.algorithm)
            guard let got else { throw Failure(member: members[1].name, reason: "unknown digest '\(want.algorithm)'") }
            if got != want.digest, mismatch == nil {
                mismatch = Failure(member: member.name, reason: "\(want.algorithm) digest differs from \(members[1].name)")
            }
            checked.append(member.name)
        }
        for name in expected.keys where !checked.contains(name) {
            throw Failure(member: members[1].name, reason: "lists \(name), which is not in the archive")
        }
        var report = Report(members: members.map(\.name))
        if hasCert {
            let outcome = OVASignatureCheck.check(
                certText: String(decoding: certBytes, as: UTF8.self), manifest: manifestBytes, manifestName: members[1].name,
                ca: ca)
            switch outcome {
            case .valid:
                report.signed = true
                report.trusted = !ca.isEmpty
            case .malformed(let why): throw Failure(member: certName, reason: why)
            case .mismatch:
                if mismatch != nil {
                    throw Failure(member: members[1].name, reason: "the signature in \(certName) does not match it")
                }
                throw Failure(member: certName, reason: "the signature does not match \(members[1].name)")
            case .untrusted(let why): throw Failure(member: certName, reason: why)
            }
        } else if !ca.isEmpty {
            throw Failure(member: path, reason: "the package is not signed (no \(base).cert)")
        }
        if let mismatch { throw mismatch }
        // Only now that the descriptor is known intact: the References order is the order of
        // the members after the manifest (and cert).
        let references = fileReferences(String(decoding: ovfText, as: UTF8.self))
        for (i, member) in rest.enumerated() {
            guard i < references.count else { throw Failure(member: member.name, reason: "not in the descriptor's References") }
            guard references[i] == member.name else {
                throw Failure(member: member.name, reason: "out of order: References lists \(references[i]) here")
            }
        }
        if rest.count < references.count {
            throw Failure(member: references[rest.count], reason: "listed in References but missing from the archive")
        }
        return report
    }

    /// An OVA's members (name, where its bytes start, size), in archive order; throws a
    /// ``Failure`` for a file that is not a tar archive of plain names.
    public static func members(path: String) throws -> [(name: String, offset: UInt64, size: UInt64)] {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        let fileSize = try withPath(path, "stat") { try Syscalls.size(of: fd) }
        return try listMembers(fd, path: path, fileSize: fileSize).map { ($0.name, $0.dataOffset, $0.size) }
    }

    /// A member's bytes (at most 64 MiB: a descriptor, manifest or certificate).
    public static func memberBytes(path: String, offset: UInt64, size: UInt64, name: String) throws -> [UInt8] {
        let fd = try withPath(path, "open") { try FileDescriptor.open(FilePath(path), .readOnly) }
        defer { try? fd.close() }
        return try read(fd, path: path, Member(name: name, size: size, dataOffset: offset))
    }

    /// The `ovf:href` of every `References/File`, in order.
    public static func fileReferences(_ ovf: String) -> [String] {
        guard let start = ovf.range(of: "<References"),
            let end = ovf.range(of: "</References>", range: start.upperBound..<ovf.endIndex)
        else {
            return []
        }
        var hrefs: [String] = []
        var rest = ovf[start.upperBound..<end.lowerBound]
        while let a = rest.range(of: "ovf:href=\"") {
            guard let close = rest[a.upperBound...].firstIndex(of: "\"") else { break }
            hrefs.append(String(rest[a.upperBound..<close]).replacingOccurrences(of: "&amp;", with: "&"))
            rest = rest[close...]
        }
        return hrefs
    }

    /// Walks the tar headers (ustar, GNU, pax); a bad checksum names the member (or the
    /// offset). A pax extended header (`x`, at most 64 KiB) gives the next member's `path`
    /// and `size`; a global one (`g`) is skipped.
    static func listMembers(_ fd: FileDescriptor, path: String, fileSize: UInt64) throws -> [Member] {
        var members: [Member] = []
        var offset: UInt64 = 0
        var header = [UInt8](repeating: 0, count: 512)
        var extended: [String: String] = [:]
        while offset + 512 <= fileSize {
            try readExactly(fd, path: path, into: &header, at: offset)
            if header.allSatisfy({ $0 == 0 }) { break }
            var name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            var sum = 0
            for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            let stored = Int(String(decoding: header[148..<156].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self), radix: 8)
            // A damaged name is not printed as is: the offset names the member instead.
            let readable = !name.isEmpty && name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
            guard stored == sum else {
                throw Failure(member: readable ? name : "\(path) at offset \(offset)", reason: "tar header checksum is wrong")
            }
            var size = try headerSize(header, name: name)
            // offset + 512 <= fileSize here, so this cannot overflow (a size near 2^64 would).
            guard size <= fileSize - offset - 512 else {
                throw Failure(member: name, reason: "truncated: the archive ends inside it")
            }
            let typeflag = header[156]
            if typeflag == UInt8(ascii: "x") || typeflag == UInt8(ascii: "g") {
                guard size <= 64 << 10 else { throw Failure(member: name, reason: "a pax header larger than 64 KiB") }
                var records = [UInt8](repeating: 0, count: Int(size))
                try readExactly(fd, path: path, into: &records, at: offset + 512)
                if typeflag == UInt8(ascii: "x") {
                    guard let parsed = paxRecords(records) else {
                        throw Failure(member: "\(path) at offset \(offset)", reason: "unreadable pax extended header")
                    }
                    extended = parsed
                }
                offset += 512 + (size + 511) / 512 * 512
                continue
            }
            if let long = extended["path"] { name = long }
            if let long = extended["size"] {
                guard let s = UInt64(long), s <= fileSize - offset - 512 else {
                    throw Failure(member: name, reason: "truncated: the archive ends inside it")
                }
                size = s
            }
            extended = [:]
            // An OVA member is a plain file name: no directory part, nothing absolute, no "..",
            // and no ustar prefix (which would put a directory in front of the name).
            let prefixField = header[345..<500].prefix { $0 != 0 }
            guard prefixField.isEmpty, !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                let shown = prefixField.isEmpty ? name : String(decoding: prefixField, as: UTF8.self) + "/" + name
                let printable = shown.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
                throw Failure(
                    member: printable ? shown : "\(path) at offset \(offset)",
                    reason: "not a plain file name (an OVA member must not be absolute, hold '/' or be '..')")
            }
            members.append(Member(name: name, size: size, dataOffset: offset + 512))
            offset += 512 + (size + 511) / 512 * 512
        }
        if members.isEmpty { throw Failure(member: path, reason: "not a tar archive (no member)") }
        return members
    }

    /// The size field: octal, or GNU base-256 (a size that does not fit 64 bits is refused).
    static func headerSize(_ header: [UInt8], name: String) throws -> UInt64 {
        var size: UInt64 = 0
        if header[124] & 0x80 != 0 {
            guard header[124] == 0x80, header[125..<128].allSatisfy({ $0 == 0 }) else {
                throw Failure(member: name, reason: "truncated: the archive ends inside it")
            }
            for b in header[128..<136] { size = size << 8 | UInt64(b) }
            return size
        }
        guard let s = UInt64(String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self), radix: 8)
        else {
            throw Failure(member: name, reason: "tar header size is not a number")
        }
        return s
    }

    /// pax records, `"LEN key=value\n"` each; nil when one is malformed.
    static func paxRecords(_ bytes: [UInt8]) -> [String: String]? {
        var values: [String: String] = [:]
        var i = 0
        while i < bytes.count, bytes[i] != 0 {
            guard let space = bytes[i...].firstIndex(of: 0x20),
                let length = Int(String(decoding: bytes[i..<space], as: UTF8.self)), length > space - i,
                i + length <= bytes.count, bytes[i + length - 1] == 0x0A,
                let equals = bytes[(space + 1)..<(i + length)].firstIndex(of: UInt8(ascii: "="))
            else { return nil }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            values[key] = String(decoding: bytes[(equals + 1)..<(i + length - 1)], as: UTF8.self)
            i += length
        }
        return values
    }

    static func read(_ fd: FileDescriptor, path: String, _ member: Member) throws -> [UInt8] {
        guard member.size <= 64 << 20 else {
            throw Failure(member: member.name, reason: "too large for a descriptor, manifest or certificate")
        }
        var bytes = [UInt8](repeating: 0, count: Int(member.size))
        try readExactly(fd, path: path, into: &bytes, at: member.dataOffset)
        return bytes
    }

    static func digest(_ fd: FileDescriptor, path: String, _ member: Member, algorithm: String) throws -> [UInt8]? {
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        var sha512 = SHA512()
        guard ["SHA1", "SHA256", "SHA512"].contains(algorithm) else { return nil }
        let buffer = IOBuffer(size: 4 << 20)
        try SourceRange(descriptor: fd, path: path, offset: member.dataOffset, length: member.size).forEachChunk(
            buffer: buffer.bytes
        ) { chunk, _ in
            switch algorithm {
            case "SHA1": sha1.update(bufferPointer: chunk)
            case "SHA256": sha256.update(bufferPointer: chunk)
            default: sha512.update(bufferPointer: chunk)
            }
        }
        switch algorithm {
        case "SHA1": return Array(sha1.finalize())
        case "SHA256": return Array(sha256.finalize())
        default: return Array(sha512.finalize())
        }
    }

    static func readExactly(_ fd: FileDescriptor, path: String, into bytes: inout [UInt8], at offset: UInt64) throws {
        let count = bytes.count
        let n = try bytes.withUnsafeMutableBytes { buffer in
            try withPath(path, "read") { try fd.read(fromAbsoluteOffset: Int64(offset), into: buffer, retryOnInterrupt: true) }
        }
        guard n == count else { throw Failure(member: path, reason: "truncated at offset \(offset + UInt64(n))") }
    }
}
