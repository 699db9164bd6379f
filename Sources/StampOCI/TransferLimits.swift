import Foundation

/// How long a registry transfer may take and how slowly it may go: every GET (manifests,
/// configs, layers, tokens) ends with one line when the server sends less than
/// ``minimumRate`` bytes per second on average over ``rateWindowSeconds``, or when the
/// whole transfer takes longer than ``deadlineSeconds``. A registry that sends one byte
/// every 0.9 s would otherwise keep a pull waiting forever.
///
/// | setting | default | environment |
/// |---|---|---|
/// | deadline per transfer | 3600 s | `STAMP_REGISTRY_TIMEOUT` (seconds) |
/// | minimum average rate | 1024 bytes/s | `STAMP_REGISTRY_MIN_RATE` (bytes/s) |
/// | averaged over | 60 s | `STAMP_REGISTRY_RATE_WINDOW` (seconds) |
public struct TransferLimits: Sendable, Equatable {
    public var deadlineSeconds = 3600
    public var minimumRate = 1024
    public var rateWindowSeconds = 60
    /// A setting in the environment that is not a positive whole number, named with its value.
    public var problem: String?

    public init() {}

    /// The defaults, with the `STAMP_REGISTRY_*` variables of `environment` applied.
    public init(environment: [String: String]) {
        for (name, keyPath) in [
            ("STAMP_REGISTRY_TIMEOUT", \TransferLimits.deadlineSeconds), ("STAMP_REGISTRY_MIN_RATE", \.minimumRate),
            ("STAMP_REGISTRY_RATE_WINDOW", \.rateWindowSeconds),
        ] {
            guard let text = environment[name], !text.isEmpty else { continue }
            guard let value = Int(text), value > 0, value <= 1 << 40 else {
                problem = problem ?? "\(name)=\(text): not a positive whole number"
                continue
            }
            self[keyPath: keyPath] = value
        }
    }

    /// Appended to a libcurl timeout message: which setting to change.
    var hint: String {
        "(limits: \(deadlineSeconds) s per transfer, at least \(minimumRate) bytes/s over \(rateWindowSeconds) s; "
            + "STAMP_REGISTRY_TIMEOUT, STAMP_REGISTRY_MIN_RATE, STAMP_REGISTRY_RATE_WINDOW)"
    }
}
