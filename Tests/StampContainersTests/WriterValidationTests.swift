import Foundation
import StampContainers
import StampIO
import Testing

/// A writer variant under test: the output format plus its qemu-img name and the
/// format-specific facts `qemu-img info` must report.
struct Variant: CustomTestStringConvertible, Sendable {
    var name: String
    var format: OutputFormat
    var compat: Qcow2Compat = .v3
    var compressed = false
    /// `--fast`: ISA-L level 0 with its trained code.
    var fast = false
    var qemuFormat: String
    var expectedInfo: [String: String] = [:]
    var testDescription: String { name }

    var options: ContainerOptions {
        var o = ContainerOptions()
        o.qcow2Compat = compat
        o.qcow2Compressed = compressed
        if fast { o.compression = .fast }
        o.workers = 2
        return o
    }

    static let all: [Variant] = [
        Variant(name: "qcow2 v3", format: .qcow2, qemuFormat: "qcow2", expectedInfo: ["compat": "1.1"]),
        Variant(name: "qcow2 v2", format: .qcow2, compat: .v2, qemuFormat: "qcow2", expectedInfo: ["compat": "0.10"]),
        Variant(name: "qcow2 compressed", format: .qcow2, compressed: true, qemuFormat: "qcow2", expectedInfo: ["compat": "1.1"]),
        Variant(
            name: "qcow2 v2 compressed", format: .qcow2, compat: .v2, compressed: true, qemuFormat: "qcow2",
            expectedInfo: ["compat": "0.10"]),
        Variant(
            name: "vmdk streamOptimized", format: .vmdkStreamOptimized, qemuFormat: "vmdk",
            expectedInfo: ["create-type": "streamOptimized"]),
        Variant(
            name: "vmdk streamOptimized --fast", format: .vmdkStreamOptimized, fast: true, qemuFormat: "vmdk",
            expectedInfo: ["create-type": "streamOptimized"]),
        Variant(
            name: "qcow2 compressed --fast", format: .qcow2, compressed: true, fast: true, qemuFormat: "qcow2",
            expectedInfo: ["compat": "1.1"]),
        Variant(
            name: "vmdk monolithicSparse", format: .vmdkMonolithicSparse, qemuFormat: "vmdk",
            expectedInfo: ["create-type": "monolithicSparse"]),
        Variant(name: "vhd dynamic", format: .vhdDynamic, qemuFormat: "vpc"),
        Variant(name: "vhd fixed", format: .vhdFixed, qemuFormat: "vpc"),
    ]
}

@Suite struct WriterValidationTests {
    /// Builds the large synthetic disk (> 32 MiB: several grain tables) as raw and as the
    /// variant, then asks qemu-img to check, describe and compare it.
    @Test(.enabled(if: hasQemuImg), arguments: Variant.all)
    func qemuAcceptsOutput(variant: Variant) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let raw = dir.file("disk.raw")
        let image = dir.file("disk.img")
        try disk.feed(try RawFileSink(path: raw), sourceDirectory: dir)
        let sink = try makeImageSink(format: variant.format, path: image, virtualSize: disk.size, options: variant.options)
        try disk.feed(sink, sourceDirectory: dir)

        if variant.qemuFormat != "vpc" {  // qemu-img has no check for vpc
            let check = try run("qemu-img", ["check", "-f", variant.qemuFormat, image])
            #expect(check.status == 0, "\(check.output)")
            #expect(check.output.contains("No errors were found on the image."), "\(check.output)")
        }

        let info = try run("qemu-img", ["info", "-f", variant.qemuFormat, "--output=json", image])
        #expect(info.status == 0, "\(info.output)")
        let json = try JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any] ?? [:]
        #expect(json["format"] as? String == variant.qemuFormat)
        let roundedSize = variant.qemuFormat == "qcow2" ? disk.size : (disk.size + 511) / 512 * 512
        #expect((json["virtual-size"] as? NSNumber)?.uint64Value == roundedSize)
        let specific = (json["format-specific"] as? [String: Any])?["data"] as? [String: Any] ?? [:]
        for (key, value) in variant.expectedInfo {
            #expect(specific[key] as? String == value, "\(key) in \(info.output)")
        }

        let compare = try run("qemu-img", ["compare", "-f", "raw", "-F", variant.qemuFormat, raw, image])
        #expect(compare.status == 0, "\(compare.output)")
        #expect(compare.output.contains("Images are identical."), "\(compare.output)")

        // And our own reader gives back the same bytes (padded to a sector where the format
        // counts in sectors).
        var expected = disk.raw
        if roundedSize > disk.size { expected += [UInt8](repeating: 0, count: Int(roundedSize - disk.size)) }
        #expect(same(try readBack(image), expected))
    }

    /// The streamOptimized layout details qemu does not check: every GT follows its grains,
    /// the footer and EOS close the file, and nothing follows the EOS marker.
    @Test func streamVMDKEndsWithFooterAndEOS() throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let path = dir.file("s.vmdk")
        var observed: [UInt8] = []
        let sink = try VMDKStreamWriter(
            path: path, virtualSize: disk.size, options: Variant.all[4].options, observer: { observed += $0 })
        try disk.feed(sink, sourceDirectory: dir)
        let bytes = try readAll(path)
        #expect(same(observed, bytes), "the observer sees the file's exact bytes")
        #expect(bytes.count % 512 == 0)
        #expect(bytes[(bytes.count - 512)...].allSatisfy { $0 == 0 })
        // Two groups hold data (0 and 1: the write across 32 MiB and those after it).
        var markers: [UInt32] = []
        var sector = 128
        while sector * 512 < bytes.count {
            let at = sector * 512
            let value = bytes[at..<(at + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let size = bytes[(at + 8)..<(at + 12)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let type = bytes[(at + 12)..<(at + 16)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if size > 0 {
                sector += (12 + Int(size) + 511) / 512
            } else {
                markers.append(type)
                sector += 1 + Int(value)
                if type == 0 { break }
            }
        }
        #expect(sector * 512 == bytes.count)
        #expect(markers == [1, 1, 2, 3, 0])
    }

    /// One stream into six writers: each file is the disk, as qemu-img reads it and as ours does.
    @Test(.enabled(if: hasQemuImg, "needs qemu-img (scripts/install-deps)"))
    func teeWritesEveryFormatFromOneStream() throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: false)
        let rawFile = dir.file("disk.raw")
        try Data(disk.raw).write(to: URL(fileURLWithPath: rawFile))
        let formats: [OutputFormat] = [.raw, .qcow2, .vmdkStreamOptimized, .vmdkMonolithicSparse, .vhdDynamic, .vhdFixed]
        let sinks = try formats.enumerated().map { i, f in
            try makeImageSink(format: f, path: dir.file("t\(i)"), virtualSize: disk.size, options: Variant.all[0].options)
        }
        try disk.feed(TeeSink(sinks), sourceDirectory: dir)
        let raw = disk.raw
        for i in formats.indices {
            #expect(try qemuImgDisagreements(dir.file("t\(i)"), format: formats[i], raw: rawFile) == [], "\(formats[i])")
            let back = try readBack(dir.file("t\(i)"))
            #expect(same(Array(back.prefix(raw.count)), raw), "\(formats[i])")
        }
    }

    @Test(arguments: [OutputFormat.qcow2, .vmdkStreamOptimized, .vmdkMonolithicSparse, .vhdDynamic, .vhdFixed])
    func failureLeavesNoFile(format: OutputFormat) throws {
        let dir = TempDir()
        let path = dir.file("x")
        do {
            let sink = try makeImageSink(format: format, path: path, virtualSize: 1 << 20, options: Variant.all[0].options)
            let data = [UInt8](repeating: 7, count: 100)
            try data.withUnsafeBytes { try sink.write($0, at: 4096) }
            #expect(throws: IOError.self) { try data.withUnsafeBytes { try sink.write($0, at: 0) } }
            #expect(throws: ContainerError.self) { try data.withUnsafeBytes { try sink.write($0, at: 1 << 20) } }
            #expect(throws: ContainerError.sizeMismatch(path: path, expected: 1 << 20, actual: 2 << 20)) {
                try sink.finish(size: 2 << 20)
            }
        }
        #expect(!fileExists(path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func observerOnlyForSequentialFormats() throws {
        let dir = TempDir()
        #expect(throws: ContainerError.self) {
            _ = try makeImageSink(format: .qcow2, path: dir.file("q"), virtualSize: 1 << 20, observer: { _ in })
        }
        var seen = 0
        let sink = try makeImageSink(format: .vhdFixed, path: dir.file("f"), virtualSize: 1 << 20, observer: { seen += $0.count })
        try sink.finish(size: 1 << 20)
        #expect(seen == (1 << 20) + 512)
    }

    /// Sequential writers report exactly the bytes of the file they produce, which is the
    /// disk as qemu-img reads it.
    @Test(
        .enabled(if: hasQemuImg, "needs qemu-img (scripts/install-deps)"),
        arguments: [OutputFormat.raw, .vhdFixed, .vmdkStreamOptimized])
    func observerSeesTheFile(format: OutputFormat) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: false)
        var observed: [UInt8] = []
        var options = ContainerOptions()
        options.workers = 2
        let sink = try makeImageSink(
            format: format, path: dir.file("o"), virtualSize: disk.size, options: options, observer: { observed += $0 })
        try disk.feed(sink, sourceDirectory: dir)
        #expect(same(observed, try readAll(dir.file("o"))))
        let rawFile = dir.file("disk.raw")
        try Data(disk.raw).write(to: URL(fileURLWithPath: rawFile))
        #expect(try qemuImgDisagreements(dir.file("o"), format: format, raw: rawFile) == [], "\(format)")
        #expect(same(Array(try readBack(dir.file("o")).prefix(disk.raw.count)), disk.raw))
    }
}
