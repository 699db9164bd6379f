import Crypto
import Foundation
import StampConfig
import StampDIB
import StampElements
import StampIO
import StampOCI

/// The `oci-image` element's native part: `DIB_OCI_IMAGE` is read, resolved and verified when
/// the build starts, and its layers are applied to the empty root before `root.d` (see
/// Elements/oci-image/README.rst). Nil when the element is not in the build.
final class OCIImageElement {
    let source: ImageSource
    let image: ResolvedImage
    let scratch: ScratchDirectory
    let log: (String) -> Void

    /// - Parameter credentials: `DIB_OCI_CREDS` (`USER:PASSWORD`), which is kept out of the
    ///   build's environment (``DIBBuildRequest/secretVariables``).
    init?(build: ValidatedElementBuild, credentials: String?, log: @escaping (String) -> Void) throws {
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
        options.authFiles = RegistryCredentials.authFiles(environment: environment)
        if let ca = environment["DIB_OCI_REGISTRY_CA"], !ca.isEmpty { options.certificateFiles = [ca] }
        if let credentials, !credentials.isEmpty {
            do {
                options.credentials = try RegistryCredentials(parsing: credentials, source: "DIB_OCI_CREDS")
            } catch {
                throw PackProblems(problems: ["\(error)"])
            }
        }
        guard let maxExpanded = ExpansionBudget.limit(environment: environment) else {
            throw PackProblems(problems: [
                "STAMP_MAX_EXPANDED '\(environment["STAMP_MAX_EXPANDED"] ?? "")': not a size (e.g. 16G)"
            ])
        }
        let scratch = try ScratchDirectory(label: "stamp-oci-image")
        do {
            let blobs = scratch.path + "/blobs"
            mkdir(blobs, 0o700)
            source = ImageSource(reference: reference, scratch: blobs, registry: options)
            source.maxExpandedBytes = maxExpanded
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

extension OCIImageElement {
    /// What makes an element build of this image produce other bytes, as canonical lines for
    /// ``ImageCache/key(manifestDigest:settings:)``: every file of every resolved element
    /// (path, mode, content or link target), the `DIB_*` environment, and the request's
    /// options. Packages come from a mirror that changes: a cached entry is what was built
    /// then, which is what the cache is for (`stamp images prune` drops it).
    static func cacheSettings(request: DIBBuildRequest, build: ValidatedElementBuild) throws -> [String] {
        var lines: [String] = []
        for element in build.resolution.elements {
            lines.append("element \(element.name) \(try treeDigest(element.path.path))")
        }
        // Not inputs: where caches and outputs live, which CA verified the registry, and DIB's
        // echo of the command line (whose options are below; the output name is not an input).
        let ignored: Set<String> = [
            "DIB_OCI_STAMPED_CACHE", "DIB_IMAGE_CACHE", "DIB_ARGS", "DIB_ENV", "DIB_MANIFEST_SAVE_DIR", "DIB_OCI_REGISTRY_CA",
        ]
        for (name, value) in build.plan.environment.sorted(by: { $0.key < $1.key })
        where name.hasPrefix("DIB_") && !ignored.contains(name) {
            lines.append("env \(name)=\(value)")
        }
        // The options: the table's canonical encoding of those that change bytes (files by
        // their digest), whichever front end gave them.
        if let settings = request.settings {
            lines += settings.canonicalLines { path in
                guard let data = FileManager.default.contents(atPath: path) else { return "unreadable" }
                return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            }
            lines.append("checksum \(request.checksumAlgorithms)")
            return lines
        }
        lines.append(
            "formats \(request.formats.joined(separator: ",")) compress \(request.compress) checksum \(request.checksumAlgorithms)"
        )
        lines.append("packages \(request.extraPackages) skip-base \(request.skipBase) arch \(request.arch ?? "")")
        lines.append(
            "mkfs \(request.mkfsOptions ?? "") label \(request.rootLabel ?? "") install-type \(request.installType ?? "")")
        lines.append("qemu-img \(request.qemuImgOptions.map { "\($0.key)=\($0.value)" })")
        lines.append("numeric \(request.numeric.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })")
        return lines
    }

    /// The sha256 of a directory tree: each entry's relative path, type and mode, and a file's
    /// content or a symlink's target, in name order.
    static func treeDigest(_ root: String) throws -> String {
        var hasher = SHA256()
        var stack = [""]
        while let relative = stack.popLast() {
            let path = relative.isEmpty ? root : root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            hasher.update(data: Array("\(relative)\0\(st.st_mode)\0".utf8))
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                stack.append(contentsOf: names.reversed().map { relative.isEmpty ? $0 : relative + "/" + $0 })
            case S_IFLNK:
                hasher.update(data: Array(((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "").utf8))
            case S_IFREG:
                hasher.update(data: [UInt8](FileManager.default.contents(atPath: path) ?? Data()))
            default:
                break
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
