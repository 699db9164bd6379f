import Foundation
import StampElements
import StampOCI

/// The `oci-image` element's native part: `DIB_OCI_IMAGE` is read, resolved and verified when
/// the build starts, and its layers are applied to the empty root before `root.d` (see
/// Elements/oci-image/README.rst). Nil when the element is not in the build.
final class OCIImageElement {
    let source: ImageSource
    let image: ResolvedImage
    let scratch: ScratchDirectory
    let log: (String) -> Void

    init?(build: ValidatedElementBuild, log: @escaping (String) -> Void) throws {
        guard build.resolution.elements.contains(where: { $0.name == "oci-image" }) else { return nil }
        let environment = build.plan.environment
        guard let text = environment["DIB_OCI_IMAGE"], !text.isEmpty else {
            throw PackProblems(problems: [
                "the oci-image element needs DIB_OCI_IMAGE (oci:DIR[:TAG], docker-archive:FILE or docker://HOST/NAME[:TAG])"
            ])
        }
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: text)
        } catch {
            throw PackProblems(problems: ["DIB_OCI_IMAGE: \(error)"])
        }
        var options = RegistryOptions()
        options.insecureHTTP = environment["DIB_OCI_PLAIN_HTTP"] == "1"
        let scratch = try ScratchDirectory(label: "stamp-oci-image")
        do {
            let blobs = scratch.path + "/blobs"
            mkdir(blobs, 0o700)
            source = ImageSource(reference: reference, scratch: blobs, registry: options)
            log("resolving \(reference)")
            image = try source.resolve()
            log("image \(image.manifestDigest): \(image.manifest.layers.count) layers, config \(image.configDigest)")
        } catch {
            scratch.remove()
            throw error
        }
        self.scratch = scratch
        self.log = log
    }

    /// Applies the layers to `root` (resolved first: libarchive refuses paths through symlinks,
    /// and the work directory may lie under one).
    func unpack(into root: String) throws {
        let resolved = realpath(root, nil)
        defer { free(resolved) }
        try source.unpack(image, into: resolved.map { String(cString: $0) } ?? root, log: log)
    }
}
