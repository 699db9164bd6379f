import ArgumentParser
import StampBytes
import StampExt4
import StampTree
import StampConfig
import StampPipeline

/// `stamp mkfs ROOT_DIR IMAGE`: an ext4 image of a directory tree, like `mke2fs -d`.
struct Mkfs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an ext4 filesystem image of a directory tree (no mkfs, no mount).",
        usage: "stamp mkfs [<options>] <root-directory> <image>",
        discussion: """
            The tree is scanned once for metadata; the layout is planned in memory; the image is \
            written in one forward pass with every file read once. The result carries Debian \
            bookworm's ext4 feature set, all file types, ownership, modes, nanosecond times, \
            xattrs and ACLs, hard links, holes, and hash-indexed directories.

            On a terminal a progress line shows bytes written, rate and time left (not with -q).

            Examples:
              stamp mkfs rootfs/ root.ext4
              stamp mkfs rootfs/ root.ext4 --size 2G --label cloudimg-rootfs \\
                  --uuid 7c3e1c1a-6a55-4a0e-9d0e-2f1f3f9f0a11 --source-date-epoch 1700000000
            """)

    @Argument(help: "The directory whose contents become the filesystem's root.", completion: .directory)
    var rootDirectory: String

    @Argument(help: "The image file to write (replaced only when complete).", completion: .file())
    var image: String

    @Option(name: .setting(.size, .mkfs), help: .setting(.size, .mkfs)) var size: String?
    @Option(name: .setting(.label, .mkfs), help: .setting(.label, .mkfs)) var label: String?
    @Option(name: .setting(.uuid, .mkfs), help: .setting(.uuid, .mkfs)) var uuid: String?
    @Option(name: .setting(.hashSeed, .mkfs), help: .setting(.hashSeed, .mkfs)) var hashSeed: String?
    @Option(name: .setting(.inodeRatio, .mkfs), help: .setting(.inodeRatio, .mkfs)) var inodeRatio: String?
    @Option(name: .setting(.journalSize, .mkfs), help: .setting(.journalSize, .mkfs)) var journalSize: String?
    @Option(name: .setting(.sourceDateEpoch, .mkfs), help: .setting(.sourceDateEpoch, .mkfs)) var sourceDateEpoch: String?
    @Flag(name: .setting(.quiet, .mkfs), help: .setting(.quiet, .mkfs)) var quiet = false
    @Flag(name: .setting(.verbose, .mkfs), help: .setting(.verbose, .mkfs)) var verbose = false

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.mkfs)
        raw[.size] = size
        raw[.label] = label
        raw[.uuid] = uuid
        raw[.hashSeed] = hashSeed
        raw[.inodeRatio] = inodeRatio
        raw[.journalSize] = journalSize
        raw[.sourceDateEpoch] = sourceDateEpoch
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        return raw
    }

    func validate() throws {
        _ = try rawSettings.resolved()
        if let problem = outputPathProblem(image, tree: rootDirectory) { throw ValidationError(problem) }
    }

    func run() throws {
        let start = monotonicSeconds()
        let values = try rawSettings.resolved()
        var options = Ext4Options()
        options.size = values.bytes(.size).map { .bytes($0) } ?? .auto
        options.label = values.text(.label) ?? ""
        options.uuid = values.text(.uuid).flatMap(Identifier.init)
        options.hashSeed = values.text(.hashSeed).flatMap(Identifier.init)
        options.inodeRatio = values.integer(.inodeRatio).map(UInt64.init) ?? options.inodeRatio
        options.journalMiB = values.integer(.journalSize).map(UInt64.init)
        options.sourceDateEpoch = values.integer(.sourceDateEpoch)
        let tree = try TreeScanner().scan(rootDirectory)
        let scanned = monotonicSeconds()
        let fs = try Ext4Image(tree: tree, options: options)
        let planned = monotonicSeconds()
        if quiet { LogLine.configure(.init(stdout: nil)) }
        try fs.write(to: image) { ProgressSink.wrapping($0, total: fs.size) }
        let done = monotonicSeconds()
        if verbose {
            FileStream.standardError.write(
                "stamp: \(image): ext4, \(formatBytes(fs.size)), \(tree.entries.count) entries, \(fs.inodesUsed)/\(fs.inodeCount) inodes, UUID \(fs.uuid)\n"
                    + "stamp: scan \(ms(scanned - start)) ms, plan \(ms(planned - scanned)) ms, write \(ms(done - planned)) ms\n")
        }
    }

    private func ms(_ s: Double) -> Int { Int(s * 1000) }
}
