import ArgumentParser
import Foundation
import StampOCI
import StampConfig

/// How `stamp pack` and `stamp build --from` reach a `docker://` registry: plain HTTP,
/// credentials, a CA of the registry's own.
struct RegistryAccessOptions: ParsableArguments {
    @Flag(name: .setting(.plainHTTP, .pack), help: .setting(.plainHTTP, .pack)) var plainHTTP = false
    @Option(name: .setting(.creds, .pack), help: .setting(.creds, .pack)) var creds: String?
    @Option(name: .setting(.registryCA, .pack), help: .setting(.registryCA, .pack), completion: .setting(.registryCA, .pack))
    var registryCA: String?
    @Option(name: .setting(.maxExpanded, .pack), help: .setting(.maxExpanded, .pack)) var maxExpanded: String?

    /// Adds the options given to `raw` (the table checks their kinds).
    func collect(into raw: inout RawSettings) {
        raw.flag(.plainHTTP, plainHTTP)
        raw[.creds] = creds
        raw[.registryCA] = registryCA
        raw[.maxExpanded] = maxExpanded
    }

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
}
