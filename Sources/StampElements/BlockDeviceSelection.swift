import Foundation
import StampConfig
import Yams

/// Chooses the block-device configuration as DIB does and derives the
/// labels and mount points DIB exports to every phase.
///
/// 1. `DIB_BLOCK_DEVICE_CONFIG`: `file://<path>` or inline YAML;
/// 2. else the first element (in resolution order) with `block-device-<ARCH>.yaml`
///    (`block-device-ppc64el.yaml` for ppc64le/ppc64el), else `block-device-default.yaml`;
/// 3. else a partitionless file system on `image0`.
///
/// Only the few values the phases need are read here; the disk layer (StampDisk) parses and
/// validates the whole configuration.
package enum BlockDeviceSelection {
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

    static func select(elements: [Element], arch: String, environment: [String: String]) throws(ElementProblems)
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
        } catch let error as YamlError {
            throw ElementProblems([.invalidBlockDeviceConfig(source: source, reason: syntaxReason(error))])
        } catch {
            throw ElementProblems([.invalidBlockDeviceConfig(source: source, reason: "\(error)")])
        }
    }

    /// A YAML syntax error as `line L, column C: context: problem` (Yams' own description
    /// spans several lines and quotes the source).
    static func syntaxReason(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let text = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return "line \(mark.line), column \(mark.column): \(text)"
        default:
            return ErrorLine.describe(error)
        }
    }

    struct Filesystem {
        var name: String
        var type: String?
        var label: String?
        var mountPoint: String?
    }

    package static func settings(yaml: String, source: String, environment: [String: String]) throws -> BlockDeviceSettings {
        guard let list = try SafeYAML.load(yaml) as? [Any] else {
            throw PackageInstalls.FormatError(description: "expected a list of plugin entries")
        }
        var filesystems: [Filesystem] = []
        var mounts: [(base: String, point: String)] = []
        func walk(_ key: String, _ value: Any, parentName: String?) {
            guard let node = value as? [String: Any] else { return }
            let name = (node["name"] as? String) ?? "\(key)_\(parentName ?? (node["base"] as? String) ?? "")"
            if key == "mkfs" {
                var fs = Filesystem(name: name, type: node["type"] as? String, label: node["label"] as? String)
                if let mount = node["mount"] as? [String: Any] { fs.mountPoint = mount["mount_point"] as? String }
                filesystems.append(fs)
            } else if key == "mount", let point = node["mount_point"] as? String, parentName == nil {
                mounts.append(((node["base"] as? String) ?? "", point))
            }
            for (childKey, child) in node where childKey != "mount" || key != "mkfs" {
                if childKey == "partitions", let partitions = child as? [Any] {
                    for case let partition as [String: Any] in partitions {
                        let partName = partition["name"] as? String
                        for (pk, pv) in partition { walk(pk, pv, parentName: partName) }
                    }
                } else {
                    walk(childKey, child, parentName: name)
                }
            }
        }
        for case let entry as [String: Any] in list {
            for (key, value) in entry { walk(key, value, parentName: nil) }
        }
        for mount in mounts {
            if let index = filesystems.firstIndex(where: { $0.name == mount.base }) {
                filesystems[index].mountPoint = mount.point
            }
        }
        let fsType = environment["FS_TYPE"].flatMap { $0.isEmpty ? nil : $0 } ?? "ext4"
        let rootLabelOverride = environment["ROOT_LABEL"].flatMap { $0.isEmpty ? nil : $0 }
        for index in filesystems.indices {
            if filesystems[index].name == "mkfs_root" {
                if filesystems[index].type == nil { filesystems[index].type = fsType }
                if filesystems[index].label == nil {
                    filesystems[index].label =
                        rootLabelOverride
                        ?? (filesystems[index].type == "xfs" ? "img-rootfs" : Settings.defaultRootLabel)
                }
            }
            if filesystems[index].label == nil { filesystems[index].label = filesystems[index].name }
            if filesystems[index].type == "vfat" || filesystems[index].type == "fat" {
                filesystems[index].label = filesystems[index].label?.uppercased()
            }
        }
        let root = filesystems.first { $0.mountPoint == "/" }
        let boot = filesystems.first { $0.mountPoint == "/boot" }
        return BlockDeviceSettings(
            source: source, yaml: yaml, rootLabel: root?.label ?? Settings.defaultRootLabel,
            rootFSType: root?.type ?? fsType, bootLabel: boot?.label ?? "",
            mountPoints: filesystems.compactMap(\.mountPoint).sorted())
    }
}
