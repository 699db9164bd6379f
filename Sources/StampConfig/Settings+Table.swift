extension Setting {
    /// Every setting's name. The raw value is the long option of the `stamp` commands (or, for
    /// a setting only disk-image-create has, of DIB's) and the name in cache keys and docs.
    public enum Key: String, CaseIterable, Sendable, Hashable, Comparable {
        case output, types, layout
        case blockDeviceConfig = "block-device-config"
        case size, checksum, fast
        case noBootloader = "no-bootloader"
        case label, uuid
        case hashSeed = "hash-seed"
        case sourceDateEpoch = "source-date-epoch"
        case inodeRatio = "inode-ratio"
        case journalSize = "journal-size"
        case qcow2Compat = "qcow2-compat"
        case compressQcow2 = "compress-qcow2"
        case stampedCache = "stamped-cache"
        case downloadCache = "download-cache"
        case plainHTTP = "plain-http"
        case creds
        case registryCA = "registry-ca"
        case maxExpanded = "max-expanded"
        case platform
        case vmName = "vm-name"
        case cpus, memory
        case osType = "os-type"
        case nic, controller
        case ovfConfig = "ovf-config"
        case param, sign
        case signCert = "sign-cert"
        case signAlgorithm = "sign-algorithm"
        case from, release
        case elementsPath = "elements-path"
        case offline, packages, env, trace, verbose
        case quiet
        case arch
        case clearEnvironment = "clear-environment"
        case noBase = "no-base"
        case extraSize = "image-extra-size"
        case maxOnlineResize = "max-online-resize"
        case mkfsOptions = "mkfs-options"
        case qemuImgOptions = "qemu-img-options"
        case noTmpfs = "no-tmpfs"
        case minTmpfs = "min-tmpfs"
        case ramdiskElement = "ramdisk-element"
        case installType = "install-type"
        case dockerTarget = "docker-target"
        case logfile
        case unusedDays = "unused-days"
        case outputFormat = "output-format"
        case disk, json, cert

        public static func < (a: Key, b: Key) -> Bool { a.rawValue < b.rawValue }
    }
}

extension Settings {
    /// The one place each setting is declared. The order is the order of `--help` and of the
    /// option reference (docs/options.md, written by `stamp options --markdown`).
    public static let table: [Setting] =
        outputs + filesystem + containers + registry + ova + elements + dibOnly + imageTools + console

    static let outputs: [Setting] = [
        Setting(
            .output, .text(maxBytes: nil), help: "Output base name: OUT.<format> is written for each format.", valueName: "out",
            spellings: [
                .pack: Spelling(long: "output", short: "o"), .build: Spelling(long: "output", short: "o"),
                .dib: Spelling(short: "o", defaultValue: "image"),
            ], changesBytes: false),
        Setting(
            .types, .formats, default: "raw",
            help: "Comma-separated output formats: \(OutputFormats.names.joined(separator: ", ")).", valueName: "formats",
            spellings: [
                .pack: Spelling(long: "types", short: "t"), .build: Spelling(long: "types", short: "t", defaultValue: "qcow2"),
                .dib: Spelling(short: "t", defaultValue: "qcow2"),
            ], changesBytes: true),
        Setting(
            .layout, .choice(["none", "mbr", "gpt", "efi"]), default: "gpt", help: "Partition layout: none, mbr, gpt or efi.",
            spellings: [.pack: Spelling(long: "layout")],
            conflicts: [Conflict(.blockDeviceConfig, "the block-device config lays out the whole disk; drop --layout")],
            changesBytes: true),
        Setting(
            .blockDeviceConfig, .file,
            help: "A DIB block-device YAML (partitions, ext4/vfat filesystems, mount points) that lays out the disk.",
            valueName: "file",
            spellings: [.pack: Spelling(long: "block-device-config"), .build: Spelling(long: "block-device-config")],
            variable: "DIB_BLOCK_DEVICE_CONFIG", changesBytes: true),
        Setting(
            .size, .size(allowsAuto: true), default: "auto",
            help:
                "Disk size, e.g. 4G, or 'auto': fit the tree, its blocks and its inodes, with DIB's headroom.",
            valueName: "size",
            spellings: [
                .pack: Spelling(long: "size"), .build: Spelling(long: "size", deprecated: ["--image-size"]),
                .mkfs: Spelling(
                    long: "size",
                    help: "Filesystem size, e.g. 2G, or 'auto': fit the tree, its blocks and its inodes, with DIB's headroom."),
                .dib: Spelling(
                    long: "image-size", unit: .gibibytes,
                    help: "Image size in GiB; by default the tree's size with DIB's headroom, holding its inodes too."),
            ], variable: "DIB_IMAGE_SIZE", changesBytes: true),
        Setting(
            .extraSize, .size(allowsAuto: false),
            help: "Free space added to an automatic size instead of DIB's 40% headroom (DIB_IMAGE_EXTRA_SIZE).",
            valueName: "MiB",
            spellings: [
                .build: Spelling(long: "image-extra-size", unit: .mebibytes),
                .dib: Spelling(long: "image-extra-size", unit: .mebibytes),
            ],
            variable: "DIB_IMAGE_EXTRA_SIZE", conflicts: [Conflict(.size, "an explicit size leaves nothing to add to")],
            changesBytes: true),
        Setting(
            .checksum, .flag, help: "Write OUT.<format>.md5 and .sha256 beside each output.",
            spellings: [.pack: Spelling(long: "checksum"), .build: Spelling(long: "checksum"), .dib: Spelling(long: "checksum")],
            variable: "DIB_CHECKSUM", changesBytes: true),
        Setting(
            .fast, .flag, help: "Fastest compression (larger qcow2 -c, VMDK and OVA).",
            spellings: [
                .pack: Spelling(long: "fast"),
                .convert: Spelling(long: "fast", help: "Fastest compression (larger compressed VMDK output)."),
            ],
            requires: [.format(["vmdk", "ova", "qcow2"])], changesBytes: true),
        Setting(
            .qcow2Compat, .choice(["1.1", "0.10"], aliases: ["v3": "1.1", "v2": "0.10"]), default: "1.1",
            help: "qcow2 compatibility level: 1.1 (version 3) or 0.10 (version 2, what nodepool asks for).",
            spellings: [
                .pack: Spelling(long: "qcow2-compat"), .build: Spelling(long: "qcow2-compat"),
                .convert: Spelling(long: "qcow2-compat"),
            ],
            requires: [.format(["qcow2"])], changesBytes: true),
        Setting(
            .compressQcow2, .flag, default: "false",
            help: "Compress qcow2 clusters, as qemu-img convert -c does (disk-image-create does unless -u).",
            spellings: [
                .pack: Spelling(long: "compress-qcow2", deprecated: ["-c"]),
                .build: Spelling(
                    long: "no-compress-qcow2", short: "u", negated: true, defaultValue: "true",
                    help: "Do not compress qcow2 clusters (disk-image-create's -u)."),
                .dib: Spelling(short: "u", negated: true, defaultValue: "true", help: "Do not compress qcow2 clusters."),
            ], requires: [.format(["qcow2"])], changesBytes: true),
    ]

    static let filesystem: [Setting] = [
        Setting(
            .label, .text(maxBytes: 16), default: "cloudimg-rootfs", help: "Root filesystem label (at most 16 bytes).",
            spellings: [
                .pack: Spelling(long: "label"), .mkfs: Spelling(long: "label", defaultValue: ""),
                .build: Spelling(long: "root-label"), .dib: Spelling(long: "root-label"),
            ], variable: "ROOT_LABEL", changesBytes: true),
        Setting(
            .uuid, .uuid, help: "Root filesystem UUID (random if omitted); also seeds partition GUIDs and the hash seed.",
            spellings: [.pack: Spelling(long: "uuid"), .mkfs: Spelling(long: "uuid")], changesBytes: true),
        Setting(
            .hashSeed, .uuid, help: "Directory hash seed UUID (derived from --uuid when that is given).",
            spellings: [.mkfs: Spelling(long: "hash-seed")], changesBytes: true),
        Setting(
            .sourceDateEpoch, .integer(0...Int64(Int32.max) * 4),
            help: "Clamp every timestamp to this Unix time and use it for the filesystem's own times (reproducible images).",
            valueName: "seconds",
            spellings: [.pack: Spelling(long: "source-date-epoch"), .mkfs: Spelling(long: "source-date-epoch")],
            changesBytes: true),
        Setting(
            .inodeRatio, .integer(1024...67_108_864), default: "16384",
            help: "Bytes per inode, as mke2fs -i (an automatic size always holds the tree's inodes).", valueName: "bytes",
            spellings: [.pack: Spelling(long: "inode-ratio"), .mkfs: Spelling(long: "inode-ratio")], changesBytes: true),
        Setting(
            .journalSize, .integer(4...10240), help: "Journal size in MiB (default 64, less on small filesystems).",
            valueName: "MiB",
            spellings: [
                .mkfs: Spelling(long: "journal-size"), .build: Spelling(long: "mkfs-journal-size"),
                .dib: Spelling(long: "mkfs-journal-size"),
            ],
            variable: "DIB_JOURNAL_SIZE", changesBytes: true),
        Setting(
            .noBootloader, .flag, help: "Do not write boot code, even when the tree has GRUB.",
            spellings: [.pack: Spelling(long: "no-bootloader")], changesBytes: true),
    ]

    static let containers: [Setting] = [
        Setting(
            .stampedCache, .directory,
            help:
                "With a container image: serve a stamp of the same manifest digest and settings from DIR, and keep new ones there (see stamp images).",
            valueName: "dir",
            spellings: [
                .pack: Spelling(long: "stamped-cache", deprecated: ["--image-cache"]), .build: Spelling(long: "stamped-cache"),
                .images: Spelling(
                    long: "stamped-cache", deprecated: ["--image-cache"],
                    help: "The cache directory (default $STAMP_IMAGE_CACHE, else ~/.cache/stamp/images)."),
            ], variable: "DIB_OCI_STAMPED_CACHE", changesBytes: false),
        Setting(
            .downloadCache, .directory, help: "Where downloaded base systems are cached.", valueName: "dir",
            spellings: [
                .build: Spelling(long: "download-cache", deprecated: ["--image-cache"]), .dib: Spelling(long: "image-cache"),
            ],
            variable: "DIB_IMAGE_CACHE", changesBytes: false),
        Setting(
            .unusedDays, .integer(0...36500), help: "prune: only entries not used for this many days.", valueName: "days",
            spellings: [.images: Spelling(long: "unused-days")], changesBytes: false),
        Setting(
            .from, .text(maxBytes: nil),
            help:
                "Take the operating system from a container image (oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME[:TAG]): the oci-image element with DIB_OCI_IMAGE.",
            valueName: "image", spellings: [.build: Spelling(long: "from")], variable: "DIB_OCI_IMAGE", changesBytes: true),
        Setting(
            .platform, .choice(["linux/amd64", "linux/arm64"], aliases: ["linux/arm64/v8": "linux/arm64"]),
            default: "linux/amd64",
            help:
                "The manifest taken from a container image's index, and the boot loader: linux/arm64 boots from UEFI (--layout efi) with GRUB's arm64-efi files.",
            valueName: "platform", spellings: [.pack: Spelling(long: "platform")], changesBytes: true),
    ]

    static let registry: [Setting] = [
        Setting(
            .plainHTTP, .flag, help: "docker://: plain HTTP instead of HTTPS (a local registry).",
            spellings: [.pack: Spelling(long: "plain-http"), .build: Spelling(long: "plain-http")],
            variable: "DIB_OCI_PLAIN_HTTP",
            changesBytes: false),
        Setting(
            .creds, .text(maxBytes: nil),
            help:
                "docker://: the registry's user and password, used when it asks. Without it: the registry's entry in $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json or ~/.docker/config.json; else anonymous.",
            valueName: "user:password", spellings: [.pack: Spelling(long: "creds"), .build: Spelling(long: "creds")],
            variable: "DIB_OCI_CREDS", changesBytes: false, secret: true),
        Setting(
            .registryCA, .file,
            help:
                "docker://: also trust this CA (PEM) for HTTPS, as /etc/containers/certs.d/HOST:PORT/*.crt are. Certificates are always verified.",
            valueName: "file", spellings: [.pack: Spelling(long: "registry-ca"), .build: Spelling(long: "registry-ca")],
            variable: "DIB_OCI_REGISTRY_CA", changesBytes: false),
        Setting(
            .maxExpanded, .size(allowsAuto: false),
            help:
                "Container images: refuse an image whose layers declare or expand to more than SIZE bytes in all (default 64G).",
            valueName: "size", spellings: [.pack: Spelling(long: "max-expanded"), .build: Spelling(long: "max-expanded")],
            variable: "STAMP_MAX_EXPANDED", changesBytes: false),
    ]
}

/// The namespace of the settings table and of what is computed from it.
public enum Settings {
    /// The row of `key`.
    public static subscript(_ key: Setting.Key) -> Setting { index[key]! }

    static let index: [Setting.Key: Setting] = Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0) })

    /// The settings `frontEnd` offers, in table order.
    public static func offered(by frontEnd: FrontEnd) -> [Setting] { table.filter { $0.spellings[frontEnd] != nil } }
}
