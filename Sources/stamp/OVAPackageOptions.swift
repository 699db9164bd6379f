import ArgumentParser
import Foundation
import StampElements
import StampPackaging
import StampConfig

/// The OVA options `stamp pack` and `stamp build` share: the virtual machine from an
/// ova-compose config, and the manifest's signature.
struct OVAPackageOptions: ParsableArguments {
    @Option(name: .setting(.ovfConfig, .pack), help: .setting(.ovfConfig, .pack), completion: .setting(.ovfConfig, .pack))
    var ovfConfig: String?
    @Option(name: .setting(.param, .pack), help: .setting(.param, .pack)) var param: [String] = []
    @Option(name: .setting(.sign, .pack), help: .setting(.sign, .pack), completion: .setting(.sign, .pack))
    var sign: String?
    @Option(name: .setting(.signCert, .pack), help: .setting(.signCert, .pack), completion: .setting(.signCert, .pack))
    var signCert: String?
    @Option(
        name: .setting(.signAlgorithm, .pack), help: .setting(.signAlgorithm, .pack), completion: .setting(.signAlgorithm, .pack))
    var signAlgorithm: String?

    /// Adds the options given to `raw` (the table checks their kinds and what they need).
    func collect(into raw: inout RawSettings) {
        raw[.ovfConfig] = ovfConfig
        raw.list(.param, param)
        raw[.sign] = sign
        raw[.signCert] = signCert
        raw[.signAlgorithm] = signAlgorithm
    }

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
        guard let path = ovfConfig else { return nil }  // --param without it: the table's check
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
        guard let sign else { return nil }  // --sign-cert without it: the table's check
        let name: String
        do {
            name = try Settings.parse(signAlgorithm ?? "sha256", for: Settings[.signAlgorithm], on: .pack).canonical
        } catch {
            throw ValidationError(error.description)  // the table's line, once: validate() drops repeats
        }
        let algorithm = OVASigner.Algorithm(rawValue: name) ?? .sha256
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
