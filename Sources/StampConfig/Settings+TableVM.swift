extension Settings {
    /// The guest OS an OVA declares unless told otherwise (`--os-type`, or `os_vmw` in an
    /// `--ovf-config`): any 64-bit Linux of kernel 4 or later, which every current ESXi knows.
    public static let defaultGuestOS = "other4xLinux64Guest"

    /// The root filesystem's label unless told otherwise (DIB's `ROOT_LABEL` default).
    public static let defaultRootLabel = "cloudimg-rootfs"

    static let ovfHint = "an --ovf-config describes the whole virtual machine; set it in the config"

    static let ova: [Setting] = [
        Setting(
            .vmName, .text(maxBytes: 255), help: "OVA: virtual machine name (default: the output's file name).",
            spellings: [.pack: Spelling(long: "vm-name")], requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .cpus, .integer(1...768), default: "2", help: "OVA: virtual CPUs.", spellings: [.pack: Spelling(long: "cpus")],
            conflicts: [Conflict(.ovfConfig, ovfHint + " (cpus:)")], requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .memory, .integer(4...16_777_216), default: "2048", help: "OVA: memory in MiB.", valueName: "MiB",
            spellings: [.pack: Spelling(long: "memory")], conflicts: [Conflict(.ovfConfig, ovfHint + " (memory:)")],
            requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .osType, .text(maxBytes: 64), default: defaultGuestOS, help: "OVA: guest OS type (vmw:osType).",
            spellings: [.pack: Spelling(long: "os-type")], conflicts: [Conflict(.ovfConfig, ovfHint + " (os_vmw:)")],
            requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .nic, .choice(["vmxnet3", "e1000"]), default: "vmxnet3", help: "OVA: network card, vmxnet3 or e1000.",
            spellings: [.pack: Spelling(long: "nic")], conflicts: [Conflict(.ovfConfig, ovfHint + " (networks:)")],
            requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .controller, .choice(["lsilogic", "pvscsi"]), default: "lsilogic", help: "OVA: SCSI controller, lsilogic or pvscsi.",
            spellings: [.pack: Spelling(long: "controller")], conflicts: [Conflict(.ovfConfig, ovfHint + " (hardware:)")],
            requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .ovfConfig, .file,
            help: "OVA: the virtual machine from an ova-compose YAML file (open-vmdk); replaces the other OVA hardware options.",
            valueName: "file", spellings: [.pack: Spelling(long: "ovf-config"), .build: Spelling(long: "ovf-config")],
            requires: [.format(["ova"])], changesBytes: true),
        Setting(
            .param, .assignments, help: "OVA: a value for a '!param NAME' of --ovf-config (repeatable).", valueName: "name=value",
            spellings: [.pack: Spelling(long: "param"), .build: Spelling(long: "param")], requires: [.setting(.ovfConfig)],
            changesBytes: true),
        Setting(
            .sign, .file,
            help: "OVA: sign the manifest (OUT.cert) with this PEM private key (the certificate may follow it in the file).",
            valueName: "key.pem", spellings: [.pack: Spelling(long: "sign"), .build: Spelling(long: "sign")],
            requires: [.format(["ova"])], changesBytes: true, secret: true),
        Setting(
            .signCert, .file, help: "OVA: the signer's PEM certificate, when not in the --sign file.", valueName: "cert.pem",
            spellings: [.pack: Spelling(long: "sign-cert"), .build: Spelling(long: "sign-cert")], requires: [.setting(.sign)],
            changesBytes: true),
        Setting(
            .signAlgorithm, .choice(["sha256", "sha512"]), default: "sha256", help: "OVA: signature digest, sha256 or sha512.",
            spellings: [.pack: Spelling(long: "sign-algorithm"), .build: Spelling(long: "sign-algorithm")],
            requires: [.setting(.sign)], changesBytes: true),
    ]

    static let elements: [Setting] = [
        Setting(
            .release, .text(maxBytes: nil), help: "Distribution release, e.g. bookworm or jammy.",
            spellings: [.build: Spelling(long: "release")], variable: "DIB_RELEASE", changesBytes: true),
        Setting(
            .elementsPath, .list(commas: false), help: "A directory of elements, searched before the built-in ones (repeatable).",
            valueName: "dir", spellings: [.build: Spelling(long: "elements-path")], variable: "ELEMENTS_PATH", changesBytes: true),
        Setting(
            .offline, .flag, help: "Use only what the download cache holds; do not refresh it.",
            spellings: [.build: Spelling(long: "offline"), .dib: Spelling(long: "offline")], variable: "DIB_OFFLINE",
            changesBytes: false),
        Setting(
            .packages, .list(commas: true), help: "Extra packages to install after install.d (comma-separated, repeatable).",
            valueName: "packages", spellings: [.build: Spelling(long: "packages", short: "p"), .dib: Spelling(short: "p")],
            changesBytes: true),
        Setting(
            .env, .assignments, help: "An environment variable for the elements (repeatable).", valueName: "NAME=VALUE",
            spellings: [.build: Spelling(long: "env")], changesBytes: true),
        Setting(
            .trace, .flag, help: "Trace the element scripts (set -x; DIB_DEBUG_TRACE).",
            spellings: [.build: Spelling(long: "trace", short: "x"), .dib: Spelling(short: "x")], variable: "DIB_DEBUG_TRACE",
            changesBytes: false),
    ]

    /// DIB's own flags, which the `stamp` commands express otherwise or not at all.
    static let dibOnly: [Setting] = [
        Setting(
            .arch, .text(maxBytes: nil), help: "Target architecture (default: the host's).", valueName: "arch",
            spellings: [.build: Spelling(long: "arch", short: "a"), .dib: Spelling(short: "a")], variable: "ARCH",
            changesBytes: true),
        Setting(
            .clearEnvironment, .flag, help: "Clear the environment before building: the elements see PATH and HOME only.",
            spellings: [.build: Spelling(long: "clear-environment", short: "c"), .dib: Spelling(short: "c")], changesBytes: true),
        Setting(
            .noBase, .flag, help: "Do not add the base element.",
            spellings: [.build: Spelling(long: "no-base", short: "n"), .dib: Spelling(short: "n")], changesBytes: true),
        Setting(
            .maxOnlineResize, .integer(1...Int64(UInt32.max)),
            help: "The block count the root filesystem may grow to online (mke2fs -E resize=).", valueName: "blocks",
            spellings: [.build: Spelling(long: "max-online-resize"), .dib: Spelling(long: "max-online-resize")],
            variable: "MAX_ONLINE_RESIZE", changesBytes: true),
        Setting(
            .mkfsOptions, .text(maxBytes: nil), help: "mkfs options for the root filesystem (-i, -m, -E resize=, -O …).",
            valueName: "opts", spellings: [.build: Spelling(long: "mkfs-options"), .dib: Spelling(long: "mkfs-options")],
            variable: "DIB_MKFS_OPTS", changesBytes: true),
        Setting(
            .qemuImgOptions, .text(maxBytes: nil),
            help:
                "qemu-img's creation options: compat=0.10|1.1 (qcow2 version 2 or 3), subformat=streamOptimized|monolithicSparse and adapter_type (vmdk); others only with the value stamp writes.",
            valueName: "k=v[,k=v]",
            spellings: [.build: Spelling(long: "qemu-img-options"), .dib: Spelling(long: "qemu-img-options")],
            variable: "QEMU_IMG_OPTIONS",
            changesBytes: true),
        Setting(
            .noTmpfs, .flag, help: "Accepted for compatibility (stamp builds in a private scratch directory).",
            spellings: [.build: Spelling(long: "no-tmpfs"), .dib: Spelling(long: "no-tmpfs")], variable: "DIB_NO_TMPFS",
            changesBytes: false),
        Setting(
            .minTmpfs, .integer(0...Int64(Int32.max)), help: "Accepted for compatibility.", valueName: "GiB",
            spellings: [.build: Spelling(long: "min-tmpfs"), .dib: Spelling(long: "min-tmpfs")], variable: "DIB_MIN_TMPFS",
            changesBytes: false),
        Setting(
            .ramdiskElement, .text(maxBytes: nil), help: "Accepted for compatibility.", valueName: "element",
            spellings: [.build: Spelling(long: "ramdisk-element"), .dib: Spelling(long: "ramdisk-element")], changesBytes: false),
        Setting(
            .installType, .text(maxBytes: nil), help: "Default install type of the elements (source).", valueName: "type",
            spellings: [.build: Spelling(long: "install-type"), .dib: Spelling(long: "install-type")],
            variable: "DIB_DEFAULT_INSTALLTYPE", changesBytes: true),
        Setting(
            .dockerTarget, .text(maxBytes: 255),
            help:
                "-t docker: the image's name and tag (NAME[:TAG]) in OUT.docker.tar, and imported under it where a docker CLI is on PATH (default: the output's file name).",
            valueName: "target", spellings: [.build: Spelling(long: "docker-target"), .dib: Spelling(long: "docker-target")],
            variable: "DOCKER_TARGET", requires: [.format(["docker"])], changesBytes: true),
        Setting(
            .logfile, .text(maxBytes: nil), help: "Also write the timestamped log to FILE (quiet on stdout unless DIB_QUIET=0).",
            valueName: "file",
            spellings: [
                .build: Spelling(long: "logfile", help: "Also write the timestamped log to FILE (appended)."),
                .dib: Spelling(long: "logfile"),
            ], changesBytes: false),
    ]
}
