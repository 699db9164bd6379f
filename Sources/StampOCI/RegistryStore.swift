/// Options for registry access.
public struct RegistryOptions: Sendable {
    /// Use plain HTTP (a local test registry) instead of HTTPS.
    public var insecureHTTP = false
    public init() {}
}

/// Placeholder until the distribution-API client lands.
final class RegistryStore: BlobStore {
    let reference: RegistryReference
    init(reference: RegistryReference, scratch: String, options: RegistryOptions) { self.reference = reference }
    func rootDocument() throws -> (descriptor: Descriptor?, bytes: [UInt8]) {
        throw OCIError.unsupported(what: "docker://\(reference)", reason: "registry access is not built yet")
    }
    func document(_ descriptor: Descriptor, what: String) throws -> [UInt8] { throw OCIError.notFound(what: what) }
    func layerFile(_ descriptor: Descriptor, what: String) throws -> String { throw OCIError.notFound(what: what) }
}
