import Foundation

/// The few parts of an X.509 certificate (RFC 5280) that signing and verifying an OVA need,
/// read from DER with a small tag-length-value walker.
///
/// ```
/// Certificate ::= SEQUENCE {
///   tbsCertificate       SEQUENCE {            ← signed bytes (``tbs``)
///     version        [0] EXPLICIT INTEGER OPTIONAL
///     serialNumber       INTEGER
///     signature          AlgorithmIdentifier
///     issuer             Name                  ← ``issuer`` (raw DER, compared bytewise)
///     validity           SEQUENCE
///     subject            Name                  ← ``subject``
///     subjectPublicKeyInfo SEQUENCE            ← ``publicKeyInfo`` (raw DER, for _RSA)
///     … }
///   signatureAlgorithm   AlgorithmIdentifier   ← ``signatureAlgorithm`` (OID, dotted)
///   signatureValue       BIT STRING            ← ``signature`` (unused-bits byte dropped)
/// }
/// ```
public struct X509Certificate: Sendable, Equatable {
    public var der: [UInt8]
    public var tbs: [UInt8]
    public var issuer: [UInt8]
    public var subject: [UInt8]
    public var publicKeyInfo: [UInt8]
    public var signatureAlgorithm: String
    public var signature: [UInt8]

    struct Malformed: Error {}

    /// Parses one DER certificate.
    public init(der: [UInt8]) throws {
        self.der = der
        var top = DERReader(der[...])
        var cert = DERReader(try top.element(tag: 0x30).content)
        let tbsElement = try cert.element(tag: 0x30)
        tbs = Array(tbsElement.whole)
        var t = DERReader(tbsElement.content)
        if t.peek == 0xA0 { _ = try t.element(tag: 0xA0) }
        _ = try t.element(tag: 0x02)  // serial
        _ = try t.element(tag: 0x30)  // signature algorithm
        issuer = Array(try t.element(tag: 0x30).whole)
        _ = try t.element(tag: 0x30)  // validity
        subject = Array(try t.element(tag: 0x30).whole)
        publicKeyInfo = Array(try t.element(tag: 0x30).whole)
        var algorithm = DERReader(try cert.element(tag: 0x30).content)
        signatureAlgorithm = Self.oid(try algorithm.element(tag: 0x06).content)
        let bits = try cert.element(tag: 0x03).content
        guard bits.first == 0 else { throw Malformed() }
        signature = Array(bits.dropFirst())
    }

    /// Every certificate in PEM text (`-----BEGIN CERTIFICATE-----` blocks), in order.
    public static func all(pem: String) throws -> [X509Certificate] {
        try PEM.blocks(pem).filter { $0.label == "CERTIFICATE" }.map { try X509Certificate(der: $0.der) }
    }

    /// Dotted text of a DER object identifier.
    static func oid(_ bytes: ArraySlice<UInt8>) -> String {
        guard let first = bytes.first else { return "" }
        var parts = [Int(first) / 40, Int(first) % 40]
        var value = 0
        for byte in bytes.dropFirst() {
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                parts.append(value)
                value = 0
            }
        }
        return parts.map(String.init).joined(separator: ".")
    }
}

/// Reads DER elements one after another from a byte slice.
struct DERReader {
    var bytes: ArraySlice<UInt8>
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var peek: UInt8? { bytes.first }

    /// The next element, which must have `tag`: its whole encoding and its content.
    mutating func element(tag: UInt8) throws -> (whole: ArraySlice<UInt8>, content: ArraySlice<UInt8>) {
        let start = bytes.startIndex
        guard bytes.count >= 2, bytes[start] == tag else { throw X509Certificate.Malformed() }
        var i = start + 1
        var length = Int(bytes[i])
        i += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, bytes.endIndex - i >= count else { throw X509Certificate.Malformed() }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[i])
                i += 1
            }
        }
        guard bytes.endIndex - i >= length else { throw X509Certificate.Malformed() }
        let whole = bytes[start..<(i + length)]
        let content = bytes[i..<(i + length)]
        bytes = bytes[(i + length)...]
        return (whole, content)
    }
}

/// PEM text: `-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`, several per file.
public enum PEM {
    public struct Block: Sendable, Equatable {
        public var label: String
        public var der: [UInt8]
        /// The block's text, BEGIN to END line inclusive, with a final newline.
        public var text: String
    }

    struct Malformed: Error {}

    /// Every block of `text`, in order.
    public static func blocks(_ text: String) throws -> [Block] {
        var found: [Block] = []
        var label: String?
        var body = ""
        var lines: [Substring] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if label == nil, line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
                lines = [line]
            } else if let current = label {
                lines.append(line)
                if line == "-----END \(current)-----" {
                    guard let der = Data(base64Encoded: body) else { throw Malformed() }
                    found.append(Block(label: current, der: [UInt8](der), text: lines.joined(separator: "\n") + "\n"))
                    label = nil
                } else if !line.contains(":") {  // skip RFC 1421 headers (Proc-Type: …)
                    body += line.filter { !$0.isWhitespace }
                }
            }
        }
        if label != nil { throw Malformed() }
        return found
    }
}
