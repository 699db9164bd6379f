import Foundation
import StampCompression
import StampContainers
import StampIO
import StampTestSupport
import Testing

/// A compressed qcow2 and a streamOptimized VMDK fed from one ``SharedChunkCompression``.
@Suite struct SharedCompressionTests {
    func options(fast: Bool) -> ContainerOptions {
        var o = ContainerOptions()
        o.compression = fast ? .fast : .default
        o.qcow2Compressed = true
        o.workers = 2
        return o
    }

    /// Writes the large synthetic disk through a shared compression into a qcow2 and a VMDK.
    func writeShared(_ disk: SyntheticDisk, dir: TempDir, fast: Bool, checksum: ((UnsafeRawBufferPointer) -> Void)? = nil)
        throws -> (qcow2: String, vmdk: String)
    {
        let qcow2 = dir.file("shared.qcow2")
        let vmdk = dir.file("shared.vmdk")
        let shared = try SharedChunkCompression(virtualSize: disk.size, options: options(fast: fast))
        let q = try makeImageSink(
            format: .qcow2, path: qcow2, virtualSize: disk.size, options: options(fast: fast), sharedCompression: shared)
        let v = try makeImageSink(
            format: .vmdkStreamOptimized, path: vmdk, virtualSize: disk.size, options: options(fast: fast), observer: checksum,
            sharedCompression: shared)
        #expect(shared.feeds(q) && shared.feeds(v))
        // The writers themselves refuse the stream: only the shared compression is given it.
        let byte: [UInt8] = [1]
        #expect(throws: ContainerError.self) { try byte.withUnsafeBytes { try q.write($0, at: 0) } }
        try disk.feed(shared, sourceDirectory: dir)
        return (qcow2, vmdk)
    }

    /// Both outputs read back as the disk; the qcow2 is byte-identical to one compressed on its
    /// own (same 4 KiB-window deflate), and every VMDK grain is a zlib stream announcing a
    /// 4 KiB window that zlib inflates to the grain.
    @Test(arguments: [false, true])
    func oneCompressionServesQcow2AndVMDK(fast: Bool) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let (qcow2, vmdk) = try writeShared(disk, dir: dir, fast: fast)
        let raw = disk.raw
        #expect(same(try readBack(qcow2), raw))
        #expect(same(try readBack(vmdk), raw))

        let alone = dir.file("alone.qcow2")
        try disk.feed(try Qcow2Writer(path: alone, virtualSize: disk.size, options: options(fast: fast)), sourceDirectory: dir)
        #expect(same(try readAll(qcow2), try readAll(alone)))

        // Walk the grain markers: 12-byte marker (lba, size), then the zlib stream.
        let bytes = try readAll(vmdk)
        var sector = 128  // VMDK.streamOverhead: header, descriptor, padding
        var grains = 0
        let decompressor = try Decompressor()
        var grain = [UInt8](repeating: 0, count: 65536)
        while sector * 512 + 16 <= bytes.count {
            let at = sector * 512
            let size = Int(bytes[at + 8]) | Int(bytes[at + 9]) << 8 | Int(bytes[at + 10]) << 16 | Int(bytes[at + 11]) << 24
            if size == 0 {  // a metadata marker: its sector count, then the marker sector
                let sectors = Int(bytes[at]) | Int(bytes[at + 1]) << 8
                sector += 1 + sectors
                continue
            }
            #expect(bytes[at + 12] == 0x48, "grain at sector \(sector): CMF \(bytes[at + 12])")  // deflate, 4 KiB window
            #expect((Int(bytes[at + 12]) << 8 | Int(bytes[at + 13])) % 31 == 0)
            let stream = Array(bytes[(at + 12)..<(at + 12 + size)])
            let n = try stream.withUnsafeBytes { s in
                try grain.withUnsafeMutableBytes { try decompressor.decompress(s, into: $0, format: .zlib(windowBits: 15)) }
            }
            #expect(n == 65536)
            let lba = bytes[at..<(at + 8)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(
                same(
                    grain,
                    Array(raw[(lba * 512)..<min(lba * 512 + 65536, raw.count)])
                        + [UInt8](repeating: 0, count: max(0, lba * 512 + 65536 - raw.count))))
            grains += 1
            sector += (12 + size + 511) / 512
        }
        let nonZero = stride(from: 0, to: raw.count, by: 65536).filter {
            raw[$0..<min($0 + 65536, raw.count)].contains { $0 != 0 }
        }
        #expect(grains == nonZero.count && grains > 10)
    }

    /// qemu-img (a reader we did not write) checks both and finds them equal to the raw disk,
    /// by default and with `--fast` (ISA-L level 0 and its trained code).
    @Test(.enabled(if: hasQemuImg), arguments: [false, true])
    func qemuReadsBoth(fast: Bool) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        var observed = 0
        let (qcow2, vmdk) = try writeShared(disk, dir: dir, fast: fast, checksum: { observed += $0.count })
        let raw = dir.file("disk.raw")
        try disk.feed(try RawFileSink(path: raw), sourceDirectory: dir)
        for (image, format) in [(qcow2, "qcow2"), (vmdk, "vmdk")] {
            let check = try run("qemu-img", ["check", "-f", format, image])
            #expect(check.status == 0 && check.output.contains("No errors were found on the image."), "\(check.output)")
            let compare = try run("qemu-img", ["compare", "-f", format, "-F", "raw", image, raw])
            #expect(compare.status == 0 && compare.output.contains("Images are identical."), "\(compare.output)")
        }
        #expect(observed == (try FileManager.default.attributesOfItem(atPath: vmdk)[.size] as? Int))
    }
}
