import StampContainers
import StampIO

/// Fuzz targets for the container readers (`stamp convert`, `stamp inspect`).
///
/// Each opens the input as its format, then walks the whole virtual disk through
/// ``DiskImageReader/forEachExtent(_:)``, reading every byte of every extent, and checks the
/// protocol's contract on the way (see ``ExtentWalk``). A thrown ``ContainerError`` is the
/// expected answer to a malformed image; a trap or a broken contract is a bug.

/// qcow2 (versions 2 and 3, plain, zero and compressed clusters).
public func fuzzQcow2(_ data: UnsafeRawBufferPointer) {
    walkContainer(data) { try Qcow2Reader(path: $0) }
}

/// Sparse VMDK: streamOptimized (compressed grains, markers, footer) and monolithicSparse.
public func fuzzVMDK(_ data: UnsafeRawBufferPointer) {
    walkContainer(data) { try VMDKReader(path: $0) }
}

/// Fixed and dynamic VHD. Both checksums (footer, dynamic header) guard everything a
/// mutation could reach, so each input runs twice: as given (the checksum checks), and with
/// the checksums recomputed (the reader past them), when that changes anything.
public func fuzzVHD(_ data: UnsafeRawBufferPointer) {
    walkContainer(data) { try VHDReader(path: $0) }
    guard var fixed = withVHDChecksumsFixed(data) else { return }
    fixed.withUnsafeMutableBytes { walkContainer(UnsafeRawBufferPointer($0)) { try VHDReader(path: $0) } }
}

/// `data` with the VHD footer's checksum (last sector, field at 64) and the dynamic header's
/// (at the footer's data offset, field at 36) recomputed; nil when neither changed.
func withVHDChecksumsFixed(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
    var bytes = [UInt8](data)
    guard bytes.count >= 512 else { return nil }
    func be(_ at: Int, _ count: Int) -> UInt64 { bytes[at..<(at + count)].reduce(0) { $0 << 8 | UInt64($1) } }
    func fix(_ start: Int, _ length: Int, _ field: Int, cookie: String) -> Bool {
        guard bytes[start..<(start + 8)].elementsEqual(cookie.utf8) else { return false }
        var sum: UInt32 = 0
        for i in start..<(start + length) where !(start + field..<start + field + 4).contains(i) { sum &+= UInt32(bytes[i]) }
        let value = ~sum
        let encoded = (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        guard !bytes[(start + field)..<(start + field + 4)].elementsEqual(encoded) else { return false }
        bytes.replaceSubrange((start + field)..<(start + field + 4), with: encoded)
        return true
    }
    let footer = bytes.count - 512
    var changed = fix(footer, 512, 64, cookie: "conectix")
    let dynamic = be(footer + 16, 8)
    if dynamic <= UInt64(bytes.count), UInt64(bytes.count) - dynamic >= 1024 {
        changed = fix(Int(dynamic), 1024, 36, cookie: "cxsparse") || changed
    }
    return changed ? bytes : nil
}

private func walkContainer(_ data: UnsafeRawBufferPointer, open: (String) throws -> any DiskImageReader) {
    do {
        try Scratch.withFile(data) { path in
            // Detection (`stamp convert` without -f) looks at the same bytes first.
            _ = try? ImageDetector.detect(path: path)
            let reader = try open(path)
            try ExtentWalk.walk(reader, fileSize: UInt64(data.count))
        }
    } catch {
        _ = "\(error)"  // every error renders as a message
    }
}

/// Reads a reader's whole disk and checks ``DiskImageReader``'s contract: extents cover
/// `[0, virtualSize)` exactly once, in ascending order, and every file range lies inside the
/// image file. A violation is a reader bug and stops the process (that is what a fuzzer
/// reports); a thrown error ends the walk normally.
enum ExtentWalk {
    static func walk(_ reader: any DiskImageReader, fileSize: UInt64) throws {
        _ = reader.format
        _ = reader.variant
        let size = reader.virtualSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 64)
        defer { buffer.deallocate() }
        var cursor: UInt64 = 0
        var checksum: UInt8 = 0
        func advance(_ offset: UInt64, _ length: UInt64, _ kind: String) {
            guard offset == cursor else { broken("\(kind) extent at \(offset), expected \(cursor)") }
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, end <= size else { broken("\(kind) extent \(offset)+\(length) past the virtual size \(size)") }
            cursor = end
        }
        try reader.forEachExtent { extent in
            switch extent {
            case .zero(let offset, let length):
                advance(offset, length, "zero")
            case .data(let offset, let bytes):
                advance(offset, UInt64(bytes.count), "data")
                for byte in bytes { checksum &+= byte }
            case .file(let range, let at):
                advance(at, range.length, "file")
                let (end, overflow) = range.offset.addingReportingOverflow(range.length)
                guard !overflow, end <= fileSize else {
                    broken("file range \(range.offset)+\(range.length) past the end of the image (\(fileSize) bytes)")
                }
                try range.forEachChunk(buffer: buffer) { chunk, _ in
                    for byte in chunk { checksum &+= byte }
                }
            }
        }
        guard cursor == size else { broken("extents end at \(cursor), the virtual size is \(size)") }
        _ = checksum
    }

    private static func broken(_ message: String) -> Never {
        fatalError("DiskImageReader contract broken: \(message)")
    }
}
