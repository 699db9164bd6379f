import StampBytes
import Yams

/// Second pass: typed values, references between nodes, and the cross-node rules.
extension ConfigParser {
    mutating func assemble(rootDefaults: Config.RootDefaults) -> Config? {
        let all = nodes + nodes.flatMap(\.partitions)
        var seen: Set<String> = []
        for node in all where node.plugin != "partitioning" && !node.name.isEmpty {
            if !seen.insert(node.name).inserted { problems.append(.init(.duplicateName(node.name), at: node.location)) }
        }
        func kind(of name: String) -> String? { all.first { $0.name == name && $0.plugin != "partitioning" }?.plugin }

        // local_loop
        let loops = nodes.filter { $0.plugin == "local_loop" }
        for extra in loops.dropFirst() { problems.append(.init(.moreThanOne("local_loop"), at: extra.location)) }
        var image: Config.Image?
        if let loop = loops.first {
            var size: UInt64?
            if let text = string(loop.fields["size"], key: "size", path: loop.location.path + ".size") {
                size = parseDIBSize(text)
                if size == nil { invalid(loop, "size", text, "a size such as 2GiB") }
            }
            var blockSize = 512
            if let text = string(loop.fields["block_size"], key: "block_size", path: loop.location.path + ".block_size") {
                if let value = Int(text), value == 512 || value == 4096 {
                    blockSize = value
                } else {
                    invalid(loop, "block_size", text, "512 or 4096")
                }
            }
            let directory = string(loop.fields["directory"], key: "directory", path: loop.location.path + ".directory")
            image = Config.Image(name: loop.name, size: size, directory: directory, blockSize: blockSize, location: loop.location)
        } else {
            problems.append(.init(.missingImage, at: Config.Location(path: "", line: 1, column: 1)))
        }

        // partitioning
        let tables = nodes.filter { $0.plugin == "partitioning" }
        for extra in tables.dropFirst() { problems.append(.init(.moreThanOne("partitioning"), at: extra.location)) }
        let partitioning = tables.first.map { table(from: $0, image: image) }

        // mkfs
        var filesystems: [Config.Filesystem] = []
        var labels: Set<String> = []
        var usedBases: Set<String> = []
        for node in nodes where node.plugin == "mkfs" {
            let base = node.base ?? ""
            let baseKind = kind(of: base)
            if baseKind == nil {
                problems.append(.init(.unknownBase(base), at: node.location))
            } else if baseKind != "partition" && !(baseKind == "local_loop" && partitioning == nil) {
                let expected = partitioning == nil ? "a local_loop" : "a partition"
                problems.append(.init(.wrongBase(base: base, expected: expected), at: node.location))
            } else if !usedBases.insert(base).inserted {
                problems.append(.init(.moreThanOne("filesystem on \(base)"), at: node.location))
            }
            let isRoot = node.name == "mkfs_root"
            let path = node.location.path
            var type: Config.FilesystemType? = isRoot ? rootDefaults.type : nil
            if let text = string(node.fields["type"], key: "type", path: path + ".type") {
                type = Config.FilesystemType(rawValue: text)
                if type == nil {
                    if ["ext2", "ext3", "xfs", "btrfs", "swap", "vfat", "fat"].contains(text) {
                        problems.append(.init(.unsupportedPlugin("mkfs type \(text)"), at: node.location))
                    } else {
                        invalid(node, "type", text, "ext4 or vfat")
                    }
                }
            } else if !isRoot {
                problems.append(.init(.missingType, at: node.location))
            }
            var label =
                string(node.fields["label"], key: "label", path: path + ".label")
                ?? (isRoot ? rootDefaults.label : node.name)
            if type == .vfat { label = label.uppercased() }
            if let type, label.utf8.count > type.maximumLabelLength {
                problems.append(.init(.labelTooLong(label: label, maximum: type.maximumLabelLength), at: node.location))
            }
            if !labels.insert(label).inserted { problems.append(.init(.duplicateLabel(label), at: node.location)) }
            var uuid: Identifier?
            if let text = string(node.fields["uuid"], key: "uuid", path: path + ".uuid") {
                uuid = Identifier(text)
                if uuid == nil { invalid(node, "uuid", text, "a uuid such as 2f4a1c9e-...") }
            }
            let opts = string(node.fields["opts"], key: "opts", path: path + ".opts")
            let options = opts.map { $0.split(separator: " ").map(String.init) } ?? (isRoot ? rootDefaults.options : [])
            filesystems.append(
                Config.Filesystem(
                    name: node.name, base: base, type: type ?? .ext4, label: label, uuid: uuid, options: options,
                    location: node.location))
        }

        // mount
        var mounts: [Config.Mount] = []
        var points: Set<String> = []
        for node in nodes where node.plugin == "mount" {
            let base = node.base ?? ""
            checkBase(node, base, kind(of: base), expected: "mkfs", description: "an mkfs node")
            guard let point = string(node.fields["mount_point"], key: "mount_point", path: node.location.path + ".mount_point")
            else {
                problems.append(.init(.missingKey("mount_point"), at: node.location))
                continue
            }
            let components = point.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            if !point.hasPrefix("/") {
                invalid(node, "mount_point", point, "an absolute path")
            } else if point != "/" && components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
                // '/srv/' would not match the tree's 'srv' (kept in both filesystems), '/..'
                // would reach outside the tree.
                invalid(node, "mount_point", point, "a normalized absolute path (no '.', '..', '//' or trailing '/')")
            }
            if !points.insert(point).inserted { problems.append(.init(.duplicateMountPoint(point), at: node.location)) }
            mounts.append(Config.Mount(name: node.name, base: base, mountPoint: point, location: node.location))
        }
        mounts.sort { $0.mountPoint < $1.mountPoint }

        // fstab
        var fstab: [Config.FstabEntry] = []
        for node in nodes where node.plugin == "fstab" {
            let base = node.base ?? ""
            checkBase(node, base, kind(of: base), expected: "mount", description: "a mount node")
            let path = node.location.path
            let options = string(node.fields["options"], key: "options", path: path + ".options") ?? "defaults"
            func number(_ key: String, _ fallback: Int) -> Int {
                guard let text = string(node.fields[key], key: key, path: path + "." + key) else { return fallback }
                guard let value = Int(text), value >= 0 else {
                    invalid(node, key, text, "a non-negative integer")
                    return fallback
                }
                return value
            }
            fstab.append(
                Config.FstabEntry(
                    name: node.name, base: base, options: options, dumpFrequency: number("dump-freq", 0),
                    fsckPassNumber: number("fsck-passno", 2), location: node.location))
        }
        // Two nodes of one name are reported above; the first one's position orders its fstab.
        let order = Dictionary(mounts.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        fstab.sort { (order[$0.base] ?? .max) < (order[$1.base] ?? .max) }

        guard let image else { return nil }
        return Config(image: image, partitioning: partitioning, filesystems: filesystems, mounts: mounts, fstab: fstab)
    }

    mutating func invalid(_ node: RawNode, _ key: String, _ value: String, _ expected: String) {
        problems.append(
            .init(
                .invalidValue(key: key, value: value, expected: expected),
                at: location(node.fields[key], node.location.path + "." + key)))
    }

    mutating func checkBase(_ node: RawNode, _ base: String, _ kind: String?, expected: String, description: String) {
        if kind == nil {
            problems.append(.init(.unknownBase(base), at: node.location))
        } else if kind != expected {
            problems.append(.init(.wrongBase(base: base, expected: description), at: node.location))
        }
    }

    /// The `partitioning` node and its partitions, typed.
    mutating func table(from node: RawNode, image: Config.Image?) -> Config.Partitioning {
        let path = node.location.path
        let base = node.base ?? ""
        if let image, base != image.name {
            problems.append(.init(.wrongBase(base: base, expected: "the local_loop '\(image.name)'"), at: node.location))
        }
        var scheme = DiskLayout.Scheme.mbr
        if let label = string(node.fields["label"], key: "label", path: path + ".label") {
            switch label {
            case "mbr": scheme = .mbr
            case "gpt": scheme = .gpt
            default: invalid(node, "label", label, "mbr or gpt")
            }
        } else {
            problems.append(.init(.missingKey("label"), at: node.location))
        }
        var alignment: UInt64 = 1 << 20
        if let text = string(node.fields["align"], key: "align", path: path + ".align") {
            if let value = parseDIBSize(text), value >= 512, value % 512 == 0 {
                alignment = value
            } else {
                invalid(node, "align", text, "a multiple of 512 bytes such as 1MiB")
            }
        }
        if node.fields["partitions"] == nil { problems.append(.init(.missingKey("partitions"), at: node.location)) }
        var partitions: [Config.Partition] = []
        for p in node.partitions {
            partitions.append(partition(from: p, scheme: scheme))
        }
        return Config.Partitioning(
            base: base, scheme: scheme, alignment: alignment, partitions: partitions, location: node.location)
    }

    mutating func partition(from node: RawNode, scheme: DiskLayout.Scheme) -> Config.Partition {
        let path = node.location.path
        var size = PartitionRequest.Size.percent(100)
        if let text = string(node.fields["size"], key: "size", path: path + ".size") {
            if text.hasSuffix("%") {
                if let p = Double(String(text.dropLast()).trimmingSpaces), p > 0, p <= 100 {
                    size = .percent(p)
                } else {
                    invalid(node, "size", text, "a percentage in (0, 100]")
                }
            } else if let bytes = parseDIBSize(text), bytes > 0 {
                size = .bytes(bytes)
            } else {
                invalid(node, "size", text, "a size such as 512MiB or 100%")
            }
        }
        var boot = false
        var primary = false
        if let flags = node.fields["flags"] {
            let items: [Node]
            if case .sequence(let list) = flags { items = Array(list) } else { items = [flags] }
            for item in items {
                switch item.string {
                case "boot": boot = true
                case "primary":
                    primary = true
                    if scheme == .gpt {
                        problems.append(.init(.primaryOnGPT, at: location(item, path + ".flags")))
                    }
                default:
                    problems.append(
                        .init(
                            .invalidValue(key: "flags", value: item.string ?? "?", expected: "boot or primary"),
                            at: location(item, path + ".flags")))
                }
            }
        }
        var type: PartitionType = scheme == .gpt ? .linuxFilesystem : .mbr(code: 0x83)
        if let text = string(node.fields["type"], key: "type", path: path + ".type") {
            if scheme == .gpt {
                if let t = PartitionType.gpt(code: text) {
                    type = t
                } else {
                    invalid(node, "type", text, "an sgdisk type code such as 8300 or EF00, or a GUID")
                }
            } else {
                let hex = text.lowercased().hasPrefix("0x") ? String(text.dropFirst(2)) : text
                if let code = UInt8(hex, radix: 16), code != 0 {
                    type = .mbr(code: code)
                } else {
                    invalid(node, "type", text, "a hex mbr type such as 0x83")
                }
            }
        }
        return Config.Partition(name: node.name, size: size, boot: boot, primary: primary, type: type, location: node.location)
    }
}
