import Foundation
import StampConfig
import StampDisk
import StampElements

/// Chooses the block-device configuration as DIB does and derives the
/// labels and mount points DIB exports to every phase.
///
/// 1. `DIB_BLOCK_DEVICE_CONFIG`: `file://<path>` or inline YAML;
/// 2. else the first element (in resolution order) with `block-device-<ARCH>.yaml`
///    (`block-device-ppc64el.yaml` for ppc64le/ppc64el), else `block-device-default.yaml`;
/// 3. else a partitionless file system on `image0`.
///
/// The configuration is read by the disk layer's parser (StampDisk's ``BlockDeviceConfig``),
/// the one that lays out the disk, so a configuration the disk layer would refuse is refused
/// here, before any phase runs, in one line naming where it came from.
public enum BlockDeviceSelection {
    static let fallbackYAML = """
        - local_loop:
            name: image0
        - mkfs:
            name: mkfs_root
            base: image0
            mount:
              mount_point: /
              fstab:
                options: "defaults"
                fsck-passno: 1
        """

    /// The choice ``ElementBuild/validate(_:blockDevice:variableProblems:logger:)`` asks for.
    public static let choice: BlockDeviceChoice = {
        (elements: [Element], plan: ElementBuildPlan) throws(ElementProblems) -> BlockDeviceSettings in
        try select(elements: elements, arch: plan.arch, environment: plan.environment)
    }

    public static func select(elements: [Element], arch: String, environment: [String: String]) throws(ElementProblems)
        -> BlockDeviceSettings
    {
        var source = "built-in partitionless default"
        var yaml = fallbackYAML
        if let config = environment["DIB_BLOCK_DEVICE_CONFIG"], !config.isEmpty {
            if config.hasPrefix("file://") {
                let path = String(config.dropFirst(7))
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    let fd = open(path, O_RDONLY)
                    let reason = fd < 0 ? ErrorLine.systemReason(errno) : "not UTF-8 text"
                    if fd >= 0 { close(fd) }
                    throw ElementProblems([
                        .invalidBlockDeviceConfig(
                            source: "DIB_BLOCK_DEVICE_CONFIG file \(path)", reason: "cannot read it: \(reason)")
                    ])
                }
                (source, yaml) = (path, text)
            } else {
                (source, yaml) = ("DIB_BLOCK_DEVICE_CONFIG", config)
            }
        } else {
            let archName = (arch == "ppc64le" || arch == "ppc64el") ? "ppc64el" : arch
            let candidates = ["block-device-\(archName).yaml", "block-device-default.yaml"]
            search: for name in candidates {
                for element in elements {
                    let url = element.path.appendingPathComponent(name)
                    if let text = try? String(contentsOf: url, encoding: .utf8) {
                        (source, yaml) = ("\(element.name)/\(name)", text)
                        break search
                    }
                }
            }
        }
        do {
            var result = try settings(yaml: yaml, source: source, environment: environment)
            result.fromEnvironment = environment["DIB_BLOCK_DEVICE_CONFIG"].map { !$0.isEmpty } ?? false
            return result
        } catch let problem as ElementError {
            throw ElementProblems([problem])
        } catch BlockDeviceConfig.Error.syntax(let message, let line, let column) {
            throw ElementProblems([
                .invalidBlockDeviceConfig(source: source, reason: "line \(line), column \(column): \(message)")
            ])
        } catch BlockDeviceConfig.Error.invalid(let problems) {
            let reason = problems.map(\.description).joined(separator: "; ")
            throw ElementProblems([.invalidBlockDeviceConfig(source: source, reason: reason)])
        } catch {
            throw ElementProblems([.invalidBlockDeviceConfig(source: source, reason: "\(error)")])
        }
    }

    /// The values DIB exports for a configuration: `DIB_ROOT_LABEL` (`ROOT_LABEL`, else
    /// `cloudimg-rootfs`, for the root mkfs without a label), `DIB_ROOT_FSTYPE` (`FS_TYPE`,
    /// else ext4), `DIB_BOOT_LABEL`, `DIB_MOUNTPOINTS`.
    /// - Throws: ``ElementError/invalidVariable(name:value:reason:)`` for an `FS_TYPE` stamp
    ///   does not write, or StampDisk's ``BlockDeviceConfig/Error``.
    public static func settings(yaml: String, source: String, environment: [String: String]) throws -> BlockDeviceSettings {
        let fsType = environment["FS_TYPE"].flatMap { $0.isEmpty ? nil : $0 } ?? "ext4"
        guard fsType == BlockDeviceConfig.FilesystemType.ext4.rawValue else {
            throw ElementError.invalidVariable(
                name: "FS_TYPE", value: fsType, reason: "stamp writes ext4 root filesystems (unset FS_TYPE, or ext4)")
        }
        let rootLabel = environment["ROOT_LABEL"].flatMap { $0.isEmpty ? nil : $0 } ?? Settings.defaultRootLabel
        let config = try BlockDeviceConfig.parse(yaml: yaml, rootDefaults: .init(type: .ext4, label: rootLabel))
        let root = config.filesystem(mountedAt: "/")
        return BlockDeviceSettings(
            source: source, yaml: yaml, rootLabel: root?.label ?? rootLabel, rootFSType: root?.type.rawValue ?? fsType,
            bootLabel: config.filesystem(mountedAt: "/boot")?.label ?? "",
            mountPoints: config.mounts.map(\.mountPoint).sorted())
    }
}
