import ArgumentParser
import Foundation
import StampOCI

/// How `stamp pack` and `stamp build --from` reach a `docker://` registry: plain HTTP,
/// credentials, a CA of the registry's own.
struct RegistryAccessOptions: ParsableArguments {
    @Flag(help: "docker://: plain HTTP instead of HTTPS (a local registry).")
    var plainHTTP = false

    @Option(
        help: ArgumentHelp(
            "docker://: the registry's user and password, used when it asks (HTTP Basic, or for its token service). Without it: the registry's entry in $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json or ~/.docker/config.json; else anonymous.",
            valueName: "user:password"))
    var creds: String?

    @Option(
        name: .customLong("registry-ca"),
        help: ArgumentHelp(
            "docker://: also trust this CA (PEM) for HTTPS, as /etc/containers/certs.d/HOST:PORT/*.crt are. Certificates are always verified.",
            valueName: "file"))
    var registryCA: String?

    @Option(
        name: .customLong("max-expanded"),
        help: ArgumentHelp(
            "Container images: refuse an image whose layers declare or expand to more than SIZE bytes in all (e.g. 16G; default 64G, or $STAMP_MAX_EXPANDED).",
            valueName: "size"))
    var maxExpanded: String?

    /// What is wrong with these options for `reference` (the image, nil without one); `scope`
    /// says in the message what they apply to.
    func problems(reference: String?, scope: String) -> [String] {
        var problems: [String] = []
        let registry = reference?.hasPrefix("docker://") ?? false
        for (given, name) in [(plainHTTP, "--plain-http"), (creds != nil, "--creds"), (registryCA != nil, "--registry-ca")]
        where given && !registry {
            problems.append("\(name) applies to \(scope) only")
        }
        if let creds {
            do {
                _ = try RegistryCredentials(parsing: creds, source: "--creds")
            } catch {
                problems.append("\(error)")
            }
        }
        if maxExpanded != nil, !(reference.map(ImageReference.looksLikeReference) ?? false) {
            problems.append("--max-expanded applies to container images (oci:, docker-archive:, docker://) only")
        }
        if let text = maxExpanded, ExpansionBudget.parse(text) == nil {
            problems.append("invalid --max-expanded '\(text)': use a number with an optional K/M/G/T suffix")
        } else if maxExpanded == nil, ExpansionBudget.limit(environment: ProcessInfo.processInfo.environment) == nil {
            problems.append(
                "invalid STAMP_MAX_EXPANDED '\(ProcessInfo.processInfo.environment["STAMP_MAX_EXPANDED"] ?? "")': use a number with an optional K/M/G/T suffix"
            )
        }
        if let file = registryCA, !FileManager.default.isReadableFile(atPath: file) {
            problems.append("--registry-ca \(file): cannot be read")
        }
        return problems
    }

    /// The registry options for `stamp pack`.
    func options() throws -> RegistryOptions {
        var options = RegistryOptions()
        options.insecureHTTP = plainHTTP
        options.credentials = try creds.map { try RegistryCredentials(parsing: $0, source: "--creds") }
        options.certificateFiles = registryCA.map { [URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? []
        return options
    }

    /// The limit on expanded image bytes: `--max-expanded`, else `STAMP_MAX_EXPANDED`, else 64 GiB.
    func maxExpandedBytes() -> UInt64 {
        maxExpanded.flatMap(ExpansionBudget.parse)
            ?? ExpansionBudget.limit(environment: ProcessInfo.processInfo.environment) ?? ExpansionBudget.defaultLimit
    }

    /// The `oci-image` element's variables for `stamp build --from`. `DIB_OCI_CREDS` is read by
    /// stamp and kept out of the elements' environment (DIBBuildRequest.secretVariables).
    func environment() -> [String: String] {
        var environment: [String: String] = [:]
        if plainHTTP { environment["DIB_OCI_PLAIN_HTTP"] = "1" }
        if let creds { environment["DIB_OCI_CREDS"] = creds }
        if let ca = registryCA { environment["DIB_OCI_REGISTRY_CA"] = URL(fileURLWithPath: ca).standardizedFileURL.path }
        if let maxExpanded { environment["STAMP_MAX_EXPANDED"] = maxExpanded }
        return environment
    }
}
