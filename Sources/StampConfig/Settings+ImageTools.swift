extension Settings {
    /// The container formats `stamp convert -O` writes (a disk image, not a tree archive or
    /// a package); other spellings qemu-img uses for them are aliases.
    public static let convertFormats = ["raw", "qcow2", "vmdk", "vmdk-sparse", "vhd", "vhd-fixed"]

    /// The options of the commands that read images: `stamp convert`, `inspect` and `verify`
    /// (their `-q`/`-v` are in ``console``; `--qcow2-compat` and `--fast` are the pack rows).
    static let imageTools: [Setting] = [
        Setting(
            .outputFormat,
            .choice(
                convertFormats,
                aliases: OutputFormats.aliases.filter { convertFormats.contains($0.value) }.merging(["vhd-dynamic": "vhd"]) {
                    first, _ in first
                }),
            help: "Output format: \(convertFormats.joined(separator: ", ")).", valueName: "format",
            spellings: [.convert: Spelling(short: "O")], changesBytes: true),
        Setting(
            .disk, .integer(1...65535),
            help: "With an OVA as input: the disk to convert (1 for the first, in the OVF's DiskSection order).",
            valueName: "n", spellings: [.convert: Spelling(long: "disk")], changesBytes: true),
        Setting(
            .json, .flag,
            help:
                "Print JSON: qemu-img info's keys and meanings (virtual-size, actual-size, format, …), stamp's partitions and filesystems under \"stamp\" (docs/inspect-json.md).",
            spellings: [.inspect: Spelling(long: "json")], conflicts: [Conflict(.quiet, "--quiet prints nothing; drop one")],
            changesBytes: false),
        Setting(
            .cert, .file, help: "Trusted CA (or signer) certificate(s), PEM.", valueName: "ca.pem",
            spellings: [.verify: Spelling(long: "cert")], changesBytes: false),
    ]
}
