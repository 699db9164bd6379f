import StampPackaging

/// The ova-compose YAML of `stamp pack --ovf-config`: `OVFConfig.parse` (with a `--param`
/// for `!param x`), then the descriptor `OVFComposeEnvelope` writes for it, with a made-up
/// file for every disk, as ova-compose (with its comment) and as `stamp pack` (without,
/// firmware and secure boot named). The input is the YAML text (bytes that are not UTF-8 become U+FFFD).
public func fuzzOVFConfig(_ data: UnsafeRawBufferPointer) {
    let yaml = String(decoding: data, as: UTF8.self)
    let config: OVFConfig
    do {
        config = try OVFConfig.parse(yaml: yaml, params: ["x": "1"], baseDirectory: "/nonexistent-fuzz")
    } catch {
        _ = "\(error)"
        return
    }
    var files: [OVFComposeEnvelope.File] = []
    var disks: [String: OVFComposeEnvelope.Disk] = [:]
    for (n, disk) in config.disks.enumerated() {
        let file = "file\(n + 1)"
        files.append(.init(id: file, href: "disk\(n + 1).vmdk", size: UInt64(n) * 4096))
        disks[disk.item.id] = .init(
            diskID: "vmdisk\(n + 1)", fileID: file, capacity: "\(n + 1)", units: "byte * 2^20", populatedSize: nil,
            sectorSize: 512)
    }
    _ = OVFComposeEnvelope(config: config, files: files, disks: disks, generated: "01-01-1970 00:00:00 +0000").text()
    for firmware in [Firmware.bios, .efi] {
        _ = OVFComposeEnvelope(config: config.packed(firmware: firmware), files: files, disks: disks).text()
    }
}
