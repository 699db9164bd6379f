import StampArchive
import StampIO
import StampTree

#if canImport(Glibc)
    import Glibc
#endif

/// The data pass over an image's layers: reads the members a ``LayerTree`` model points to
/// (``EntryContent/member(layer:member:)``) from the verified blobs, compressed as pulled,
/// when the ext4 writer (or the boot loader step) asks for them. Nothing is written to disk.
///
/// One layer is open at a time, positioned in one member:
///
/// ```
///  read(layer L, member k, offset o)
///    L, k, o at or after the position   skip forward: headers up to k, data up to o
///    anything earlier, or another L     close, open L from its start, then skip forward
/// ```
///
/// The writer lays files out in (layer, member) order, so a whole image costs one pass
/// over each blob; reads out of that order are correct and only slower. A member that is
/// not a regular file where the model has one (a blob changed between the passes) ends
/// the read with an error naming the file.
public final class LayerMembers: MemberDataSource {
    let files: [String]
    let names: [String]
    /// Each blob's device, inode, size and ns mtime when the metadata pass read it: a blob
    /// found otherwise when the data pass opens it (an OCI layout is the user's directory,
    /// read twice) is not read.
    let identities: [BlobIdentity?]

    /// How many times each layer was opened for its data: once each when the reads came in
    /// layer order (plus one for the layers a boot loader's files were read from first).
    public private(set) var passes: [Int]

    private var layer: Int32 = -1
    private var member: Int32 = -1
    private var offset: UInt64 = 0
    private var reader: ArchiveReader?
    private var gzip: GzipLayerStream?
    /// A scratch buffer for data skipped over.
    private var discard = [UInt8](repeating: 0, count: 1 << 16)

    public init(files: [String], names: [String]) {
        self.files = files
        self.names = names
        self.identities = files.map(BlobIdentity.init(path:))
        self.passes = files.map { _ in 0 }
    }

    /// The log line of the data pass: `4 layers, one pass each` or `… 7 passes over 4 layers`.
    public var summary: String {
        let read = passes.filter { $0 > 0 }.count
        let total = passes.reduce(0, +)
        return total == read
            ? "\(read) of \(passes.count) layers read, one pass each" : "\(total) passes over \(read) of \(passes.count) layers"
    }

    deinit { closeLayer() }

    public func read(layer: Int32, member: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, path: String)
        throws(IOError) -> Int
    {
        do {
            return try position(layer: layer, member: member, offset: offset, path: path).read(into: buffer).advancing(
                &self.offset)
        } catch let error as IOError {
            closeLayer()
            throw error
        } catch {
            closeLayer()
            let name = Int(layer) < names.count ? names[Int(layer)] : "layer \(layer)"
            throw .unreadable(path: path, reason: "reading it from \(name): \(error)")
        }
    }

    /// The reader, at `offset` in member `member` of `layer`.
    private func position(layer: Int32, member: Int32, offset: UInt64, path: String) throws -> ArchiveReader {
        guard layer >= 0, Int(layer) < files.count else {
            throw IOError.unreadable(path: path, reason: "no layer \(layer) in the image")
        }
        if layer != self.layer || member < self.member || (member == self.member && offset < self.offset) || reader == nil {
            closeLayer()
            guard let recorded = identities[Int(layer)], BlobIdentity(path: files[Int(layer)]) == recorded else {
                throw IOError.unreadable(
                    path: path, reason: "\(names[Int(layer)]) changed after its metadata was read (not read)")
            }
            passes[Int(layer)] += 1
            gzip = try GzipLayerStream.open(files[Int(layer)])
            reader =
                try gzip.map { try ArchiveReader(name: files[Int(layer)], source: $0) } ?? ArchiveReader(path: files[Int(layer)])
            self.layer = layer
            self.member = -1
        }
        guard let reader else { throw IOError.unreadable(path: path, reason: "the layer is not open") }
        while self.member < member {
            guard let next = try reader.next() else {
                throw IOError.unreadable(path: path, reason: "\(names[Int(layer)]) ends before member \(member)")
            }
            self.member += 1
            self.offset = 0
            if self.member == member && (!next.isRegular || next.hardLink != nil) {
                throw IOError.unreadable(path: path, reason: "\(names[Int(layer)]) changed: member \(member) is not a file")
            }
        }
        while self.offset < offset {
            let want = Int(min(UInt64(discard.count), offset - self.offset))
            let n = try discard.withUnsafeMutableBytes {
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<want]))
            }
            if n == 0 { return reader }  // the member ends first: the caller reads 0
            self.offset += UInt64(n)
        }
        return reader
    }

    private func closeLayer() {
        reader?.close()
        reader = nil
        gzip?.close()
        gzip = nil
        layer = -1
        member = -1
        offset = 0
    }
}

extension Int {
    /// `self`, after adding it to `total` (a read's count to the position it moves).
    fileprivate func advancing(_ total: inout UInt64) -> Int {
        total += UInt64(self)
        return self
    }
}

/// Which file a blob is: `stat`'s device, inode, size and modification time (ns).
struct BlobIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: timespec

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = st.st_mtim
    }

    static func == (a: BlobIdentity, b: BlobIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec
            && a.modified.tv_nsec == b.modified.tv_nsec
    }
}
