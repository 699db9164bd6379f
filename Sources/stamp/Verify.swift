import ArgumentParser
import Foundation
import StampConfig
import StampElements
import StampPackaging

/// `stamp verify OVA [--cert CA.pem]`: member order, every manifest digest, the signature.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an OVA: member order, every digest of its manifest, and the signature of its .cert.",
        discussion: """
            Fails naming the first member that does not check out. Without --cert a signed \
            package is verified with its own certificate (which proves integrity, not who signed); \
            with --cert that certificate must also be the CA given or be signed by it.
            """)

    @Argument(help: "The OVA to check.", completion: .file(extensions: ["ova"])) var ova: String
    @Option(name: .setting(.cert, .verify), help: .setting(.cert, .verify), completion: .setting(.cert, .verify))
    var cert: String?
    @Flag(name: .setting(.quiet, .verify), help: .setting(.quiet, .verify)) var quiet = false
    @Flag(name: .setting(.verbose, .verify), help: .setting(.verbose, .verify)) var verbose = false

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.verify)
        raw[.cert] = cert
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        return raw
    }

    func validate() throws {
        _ = try rawSettings.resolved()
    }

    func run() throws {
        var anchors: [X509Certificate] = []
        if let cert {
            let text: String
            do {
                text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: cert)), as: UTF8.self)
            } catch {
                throw ValidationError("\(cert): cannot read the certificate: \(ErrorLine.reason(error))")
            }
            do { anchors = try X509Certificate.all(pem: text) } catch { throw ValidationError("\(cert): not a PEM certificate") }
            if anchors.isEmpty { throw ValidationError("\(cert): no BEGIN CERTIFICATE block") }
        }
        let report = try OVAVerifier.verify(path: ova, ca: anchors)
        let signature =
            report.trusted
            ? "signature verified, certificate trusted by \(cert ?? "")"
            : report.signed
                ? "signature verified with the package's own certificate (give --cert to check who signed)"
                : "not signed"
        if quiet { return }
        if verbose { for member in report.members { print("  \(member)") } }
        print("\(ova): OK: \(report.members.count) members, every digest matches; \(signature)")
    }
}
