import StampBoot
import StampBytes
import StampContainers
import StampDisk
import StampExt4
import StampPackaging
import StampTree
import StampConfig

/// One output of a pack or build: a container format, the OVA package, or a tarball of the tree.
public enum PackFormat: Sendable, Equatable, CustomStringConvertible {
    case container(OutputFormat)
    case ova
    case tar
    /// The tarball through `gzip -9` (DIB's `tgz`).
    case tgz
    /// The tree as a squashfs filesystem (DIB's `squashfs`: `mksquashfs`, xz, `OUT.squash`).
    case squashfs
    /// The tree as a one-layer docker-archive (`docker save` layout, `OUT.docker.tar`).
    case docker

    /// Parses `-t` names: raw, qcow2, vmdk, vmdk-sparse, vhd, vhd-fixed, ova, tar, tgz, squashfs, docker.
    public init?(name: String) {
        switch name.lowercased() {
        case "ova": self = .ova
        case "tar": self = .tar
        case "tgz": self = .tgz
        case "squashfs": self = .squashfs
        case "docker": self = .docker
        default:
            guard let f = OutputFormat(name: name) else { return nil }
            self = .container(f)
        }
    }

    /// The file-name extension DIB uses for this format.
    public var fileExtension: String {
        switch self {
        case .ova: return "ova"
        case .tar: return "tar"
        case .tgz: return "tgz"
        case .squashfs: return "squash"
        case .docker: return "docker.tar"
        case .container(let f):
            switch f {
            case .raw: return "raw"
            case .qcow2: return "qcow2"
            case .vmdkStreamOptimized, .vmdkMonolithicSparse: return "vmdk"
            case .vhdDynamic, .vhdFixed: return "vhd"
            }
        }
    }

    public var description: String {
        switch self {
        case .ova: return "ova"
        case .tar: return "tar"
        case .tgz: return "tgz"
        case .squashfs: return "squashfs"
        case .docker: return "docker"
        case .container(let f): return f.description
        }
    }

    /// All names `-t` accepts, for messages (the settings table's list).
    public static let names = OutputFormats.names
}

/// Virtual-machine settings written into an OVA's descriptor.
public struct OVASettings: Sendable, Equatable {
    public var name: String?
    // The defaults are the settings table's (defined there once).
    public var cpus = Int(Settings[.cpus].defaultValue ?? "") ?? 2
    public var memoryMiB = Int(Settings[.memory].defaultValue ?? "") ?? 2048
    public var osType = Settings[.osType].defaultValue ?? Settings.defaultGuestOS
    public var nic = Settings[.nic].defaultValue ?? "vmxnet3"
    public var controller = Settings[.controller].defaultValue ?? "lsilogic"
    public var hardwareVersion = "vmx-13"
    public var network = "VM Network"
    /// An ova-compose config (`--ovf-config`): the whole descriptor comes from it, and the
    /// settings above are not used.
    public var config: OVFConfig?
    /// Signs the manifest (`NAME.cert`).
    public var signer: OVASigner?

    public init() {}
}

/// Everything `stamp pack` (and the element build, after its tree exists) needs to write images.
public struct PackRequest: Sendable {
    /// The root tree to pack.
    public var root: String
    /// Output base: `OUT` gives `OUT.raw`, `OUT.qcow2`, …
    public var output: String
    public var formats: [PackFormat]
    public var layout: StandardLayout = .gpt
    /// A DIB block-device configuration that lays out the disk instead of ``layout``:
    /// its partitions, filesystems (ext4, vfat) and their mount points in the tree.
    public var blockDevice: BlockDeviceConfig?
    /// Disk size; nil fits the tree (DIB's headroom rule on the root filesystem).
    public var diskSize: UInt64?
    /// Extra free space for an automatic size (replaces the ÷ 0.6 headroom).
    public var extraBytes: UInt64?
    public var checksum = false
    /// Which checksum files `checksum` writes (`md5`, `sha256`).
    public var checksumAlgorithms = ["md5", "sha256"]
    /// Fast compression (libdeflate level 1) instead of the default.
    public var fast = false
    /// Write boot code when the tree has GRUB (see the boot loader step).
    public var bootloader = true
    /// Fail when the tree cannot boot (DIB's `bootloader` element), instead of writing a disk
    /// without boot code.
    public var requireBootloader = false
    /// GRUB and fstab find the root by label (DIB) instead of by UUID.
    public var rootByLabel = false
    /// GRUB settings (DIB's DIB_BOOTLOADER_* and DIB_GRUB_TIMEOUT).
    public var bootOptions = BootOptions()
    public var label = Settings.defaultRootLabel
    public var uuid: Identifier?
    public var sourceDateEpoch: Int64?
    /// When set, entries owned by this uid (gid) are written as owned by root (0): an ordinary
    /// user's tree packed into a bootable image.
    public var callerOwnsAsRoot: (uid: UInt32, gid: UInt32)?
    public var inodeRatio: UInt64 = 16384
    public var journalMiB: UInt64?
    /// Percentage of the root filesystem's blocks reserved for root (`mke2fs -m`).
    public var reservedPercent: UInt64 = 5
    /// The block count the root filesystem may grow to online (`mke2fs -E resize=`); nil is
    /// mke2fs's default, 1024 times its size.
    public var resizeLimitBlocks: UInt64?
    public var qcow2Compat: Qcow2Compat = .v3
    /// Compress qcow2 clusters (DIB compresses unless `-u`).
    public var qcow2Compressed = false
    /// VMDK `ddb.adapterType` (`lsilogic`, `ide`, `buslogic`); nil: the writer's default.
    public var vmdkAdapterType: String?
    public var ova = OVASettings()
    /// `-t docker`: the image's `NAME[:TAG]` (`--docker-target`), also imported under it where
    /// a `docker` CLI is on PATH; nil tags it with the output's file name and imports nothing.
    public var dockerTarget: String?
    /// `-t docker`: the image config's architecture.
    public var dockerArchitecture = "amd64"
    /// Draw a progress line while the disk streams (for terminals).
    public var progress = false
    /// Entries the scan adds where the tree lacks them (``SupplementaryEntry``): the base
    /// system's device nodes, for a tree built in a user namespace.
    public var supplements: [SupplementaryEntry] = []
    /// The settings the request was made from (``init(root:settings:)``): the image cache key.
    public var settings: SettingValues?

    public init(root: String, output: String, formats: [PackFormat]) {
        self.root = root
        self.output = output
        self.formats = formats
    }

    /// The path of the output file for `format`.
    public func path(for format: PackFormat) -> String { output + "." + format.fileExtension }
}
