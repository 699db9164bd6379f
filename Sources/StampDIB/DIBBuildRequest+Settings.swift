import Foundation
import StampConfig
import StampElements

extension DIBBuildRequest {
    /// The element build `stamp build`'s settings ask for: the typed values set straight into
    /// the request (no DIB command line is written and parsed again), and the variables the
    /// elements read, named by the table's rows.
    ///
    /// ```swift
    /// var raw = RawSettings(.build)
    /// raw[.output] = "out/debian"
    /// raw[.release] = "bookworm"
    /// let request = DIBBuildRequest(settings: try raw.resolve(), elements: ["debian-minimal", "vm"], environment: env)
    /// request.plan.environment["DIB_RELEASE"]   // "bookworm"
    /// ```
    /// - Parameters:
    ///   - elements: the elements named; `oci-image` is put first for `--from`.
    ///   - environment: the caller's; the settings' variables override it.
    ///   - arguments: the command line as typed, for `DIB_ARGS`.
    public init(settings values: SettingValues, elements: [String], environment base: [String: String], arguments: [String] = [])
    {
        func variable(_ key: Setting.Key) -> String { Settings[key].variable ?? key.rawValue }
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var environment = base
        if let release = values.text(.release) { environment[variable(.release)] = release }
        let paths = values.list(.elementsPath)
        if !paths.isEmpty {
            let inherited = [environment[variable(.elementsPath)]].compactMap { $0 }.filter { !$0.isEmpty }
            environment[variable(.elementsPath)] = (paths.map(absolute) + inherited).joined(separator: ":")
        }
        if let path = values.text(.blockDeviceConfig) { environment[variable(.blockDeviceConfig)] = "file://" + absolute(path) }
        for item in values.list(.env) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        var elements = elements
        if let from = values.text(.from) {
            // The oci-image element's variables; DIB_OCI_CREDS is a secret, kept out of the
            // elements' environment (``secretVariables``).
            environment[variable(.from)] = from
            if values.flag(.plainHTTP) { environment[variable(.plainHTTP)] = "1" }
            if let creds = values.text(.creds) { environment[variable(.creds)] = creds }
            if let ca = values.text(.registryCA) { environment[variable(.registryCA)] = absolute(ca) }
            if let cache = values.text(.stampedCache) { environment[variable(.stampedCache)] = absolute(cache) }
            if !elements.contains("oci-image") { elements.insert("oci-image", at: 0) }
        }
        if let limit = values.bytes(.maxExpanded) { environment[variable(.maxExpanded)] = String(limit) }
        self.init(environment: environment)
        settings = values
        self.arguments = arguments
        self.elements = elements
        formats = values.list(.types)
        outputBase = OutputFormats.base(values.text(.output) ?? "image", formats: formats)
        debugTrace = values.flag(.trace) ? 1 : 0
        checksum = values.flag(.checksum)
        offline = values.flag(.offline)
        imageCache = values.text(.downloadCache)
        extraPackages = values.list(.packages)
        if values.isGiven(.qcow2Compat), let compat = values.text(.qcow2Compat) { qemuImgOptions = [("compat", compat)] }
        if let bytes = values.bytes(.size) { numeric["image-size"] = String(Double(bytes) / Double(1 << 30)) }
        // disk-image-create's own options, under the same names (checked by Build.validate).
        arch = values.text(.arch)
        skipBase = values.flag(.noBase)
        clearEnvironment = values.flag(.clearEnvironment)
        compress = values.flag(.compressQcow2)  // the build's default is DIB's: compressed unless -u
        if values.isGiven(.label) { rootLabel = values.text(.label) }
        if let bytes = values.bytes(.extraSize) { numeric["image-extra-size"] = String(Double(bytes) / Double(1 << 20)) }
        if let n = values.integer(.journalSize) { numeric["mkfs-journal-size"] = String(n) }
        if let n = values.integer(.maxOnlineResize) { numeric["max-online-resize"] = String(n) }
        if let n = values.integer(.minTmpfs) { numeric["min-tmpfs"] = String(n) }
        mkfsOptions = values.text(.mkfsOptions)
        if let options = values.text(.qemuImgOptions) { qemuImgOptions += DIBBuildRequest.qemuImgOptionPairs(options).pairs }
        noTmpfs = values.flag(.noTmpfs)
        ramdiskElement = values.text(.ramdiskElement)
        installType = values.text(.installType)
        dockerTarget = values.text(.dockerTarget)
        logfile = values.text(.logfile)
    }
}
