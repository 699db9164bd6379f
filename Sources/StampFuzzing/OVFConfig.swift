import StampPackaging

/// The ova-compose YAML of `stamp pack --ovf-config`: `OVFConfig.parse` (with a `--param`
/// for `!param x`), then the descriptor `OVFEnvelope` writes for it, with a made-up file
/// for every disk. The input is the YAML text (bytes that are not UTF-8 become U+FFFD).
public func fuzzOVFConfig(_ data: UnsafeRawBufferPointer) {
    let yaml = String(decoding: data, as: UTF8.self)
    let config: OVFConfig
    do {
        config = try OVFConfig.parse(yaml: yaml, params: ["x": "1"], baseDirectory: "/nonexistent-fuzz")
    } catch {
        _ = "\(error)"
        return
    }
    var files: [OVFEnvelope.File] = []
    var disks: [String: OVFEnvelope.Disk] = [:]
    for (n, disk) in config.disks.enumerated() {
        let file = "file\(n + 1)"
        files.append(.init(id: file, href: "disk\(n + 1).vmdk", size: UInt64(n) * 4096))
        disks[disk.item.id] = .init(diskID: "vmdisk\(n + 1)", fileID: file, capacity: UInt64(n + 1) << 20)
    }
    for firmware in [Firmware.bios, .efi] {
        _ = OVFEnvelope(config: config, defaultFirmware: firmware, files: files, disks: disks).text()
    }
}
