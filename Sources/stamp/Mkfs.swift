import ArgumentParser
import StampBytes
import StampExt4
import StampTree

/// `stamp mkfs ROOT_DIR IMAGE`: an ext4 image of a directory tree, like `mke2fs -d`.
struct Mkfs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an ext4 filesystem image of a directory tree (no mkfs, no mount).",
        discussion: """
            The tree is scanned once for metadata; the layout is planned in memory; the image is
            written in one forward pass with every file read once. The result carries Debian
            bookworm's ext4 feature set, all file types, ownership, modes, nanosecond times,
            xattrs and ACLs, hard links, holes, and hash-indexed directories.

            Examples:
              stamp mkfs rootfs/ root.ext4
              stamp mkfs rootfs/ root.ext4 --size 2G --label cloudimg-rootfs \\
                  --uuid 7c3e1c1a-6a55-4a0e-9d0e-2f1f3f9f0a11 --source-date-epoch 1700000000
            """)

    @Argument(help: "The directory whose contents become the filesystem's root.")
    var rootDirectory: String

    @Argument(help: "The image file to write (replaced only when complete).")
    var image: String

    @Option(help: "Filesystem size (e.g. 2G, 512M, 1073741824) or 'auto' (fits the tree with DIB's headroom).")
    var size: String = "auto"

    @Option(help: "Volume label (at most 16 bytes).")
    var label: String = ""

    @Option(help: "Filesystem UUID (random if omitted).")
    var uuid: String?

    @Option(help: "Directory hash seed UUID (derived from --uuid when that is given).")
    var hashSeed: String?

    @Option(help: "Bytes per inode, as mke2fs -i.")
    var inodeRatio: UInt64 = 16384

    @Option(help: "Journal size in MiB (default 64, less on small filesystems).")
    var journalSize: UInt64?

    @Option(help: "Clamp every timestamp to this Unix time and use it for the filesystem's own times.")
    var sourceDateEpoch: Int64?

    @Flag(name: .shortAndLong, help: "Print what was written.")
    var verbose = false

    func validate() throws {
        if size != "auto" && parseSize(size) == nil {
            throw ValidationError("invalid --size '\(size)': use a number with an optional K/M/G/T suffix, or 'auto'")
        }
        if let uuid, Identifier(uuid) == nil {
            throw ValidationError("invalid --uuid '\(uuid)': expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        }
        if let hashSeed, Identifier(hashSeed) == nil {
            throw ValidationError("invalid --hash-seed '\(hashSeed)': expected a UUID")
        }
        if inodeRatio < 1024 || inodeRatio > 67_108_864 {
            throw ValidationError("invalid --inode-ratio \(inodeRatio): use 1024 to 67108864")
        }
        if label.utf8.count > 16 { throw ValidationError("label '\(label)' is longer than 16 bytes") }
        if let journalSize, journalSize < 4 || journalSize > 10240 {
            throw ValidationError("invalid --journal-size \(journalSize): use 4 to 10240 MiB")
        }
        if let problem = outputPathProblem(image, tree: rootDirectory) { throw ValidationError(problem) }
    }

    func run() throws {
        let start = monotonicSeconds()
        var options = Ext4Options()
        options.size = size == "auto" ? .auto : .bytes(parseSize(size) ?? 0)
        options.label = label
        options.uuid = uuid.flatMap(Identifier.init)
        options.hashSeed = hashSeed.flatMap(Identifier.init)
        options.inodeRatio = inodeRatio
        options.journalMiB = journalSize
        options.sourceDateEpoch = sourceDateEpoch
        let tree = try TreeScanner().scan(rootDirectory)
        let scanned = monotonicSeconds()
        let fs = try Ext4Image(tree: tree, options: options)
        let planned = monotonicSeconds()
        try fs.write(to: image)
        let done = monotonicSeconds()
        if verbose {
            FileStream.standardError.write(
                "stamp: \(image): ext4, \(formatBytes(fs.size)), \(tree.entries.count) entries, \(fs.inodesUsed)/\(fs.inodeCount) inodes, UUID \(fs.uuid)\n"
                    + "stamp: scan \(ms(scanned - start)) ms, plan \(ms(planned - scanned)) ms, write \(ms(done - planned)) ms\n")
        }
    }

    private func ms(_ s: Double) -> Int { Int(s * 1000) }
}
