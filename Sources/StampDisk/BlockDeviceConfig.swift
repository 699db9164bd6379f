import StampBytes
import StampConfig

/// diskimage-builder's v2 block-device configuration (`DIB_BLOCK_DEVICE_CONFIG`), parsed and
/// validated: the disk image, its partitions, the filesystems on them, where they are mounted
/// and the fstab lines.
///
/// ```yaml
/// - local_loop: {name: image0}             # the disk (one per config)
/// - partitioning:                           # at most one table, on the disk
///     base: image0
///     label: gpt                            # mbr | gpt
///     partitions:
///       - name: root                        # a graph node named "root"
///         type: '8300'                      # gpt: sgdisk code; mbr: '0x83'
///         size: 100%                        # %, or 512MiB, 2GiB, 1.5G, 4096 ...
///         mkfs:                             # tree form: base = root, name = mkfs_root
///           type: ext4                      # ext4 | vfat
///           mount:                          # name = mount_mkfs_root
///             mount_point: /
///             fstab: {options: defaults, fsck-passno: 1}
/// ```
///
/// Parse with ``parse(yaml:rootDefaults:)``; every problem in the document is reported at
/// once, each with its line, column and path. Turn it into a ``DiskLayout`` with
/// ``plan(diskSize:seed:)`` or ``plan(rootSize:seed:)``.
public struct BlockDeviceConfig: Sendable, Equatable {
    /// The `local_loop` node: the disk image.
    public var image: Image
    /// The `partitioning` node; nil for a bare filesystem on the disk.
    public var partitioning: Partitioning?
    /// The `mkfs` nodes, in document order.
    public var filesystems: [Filesystem]
    /// The `mount` nodes, sorted by mount point (DIB mounts in this order).
    public var mounts: [Mount]
    /// The `fstab` nodes, in mount order.
    public var fstab: [FstabEntry]

    /// Where a node is in the document: 1-based line and column, and a path such as
    /// `[1].partitioning.partitions[0].size`.
    public struct Location: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var column: Int
        public init(path: String, line: Int, column: Int) {
            self.path = path
            self.line = line
            self.column = column
        }
        public var description: String { "line \(line), column \(column) (\(path))" }
    }

    /// `local_loop`: `name`, `size`, `directory`, `block_size`.
    public struct Image: Sendable, Equatable {
        public var name: String
        /// Explicit disk size in bytes, if the config gives one.
        public var size: UInt64?
        public var directory: String?
        /// 512 or 4096.
        public var blockSize: Int
        public var location: Location
    }

    /// `partitioning`: the table on the disk.
    public struct Partitioning: Sendable, Equatable {
        public var base: String
        public var scheme: DiskLayout.Scheme
        /// Alignment in bytes (MBR only in DIB; 1 MiB default).
        public var alignment: UInt64
        public var partitions: [Partition]
        public var location: Location
    }

    /// One entry of `partitions`.
    public struct Partition: Sendable, Equatable {
        public var name: String
        public var size: PartitionRequest.Size
        /// `flags: [boot]` (MBR active flag; ignored on GPT, as DIB does).
        public var boot: Bool
        /// `flags: [primary]` (MBR only).
        public var primary: Bool
        public var type: PartitionType
        public var location: Location
    }

    /// The filesystems a config may ask for.
    public enum FilesystemType: String, Sendable, Equatable {
        case ext4, vfat
        /// Longest label the filesystem stores.
        public var maximumLabelLength: Int { self == .ext4 ? 16 : 11 }
    }

    /// `mkfs`: a filesystem on a partition (or on the bare disk).
    public struct Filesystem: Sendable, Equatable {
        public var name: String
        /// The partition (or image) it is made on.
        public var base: String
        public var type: FilesystemType
        /// Defaults to the node's name; upper-cased for vfat.
        public var label: String
        /// nil: let the writer choose (random or seeded).
        public var uuid: Identifier?
        /// `opts`, split on spaces (mke2fs-style options for the caller to interpret).
        public var options: [String]
        public var location: Location
    }

    /// `mount`: where a filesystem goes in the tree.
    public struct Mount: Sendable, Equatable {
        public var name: String
        /// The mkfs node.
        public var base: String
        public var mountPoint: String
        public var location: Location
    }

    /// `fstab`: one line of `/etc/fstab`.
    public struct FstabEntry: Sendable, Equatable {
        public var name: String
        /// The mount node.
        public var base: String
        public var options: String
        public var dumpFrequency: Int
        public var fsckPassNumber: Int
        public var location: Location
    }

    /// DIB's legacy globals for the node named `mkfs_root` (`_merge_rootfs_params`): they fill
    /// only keys that node does not set itself.
    public struct RootDefaults: Sendable, Equatable {
        /// `FS_TYPE` (default ext4).
        public var type: FilesystemType
        /// `ROOT_LABEL` / `--root-label`; default `cloudimg-rootfs`.
        public var label: String
        /// Computed root mkfs options.
        public var options: [String]
        public init(type: FilesystemType = .ext4, label: String = Settings.defaultRootLabel, options: [String] = []) {
            self.type = type
            self.label = label
            self.options = options
        }
    }

    /// The filesystem mounted at `mountPoint`, if any.
    public func filesystem(mountedAt mountPoint: String) -> Filesystem? {
        guard let mount = mounts.first(where: { $0.mountPoint == mountPoint }) else { return nil }
        return filesystems.first { $0.name == mount.base }
    }

    /// The `/etc/fstab` lines DIB writes: `LABEL=<label> <mount point> <type> <options> <dump> <pass>`,
    /// in mount order.
    public var fstabLines: [String] {
        fstab.compactMap { entry in
            guard let mount = mounts.first(where: { $0.name == entry.base }),
                let fs = filesystems.first(where: { $0.name == mount.base })
            else { return nil }
            return "LABEL=\(fs.label) \(mount.mountPoint) \(fs.type.rawValue) \(entry.options) "
                + "\(entry.dumpFrequency) \(entry.fsckPassNumber)"
        }
    }

    /// Why a configuration was refused.
    public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// The text is not YAML.
        case syntax(message: String, line: Int, column: Int)
        /// The YAML is well-formed but the configuration is not valid: every problem found.
        case invalid([Problem])

        public var description: String {
            switch self {
            case .syntax(let message, let line, let column):
                return "block-device config: line \(line), column \(column): \(message)"
            case .invalid(let problems):
                // One line (a command's error is one line): every problem, separated by "; ".
                return "block-device config has \(problems.count) problem\(problems.count == 1 ? "" : "s"): "
                    + problems.map(\.description).joined(separator: "; ")
            }
        }
    }

    /// One problem, at one node.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var location: Location
        public var issue: Issue
        public init(_ issue: Issue, at location: Location) {
            self.issue = issue
            self.location = location
        }
        public var description: String { "\(location): \(issue)" }
    }

    /// What is wrong with a node.
    public enum Issue: Sendable, Equatable, CustomStringConvertible {
        case notAList
        case notAMapping
        case notAString(key: String)
        case pluginKeyCount(Int)
        case unknownPlugin(String)
        case unsupportedPlugin(String)
        case missingKey(String)
        case unknownKey(String)
        case invalidValue(key: String, value: String, expected: String)
        case duplicateName(String)
        case unknownBase(String)
        case wrongBase(base: String, expected: String)
        case missingImage
        case moreThanOne(String)
        case duplicateMountPoint(String)
        case duplicateLabel(String)
        case labelTooLong(label: String, maximum: Int)
        case primaryOnGPT
        case missingType
        case tooManyNodes(Int)

        public var description: String {
            switch self {
            case .notAList: return "the configuration must be a list of plugin entries"
            case .notAMapping: return "expected a mapping"
            case .notAString(let key): return "'\(key)' must be a single value"
            case .pluginKeyCount(let n): return "an entry must have exactly one plugin key, found \(n)"
            case .unknownPlugin(let p): return "unknown plugin '\(p)'"
            case .unsupportedPlugin(let p): return "\(p) is not supported yet"
            case .missingKey(let k): return "missing key '\(k)'"
            case .unknownKey(let k): return "unknown key '\(k)'"
            case .invalidValue(let k, let v, let expected): return "'\(k)' is '\(v)', expected \(expected)"
            case .duplicateName(let n): return "duplicate node name '\(n)'"
            case .unknownBase(let b): return "base '\(b)' names no node"
            case .wrongBase(let b, let expected): return "base '\(b)' must be \(expected)"
            case .missingImage: return "no local_loop entry defines the disk image"
            case .moreThanOne(let what): return "more than one \(what) is not supported"
            case .duplicateMountPoint(let m): return "mount point \(m) is used twice"
            case .duplicateLabel(let l): return "filesystem label '\(l)' is used twice"
            case .labelTooLong(let l, let max): return "label '\(l)' is longer than \(max) characters"
            case .primaryOnGPT: return "the 'primary' flag is only valid on an mbr label"
            case .tooManyNodes(let n): return "more than \(n) plugin entries (aliases repeating one mapping?)"
            case .missingType: return "missing key 'type' (only mkfs_root has a default)"
            }
        }
    }
}

/// DIB's size strings (`block_device/utils.py`): `<number>[ ]<unit>`, units `TiB GiB MiB KiB`
/// (1024-based), `TB GB MB KB T G M K` (1000-based: `G` is 10⁹), `B` or none for bytes;
/// fractions allowed. Returns bytes, or nil when malformed.
public func parseDIBSize(_ text: String) -> UInt64? {
    let units: [(String, Double)] = [
        ("TiB", 1_099_511_627_776), ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024),
        ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3),
        ("B", 1),
    ]
    var number = text.trimmingSpaces
    var factor: Double = 1
    for (unit, value) in units where number.hasSuffix(unit) {
        number = String(number.dropLast(unit.count)).trimmingSpaces
        factor = value
        break
    }
    guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
        let value = Double(number)
    else { return nil }
    let bytes = value * factor
    guard bytes < 9e18 else { return nil }
    return UInt64(bytes.rounded(.down))
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
