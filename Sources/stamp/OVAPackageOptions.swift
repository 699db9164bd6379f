import ArgumentParser
import Foundation
import StampElements
import StampPackaging

/// The OVA options `stamp pack` and `stamp build` share: the virtual machine from an
/// ova-compose config, and the manifest's signature.
struct OVAPackageOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "OVA: the virtual machine from an ova-compose YAML file (open-vmdk); replaces the other OVA hardware options. See README, 'OVA configs'.",
            valueName: "file"))
    var ovfConfig: String?
    @Option(help: ArgumentHelp("OVA: a value for a '!param NAME' of --ovf-config (repeatable).", valueName: "name=value"))
    var param: [String] = []
    @Option(
        help: ArgumentHelp(
            "OVA: sign the manifest (OUT.cert) with this PEM private key (the certificate may follow it in the file).",
            valueName: "key.pem"))
    var sign: String?
    @Option(help: ArgumentHelp("OVA: the signer's PEM certificate, when not in the --sign file.", valueName: "cert.pem"))
    var signCert: String?
    @Option(help: "OVA: signature digest, sha256 or sha512.") var signAlgorithm: String = "sha256"

    /// The config (nil without --ovf-config) and the signer (nil without --sign).
    func load() throws -> (OVFConfig?, OVASigner?) {
        (try loadOVFConfig(), try loadSigner())
    }

    /// Reads --ovf-config with the --param values (nil without --ovf-config).
    func loadOVFConfig() throws -> OVFConfig? {
        var params: [String: String] = [:]
        for p in param {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw ValidationError("--param '\(p)' is not NAME=VALUE")
            }
            params[String(p[..<eq])] = String(p[p.index(after: eq)...])
        }
        guard let path = ovfConfig else {
            if !params.isEmpty { throw ValidationError("--param needs --ovf-config") }
            return nil
        }
        let text = try readConfigText(path, what: "OVF config")
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        do {
            return try OVFConfig.parse(yaml: text, params: params, baseDirectory: directory.isEmpty ? "/" : directory)
        } catch {
            throw ValidationError("\(path): \(error)")
        }
    }

    /// Reads the --sign key (and --sign-cert) into a signer (nil without --sign).
    func loadSigner() throws -> OVASigner? {
        guard let sign else {
            if signCert != nil { throw ValidationError("--sign-cert needs --sign") }
            return nil
        }
        guard let algorithm = OVASigner.Algorithm(rawValue: signAlgorithm.lowercased()) else {
            throw ValidationError("--sign-algorithm '\(signAlgorithm)' is not sha256 or sha512")
        }
        let key = try readConfigText(sign, what: "key")
        let cert = try signCert.map { try readConfigText($0, what: "certificate") }
        do {
            return try OVASigner(keyPEM: key, certificatePEM: cert, algorithm: algorithm)
        } catch {
            throw ValidationError("\(signCert != nil && "\(error)".contains("certificate") ? signCert! : sign): \(error)")
        }
    }

    func readConfigText(_ path: String, what: String) throws -> String {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(validating: data, as: UTF8.self) else {
                throw ValidationError("\(path): the \(what) file is not UTF-8 text")
            }
            return decoded
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(path): cannot read the \(what) file: \(ErrorLine.reason(error))")
        }
    }

}
