import Crypto
import Foundation
import StampBytes
import StampConfig
import StampContainers
import StampDisk

extension PackRequest {
    /// The request the settings ask for: every typed setting mapped to its field, here and
    /// nowhere else. Files (a block-device config, an OVF config, a signing key) are read by
    /// the caller; ``settings`` keeps the values for the image cache key.
    ///
    /// ```swift
    /// var raw = RawSettings(.pack)
    /// raw[.output] = "out/disk.qcow2"
    /// raw[.types] = "qcow2"
    /// let request = PackRequest(root: "rootfs", settings: try raw.resolve())
    /// request.path(for: .container(.qcow2))   // "out/disk.qcow2", the extension not doubled
    /// ```
    public init(root: String, settings values: SettingValues) {
        let formats = values.list(.types)
        self.init(
            root: root, output: OutputFormats.base(values.text(.output) ?? "", formats: formats),
            formats: formats.compactMap(PackFormat.init(name:)))
        settings = values
        layout = values.text(.layout).flatMap(StandardLayout.init(rawValue:)) ?? .gpt
        diskSize = values.bytes(.size)
        checksum = values.flag(.checksum)
        fast = values.flag(.fast)
        bootloader = !values.flag(.noBootloader)
        label = values.text(.label) ?? Settings.defaultRootLabel
        uuid = values.text(.uuid).flatMap(Identifier.init)
        sourceDateEpoch = values.integer(.sourceDateEpoch)
        if let ratio = values.integer(.inodeRatio) { inodeRatio = UInt64(ratio) }
        qcow2Compat = values.text(.qcow2Compat).flatMap(Qcow2Compat.init(rawValue:)) ?? .v3
        qcow2Compressed = values.flag(.compressQcow2)
        ova.name = values.text(.vmName)
        if let cpus = values.integer(.cpus) { ova.cpus = Int(cpus) }
        if let memory = values.integer(.memory) { ova.memoryMiB = Int(memory) }
        ova.osType = values.text(.osType) ?? Settings.defaultGuestOS
        ova.nic = values.text(.nic) ?? ova.nic
        ova.controller = values.text(.controller) ?? ova.controller
    }

    /// The canonical lines of the settings that change the bytes (``SettingValues/canonicalLines(fileDigest:)``),
    /// files by the SHA-256 of their content. Nil for a request not made from settings.
    public var canonicalSettings: [String]? {
        settings?.canonicalLines { path in
            guard let data = FileManager.default.contents(atPath: path) else { return "unreadable" }
            return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        }
    }
}
