import Foundation
import StampContainers
import StampIO
import StampTestSupport
import Testing

/// Damaged images must give the right ``ContainerError`` case, never a crash or a hang.
@Suite struct CorruptInputTests {
    /// What went wrong, without the details each case carries.
    enum Kind: Equatable {
        case truncated, badMagic, pointerPastEnd, badCompressedData, absurdSize, malformed, other
    }

    func kind(_ error: any Error) -> Kind {
        switch error as? ContainerError {
        case .truncated: return .truncated
        case .badMagic: return .badMagic
        case .pointerPastEnd: return .pointerPastEnd
        case .badCompressedData: return .badCompressedData
        case .absurdSize: return .absurdSize
        case .malformed: return .malformed
        default: return .other
        }
    }

    /// Reads the whole image; returns the kind of error thrown (nil if none).
    func failure(_ path: String, format: ImageFormat) -> Kind? {
        do {
            _ = try readBack(path, format: format)
            return nil
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix(path + ":"), "messages name the file: \(message)")
            #expect(!message.hasSuffix("."), "no trailing period: \(message)")
            return kind(error)
        }
    }

    /// A small image with data in two grains; returns its path.
    func make(_ format: OutputFormat, in dir: TempDir, qcow2Compressed: Bool = false) throws -> String {
        let path = dir.file("img-\(format)")
        var options = ContainerOptions()
        options.qcow2Compressed = qcow2Compressed
        options.workers = 2
        let sink = try makeImageSink(format: format, path: path, virtualSize: 4 << 20, options: options)
        let a = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try a.withUnsafeBytes { try sink.write($0, at: 0) }
        try a.withUnsafeBytes { try sink.write($0, at: 3 << 20) }
        try sink.finish(size: 4 << 20)
        return path
    }

    // MARK: streamOptimized VMDK (grain marker at sector 128, first GT after the grains)

    @Test func vmdkStream() throws {
        let dir = TempDir()
        let path = try make(.vmdkStreamOptimized, in: dir)
        let size = try readAll(path).count
        #expect(failure(path, format: .vmdk) == nil)

        try patchFile(path, at: 0, Array("XXXX".utf8))
        #expect(failure(path, format: .vmdk) == .badMagic)
        try patchFile(path, at: 0, [0x4B, 0x44, 0x4D, 0x56])

        // Garbage in the first grain's zlib stream.
        let original = Array(try readAll(path)[(65536 + 12)..<(65536 + 60)])
        try patchFile(path, at: 65536 + 12, [UInt8](repeating: 0xEE, count: 48))
        #expect(failure(path, format: .vmdk) == .badCompressedData)
        try patchFile(path, at: 65536 + 12, original)

        // GT entry 0 (the GT follows its marker; GD follows the GT) pointing past the end.
        let bytes = try readAll(path)
        let gtSector = bytes.withUnsafeBytes { raw -> Int in
            let gdOffset = Int(raw.loadUnaligned(fromByteOffset: size - 1024 + 56, as: UInt64.self))
            return Int(raw.loadUnaligned(fromByteOffset: gdOffset * 512, as: UInt32.self))
        }
        try patchFile(path, at: gtSector * 512, le32(0x7FFF_FFF0))
        #expect(failure(path, format: .vmdk) == .pointerPastEnd)

        // Capacity of 2^50 sectors in the footer (which takes precedence).
        try patchFile(path, at: size - 1024 + 12, le64(1 << 50))
        #expect(failure(path, format: .vmdk) == .absurdSize)

        try truncateFile(path, to: UInt64(size / 2))
        #expect(failure(path, format: .vmdk) == .malformed)  // no footer/EOS at the end
        try truncateFile(path, to: 100)
        #expect(failure(path, format: .vmdk) == .truncated)
    }

    @Test func vmdkSparse() throws {
        let dir = TempDir()
        let path = try make(.vmdkMonolithicSparse, in: dir)
        #expect(failure(path, format: .vmdk) == nil)
        // Primary GT (sector 27 for a 4 MiB disk) entry 0 past the end.
        try patchFile(path, at: 27 * 512, le32(0x00FF_FFFF))
        #expect(failure(path, format: .vmdk) == .pointerPastEnd)
        try patchFile(path, at: 12, le64(1 << 40))
        #expect(failure(path, format: .vmdk) == .absurdSize)
        // Grain size 1 sector with 512-entry tables: a GD of 2^28 entries for 64 TiB.
        try patchFile(path, at: 12, le64(1 << 37))
        try patchFile(path, at: 20, le64(1))
        try patchFile(path, at: 44, le32(256))
        #expect(failure(path, format: .vmdk) == .absurdSize)
        try truncateFile(path, to: 100)
        #expect(failure(path, format: .vmdk) == .truncated)
    }

    // MARK: qcow2 (cluster 1 data, 2–3 L2 … for the compressed image: packed data first)

    @Test func qcow2() throws {
        let dir = TempDir()
        let path = try make(.qcow2, in: dir)
        #expect(failure(path, format: .qcow2) == nil)
        try patchFile(path, at: 0, [0, 0, 0, 0])
        #expect(failure(path, format: .qcow2) == .badMagic)
        try patchFile(path, at: 0, [0x51, 0x46, 0x49, 0xFB])
        // L2 table = cluster 3 (after two data clusters); entry 0 past the end.
        try patchFile(path, at: 3 * 65536, be64(1 << 63 | 1 << 40))
        #expect(failure(path, format: .qcow2) == .pointerPastEnd)
        try patchFile(path, at: 24, be64(1 << 50))
        #expect(failure(path, format: .qcow2) == .absurdSize)
        try patchFile(path, at: 24, be64(4 << 20))
        try truncateFile(path, to: 3 * 65536)  // L2, L1 and refcounts cut off
        #expect(failure(path, format: .qcow2) == .pointerPastEnd)
        try truncateFile(path, to: 50)
        #expect(failure(path, format: .qcow2) == .truncated)
    }

    @Test func qcow2Compressed() throws {
        let dir = TempDir()
        let path = try make(.qcow2, in: dir, qcow2Compressed: true)
        #expect(failure(path, format: .qcow2) == nil)
        try patchFile(path, at: 65536, [UInt8](repeating: 0xFF, count: 64))  // first compressed cluster
        #expect(failure(path, format: .qcow2) == .badCompressedData)
    }

    // MARK: VHD

    @Test func vhdDynamic() throws {
        let dir = TempDir()
        let path = try make(.vhdDynamic, in: dir)
        let size = try readAll(path).count
        #expect(failure(path, format: .vhd) == nil)
        try patchFile(path, at: 1536, be32(0x00FF_FFF0))  // BAT entry 0 past the end
        #expect(failure(path, format: .vhd) == .pointerPastEnd)
        // Current size 2^50 in the footer, with its checksum recomputed.
        var footer = Array(try readAll(path)[(size - 512)...])
        footer.replaceSubrange(48..<56, with: be64(1 << 50))
        footer.replaceSubrange(64..<68, with: [0, 0, 0, 0])
        footer.replaceSubrange(64..<68, with: be32(~footer.reduce(UInt32(0)) { $0 &+ UInt32($1) }))
        try patchFile(path, at: size - 512, footer)
        #expect(failure(path, format: .vhd) == .absurdSize)
        try patchFile(path, at: size - 512 + 48, [1])  // checksum no longer matches
        #expect(failure(path, format: .vhd) == .malformed)
        try patchFile(path, at: size - 512, Array("notavhd!".utf8))
        #expect(failure(path, format: .vhd) == .truncated)  // footer copy at 0, none at the end
        try patchFile(path, at: 0, Array("notavhd!".utf8))
        #expect(failure(path, format: .vhd) == .badMagic)
    }

    @Test func vhdFixed() throws {
        let dir = TempDir()
        let path = try make(.vhdFixed, in: dir)
        #expect(failure(path, format: .vhd) == nil)
        try truncateFile(path, to: 300)
        #expect(failure(path, format: .vhd) == .truncated)
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: IOError.self) { _ = try ImageDetector.open(path: "/nonexistent/stamp.img") }
    }
}

/// Random damage to every format: reading must end in success or a thrown error, never a
/// crash, a huge allocation or a hang.
@Suite struct FuzzedInputTests {
    /// Accepts any ascending stream without storing it (the virtual size may be anything).
    final class CheckingSink: ImageSink {
        var end: UInt64 = 0
        var bytes: UInt64 = 0
        private let buffer = IOBuffer(size: 1 << 16)
        func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
            precondition(offset >= end, "extents out of order")
            end = offset + UInt64(data.count)
            bytes += UInt64(data.count)
        }
        func copy(_ range: SourceRange, at offset: UInt64) throws {
            try range.forEachChunk(buffer: buffer.bytes) { chunk, at in try write(chunk, at: offset + at) }
        }
        func finish(size: UInt64) throws { precondition(end <= size, "data past the virtual size") }
    }

    @Test(arguments: [OutputFormat.qcow2, .vmdkStreamOptimized, .vmdkMonolithicSparse, .vhdDynamic, .vhdFixed])
    func randomDamageNeverCrashes(format: OutputFormat) throws {
        let dir = TempDir()
        let path = dir.file("fuzz")
        var options = ContainerOptions()
        options.workers = 2
        options.qcow2Compressed = true
        let sink = try makeImageSink(format: format, path: path, virtualSize: 3 << 20, options: options)
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        try data.withUnsafeBytes { try sink.write($0, at: 4096) }
        try sink.finish(size: 3 << 20)
        let original = try readAll(path)
        let size = original.count
        var rng = SplitMix(UInt64(size))
        var failures = 0
        for round in 0..<150 {
            // Damage metadata-heavy places most: the head, the tail, or anywhere.
            let region = rng.next() % 3
            let at: Int
            switch region {
            case 0: at = Int(rng.next() % UInt64(min(size, 512)))
            case 1: at = size - 1 - Int(rng.next() % UInt64(min(size, 1536)))
            default: at = Int(rng.next() % UInt64(size))
            }
            let count = min(size - at, 1 + Int(rng.next() % 8))
            let value: [UInt8] = (0..<count).map { _ in round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : 0xFF }
            try patchFile(path, at: at, value)
            do {
                try ImageDetector.open(
                    path: path, format: format == .qcow2 ? .qcow2 : format == .vhdDynamic || format == .vhdFixed ? .vhd : .vmdk
                )
                .replay(into: CheckingSink())
            } catch is ContainerError {
                failures += 1
            } catch is IOError {
                failures += 1
            }
            try patchFile(path, at: at, Array(original[at..<(at + count)]))
        }
        for cut in stride(from: 0, to: size, by: max(1, size / 12)) {
            try truncateFile(path, to: UInt64(cut))
            #expect(throws: (any Error).self) {
                try ImageDetector.open(
                    path: path, format: format == .qcow2 ? .qcow2 : format == .vhdDynamic || format == .vhdFixed ? .vhd : .vmdk
                )
                .replay(into: CheckingSink())
            }
        }
        #expect(failures > 0, "some damage must be detected")
    }
}
