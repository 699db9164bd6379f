import StampBytes
import StampIO
import StampTree

/// An ext4 filesystem image planned from a tree, ready to be emitted.
///
/// ```swift
/// let tree = try TreeScanner().scan("/srv/rootfs")
/// var options = Ext4Options()
/// options.label = "cloudimg-rootfs"
/// let image = try Ext4Image(tree: tree, options: options)   // plans; reads no file data
/// try image.write(to: "root.ext4")                           // one forward pass
/// ```
///
/// As an ``ImageProducer`` it can also be placed inside a partitioned disk and streamed
/// into any container sink.
public final class Ext4Image: ImageProducer {
    /// Size of the filesystem in bytes.
    public let size: UInt64
    /// The filesystem UUID.
    public var uuid: Identifier { layout.uuid }
    /// The directory hash seed.
    public var hashSeed: Identifier { layout.hashSeed }
    /// Number of inodes in use, and in total.
    public var inodesUsed: UInt32 { layout.usedInodes }
    public var inodeCount: UInt64 { layout.geometry.inodeCount }

    let layout: Layout

    /// Plans the filesystem. Throws before anything is written when the tree does not fit.
    public init(tree: RootTree, options: Ext4Options) throws {
        if options.label.utf8.count > 16 { throw Ext4Error.labelTooLong(options.label) }
        let uuid = options.uuid ?? Identifier.random()
        let seed =
            options.hashSeed
            ?? (options.uuid != nil ? Identifier.derived(from: uuid.bytes + Array("hash-seed".utf8)) : Identifier.random())
        let estimate = Ext4Image.estimate(tree)
        switch options.size {
        case .bytes(let bytes):
            let blocks = bytes >> Ext4.blockShift
            guard blocks > 4096 else { throw Ext4Error.invalidSize(bytes, reason: "stamp needs more than 16 MiB") }
            do {
                layout = try Layout(
                    tree: tree, options: options, blockCount: blocks,
                    inodesWanted: max(bytes / options.inodeRatio, options.minimumInodes),
                    uuid: uuid, hashSeed: seed)
            } catch Ext4Error.imageTooSmall {
                let needed = try Ext4Image.search(tree, options, estimate, uuid, seed, from: blocks + 1)
                throw Ext4Error.imageTooSmall(size: bytes, needed: needed.geometry.blockCount << Ext4.blockShift)
            }
        case .auto:
            // DIB's rule: used space ÷ 0.6 (or + DIB_IMAGE_EXTRA_SIZE), plus the journal.
            // Past 16 TiB of data no ext4 of 4 KiB blocks holds it (and the sums below would
            // overflow): a tree of huge sparse files read where holes cannot be found.
            guard estimate.blocks < (1 << 32) else {
                throw Ext4Error.invalidSize(.max, reason: "the tree holds more than 16 TiB of data")
            }
            let journal = Layout.journalBlocks(options: options, blockCount: estimate.blocks * 2) << Ext4.blockShift
            let used = estimate.blocks << Ext4.blockShift
            var bytes = (options.extraBytes.map { used + $0 } ?? used * 10 / 6) + journal
            bytes = max(bytes, 64 << 20).roundedUp(toMultipleOf: 64 << 10)
            layout = try Ext4Image.search(tree, options, estimate, uuid, seed, from: bytes >> Ext4.blockShift)
        }
        size = layout.geometry.blockCount << Ext4.blockShift
    }

    /// Blocks the tree's data needs (files, directories, symlinks) and inodes it uses.
    static func estimate(_ tree: RootTree) -> (blocks: UInt64, inodes: UInt64) {
        var blocks: UInt64 = 4  // lost+found
        var inodes: UInt64 = 12
        for entry in tree.entries where entry.hardLinkOf == nil {
            inodes += 1
            switch entry.kind {
            case .regular:
                let data = Layout.blockRegions(entry.regions).reduce(UInt64(0)) {
                    $0.addingReportingOverflow(UInt64($1.count)).partialValue
                }
                let (sum, overflow) = blocks.addingReportingOverflow(data)
                blocks = overflow ? .max / 2 : sum
            case .symlink: blocks += entry.size >= 60 ? 1 : 0
            case .directory:
                let bytes = entry.children.reduce(24) { $0 + DirectoryBuilder.recordLength(tree.entries[Int($1)].name.count) }
                blocks += UInt64(bytes).dividedRoundingUp(by: UInt64(DirectoryBuilder.leafCapacity)) + 1
            default: break
            }
            if !entry.xattrs.isEmpty { blocks += 1 }
        }
        return (blocks, inodes)
    }

    /// Plans at `from` blocks, growing 4% at a time until the tree fits.
    static func search(
        _ tree: RootTree, _ options: Ext4Options, _ estimate: (blocks: UInt64, inodes: UInt64),
        _ uuid: Identifier, _ seed: Identifier, from start: UInt64
    ) throws -> Layout {
        var blocks = max(start, 4097)
        while true {
            let inodes = max(
                blocks * UInt64(Ext4.blockSize) / options.inodeRatio, options.size == .auto ? estimate.inodes * 5 / 4 : 0)
            do {
                return try Layout(
                    tree: tree, options: options, blockCount: blocks, inodesWanted: inodes, uuid: uuid, hashSeed: seed)
            } catch Ext4Error.imageTooSmall {
                blocks += max(blocks / 25, 256)
            } catch Ext4Error.tooManyInodes where options.size == .auto {
                blocks += max(blocks / 25, 256)
            }
        }
    }

    public func emit(into sink: ImageSink, at base: UInt64) throws {
        var emitter = Emitter(layout: layout, sink: sink, base: base)
        try emitter.run()
    }

    /// Writes the filesystem to a sparse file at `path` (temporary name, renamed when done),
    /// through ``StagedWriter``'s aligned `O_DIRECT` stages: every ext4 write is whole 4 KiB
    /// blocks, so the image never passes through the page cache and the final fsync has
    /// nothing left to flush. (Buffered, a warm 700 MB root took about twice as long: page
    /// cache copies, then writeback at the fsync.) Free space stays a hole. `through` may put
    /// a sink in front of the file's (a progress line).
    public func write(to path: String, through wrap: (ImageSink) -> ImageSink = { $0 }) throws {
        let sink = try StagedWriter(path: path)
        do {
            let front = wrap(sink)
            try emit(into: front, at: 0)
            try front.finish(size: size)
        } catch {
            sink.discard()
            throw error
        }
    }
}
