import Crypto
import Foundation
import _CryptoExtras

/// Signs an OVA's manifest the way DSP0243 (§5.2) and ovftool do: the `.cert` member holds
/// one digest line whose value is the RSA signature (PKCS #1 v1.5, what `openssl dgst -sign`
/// makes) of the whole `.mf`, followed by the signer's X.509 certificate in PEM.
///
/// ```
/// SHA256(web01.mf)= 5c0f…(hex, 2 × key bytes)…
/// -----BEGIN CERTIFICATE-----
/// MIID…
/// -----END CERTIFICATE-----
/// ```
///
/// `openssl dgst -sha256 -verify PUB.pem -signature SIG.bin web01.mf` accepts it, with
/// SIG.bin the hex decoded. The member's length depends only on the key size and the
/// certificate, so it is known before the manifest is (``length(manifestName:)``).
public struct OVASigner: Sendable, Equatable {
    public enum Algorithm: String, Sendable, CaseIterable {
        /// sha1 only for `stamp ova-compose --sign-alg sha1` (ova-compose accepts it).
        case sha1, sha256, sha512
        /// The name on the digest line (`SHA256`, `SHA512`).
        public var label: String { rawValue.uppercased() }
    }

    public let algorithm: Algorithm
    /// The certificate(s) written after the signature line, PEM text.
    public let certificatePEM: String
    private let key: _RSA.Signing.PrivateKey

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the private key (PKCS #1 or PKCS #8, unencrypted) and the certificate from PEM
    /// text: both in `keyPEM` (ova-compose's single file), or the certificate in `certificatePEM`.
    /// - Throws: ``Problem`` naming what is missing or the mismatch of key and certificate.
    public init(keyPEM: String, certificatePEM: String? = nil, algorithm: Algorithm = .sha256) throws {
        let blocks: [PEM.Block]
        do { blocks = try PEM.blocks(keyPEM) } catch { throw Problem(description: "the key file is not valid PEM") }
        guard let keyBlock = blocks.first(where: { $0.label == "PRIVATE KEY" || $0.label == "RSA PRIVATE KEY" }) else {
            if blocks.contains(where: { $0.label == "ENCRYPTED PRIVATE KEY" }) {
                throw Problem(description: "the private key is encrypted (decrypt it first: openssl pkey -in KEY -out PLAIN)")
            }
            throw Problem(description: "no RSA private key in the key file (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: keyBlock.text)
        } catch {
            throw Problem(description: "the private key is not an RSA key swift-crypto can read (\(error))")
        }
        guard key.keySizeInBits >= 2048 else {
            throw Problem(description: "the RSA key has \(key.keySizeInBits) bits; vSphere wants at least 2048")
        }
        let certBlocks: [PEM.Block]
        if let certificatePEM {
            do { certBlocks = try PEM.blocks(certificatePEM).filter { $0.label == "CERTIFICATE" } } catch {
                throw Problem(description: "the certificate file is not valid PEM")
            }
        } else {
            certBlocks = blocks.filter { $0.label == "CERTIFICATE" }
        }
        guard let first = certBlocks.first else {
            throw Problem(description: "no certificate (BEGIN CERTIFICATE) with the key; give one")
        }
        let cert: X509Certificate
        do { cert = try X509Certificate(der: first.der) } catch { throw Problem(description: "the certificate is not DER X.509") }
        guard [UInt8](key.publicKey.derRepresentation) == cert.publicKeyInfo else {
            throw Problem(description: "the certificate's public key is not the private key's")
        }
        self.algorithm = algorithm
        self.certificatePEM = certBlocks.map(\.text).joined()
        self.key = key
    }

    public static func == (a: OVASigner, b: OVASigner) -> Bool {
        a.algorithm == b.algorithm && a.certificatePEM == b.certificatePEM && a.key.derRepresentation == b.key.derRepresentation
    }

    /// The `.cert` member's text for this manifest.
    public func certificateText(manifestName: String, manifest: [UInt8]) throws -> String {
        let signature: _RSA.Signing.RSASignature
        switch algorithm {
        case .sha1: signature = try key.signature(for: Insecure.SHA1.hash(data: manifest), padding: .insecurePKCS1v1_5)
        case .sha256: signature = try key.signature(for: SHA256.hash(data: manifest), padding: .insecurePKCS1v1_5)
        case .sha512: signature = try key.signature(for: SHA512.hash(data: manifest), padding: .insecurePKCS1v1_5)
        }
        return "\(algorithm.label)(\(manifestName))= \(hex([UInt8](signature.rawRepresentation)))\n" + certificatePEM
    }

    /// The `.cert` member's length, before the manifest exists.
    public func length(manifestName: String) -> Int {
        "\(algorithm.label)(\(manifestName))= ".utf8.count + key.keySizeInBits / 4 + 1 + certificatePEM.utf8.count
    }
}

/// Checks a `.cert` member against the manifest it signs.
public enum OVASignatureCheck {
    public enum Outcome: Sendable, Equatable {
        case valid(subject: [UInt8])
        /// The `.cert` text cannot be read (digest line, PEM, DER): the member is damaged.
        case malformed(String)
        /// Well formed, but the signature does not match the manifest.
        case mismatch
        /// The certificate is not the CA or issued (signed) by it.
        case untrusted(String)
    }

    /// Verifies `certText` over `manifest` (named `manifestName`), and when `ca` is given
    /// that the package's certificate is `ca` itself or signed by it.
    public static func check(certText: String, manifest: [UInt8], manifestName: String, ca: [X509Certificate] = []) -> Outcome {
        guard let newline = certText.firstIndex(of: "\n") else { return .malformed("no digest line") }
        let line = certText[..<newline]
        guard let open = line.firstIndex(of: "("), let close = line.range(of: ")= ") else {
            return .malformed("the first line is not ALG(NAME)= SIGNATURE")
        }
        let alg = String(line[..<open])
        let name = String(line[line.index(after: open)..<close.lowerBound])
        guard name == manifestName else { return .malformed("it signs '\(name)', not '\(manifestName)'") }
        guard let signature = unhex(line[close.upperBound...]) else { return .malformed("the signature is not hex") }
        let certs: [X509Certificate]
        do { certs = try X509Certificate.all(pem: String(certText[newline...])) } catch {
            return .malformed("the certificate is not valid PEM/DER")
        }
        guard let cert = certs.first else { return .malformed("no certificate after the signature") }
        guard let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: cert.publicKeyInfo) else {
            return .malformed("the certificate's key is not RSA")
        }
        let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
        let ok: Bool
        switch alg {
        case "SHA256": ok = key.isValidSignature(sig, for: SHA256.hash(data: manifest), padding: .insecurePKCS1v1_5)
        case "SHA512": ok = key.isValidSignature(sig, for: SHA512.hash(data: manifest), padding: .insecurePKCS1v1_5)
        case "SHA1": ok = key.isValidSignature(sig, for: Insecure.SHA1.hash(data: manifest), padding: .insecurePKCS1v1_5)
        default: return .malformed("unknown signature digest '\(alg)'")
        }
        guard ok else { return .mismatch }
        // A self-signed certificate checks its own bytes; one issued by a CA needs the CA.
        if cert.issuer == cert.subject, !issued(cert, by: cert) {
            return .malformed("the self-signed certificate's signature does not verify")
        }
        if !ca.isEmpty {
            let chain = certs
            let trusted = chain.contains { c in
                ca.contains { anchor in anchor.der == c.der || (c.issuer == anchor.subject && issued(c, by: anchor)) }
            }
            if !trusted { return .untrusted("the certificate is neither the given CA nor signed by it") }
        }
        return .valid(subject: cert.subject)
    }

    /// Whether `anchor`'s RSA key signed `cert` (sha256/384/512/1 with RSA).
    static func issued(_ cert: X509Certificate, by anchor: X509Certificate) -> Bool {
        guard let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: anchor.publicKeyInfo) else { return false }
        let sig = _RSA.Signing.RSASignature(rawRepresentation: cert.signature)
        switch cert.signatureAlgorithm {
        case "1.2.840.113549.1.1.11":
            return key.isValidSignature(sig, for: SHA256.hash(data: cert.tbs), padding: .insecurePKCS1v1_5)
        case "1.2.840.113549.1.1.12":
            return key.isValidSignature(sig, for: SHA384.hash(data: cert.tbs), padding: .insecurePKCS1v1_5)
        case "1.2.840.113549.1.1.13":
            return key.isValidSignature(sig, for: SHA512.hash(data: cert.tbs), padding: .insecurePKCS1v1_5)
        case "1.2.840.113549.1.1.5":
            return key.isValidSignature(sig, for: Insecure.SHA1.hash(data: cert.tbs), padding: .insecurePKCS1v1_5)
        default: return false
        }
    }
}

/// Bytes of an even-length hex string (either case), or nil.
func unhex<S: StringProtocol>(_ text: S) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
