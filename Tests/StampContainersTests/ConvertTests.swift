import Foundation
import StampContainers
import StampIO
import StampTestSupport
import Testing

/// The formats `convert` goes between, with the detection result each must give.
let convertFormats: [(OutputFormat, ImageFormat)] = [
    (.raw, .raw), (.qcow2, .qcow2), (.vmdkStreamOptimized, .vmdk), (.vmdkMonolithicSparse, .vmdk),
    (.vhdDynamic, .vhd), (.vhdFixed, .vhd),
]

@Suite struct ConvertTests {
    /// Every pair: write the source with our writer, convert it with `convert` (format
    /// detected). qemu-img, which we did not write, judges each result first (its format,
    /// `check`, and `compare` against the original raw disk); then our own detector and
    /// reader must agree: the bytes must be the original disk's.
    @Test(.enabled(if: hasQemuImg, "needs qemu-img (scripts/install-deps)"), arguments: 0..<convertFormats.count)
    func roundTripsFromEveryFormatToEveryFormat(source: Int) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: false)  // 5 MiB + 7 sectors: unaligned to grains
        let raw = disk.raw
        let rawFile = dir.file("disk.raw")
        try Data(raw).write(to: URL(fileURLWithPath: rawFile))
        let (sourceFormat, detected) = convertFormats[source]
        let input = dir.file("in")
        var options = ContainerOptions()
        options.workers = 2
        try disk.feed(
            try makeImageSink(format: sourceFormat, path: input, virtualSize: disk.size, options: options), sourceDirectory: dir)
        #expect(try qemuImgDisagreements(input, format: sourceFormat, raw: rawFile) == [], "source \(sourceFormat)")
        #expect(try ImageDetector.detect(path: input) == detected)
        #expect(try ImageDetector.open(path: input).virtualSize == disk.size)
        for (target, targetDetected) in convertFormats {
            let output = dir.file("out-\(target)")
            try convert(input: input, output: output, outputFormat: target, options: options)
            #expect(try qemuImgDisagreements(output, format: target, raw: rawFile) == [], "\(sourceFormat) -> \(target)")
            #expect(try ImageDetector.detect(path: output) == targetDetected)
            #expect(same(try readBack(output), raw), "\(sourceFormat) -> \(target)")
        }
    }

    /// Conversions of our images by qemu-img read back identically through our readers
    /// (qemu's own VMDK/qcow2/VHD layouts, including its compressed qcow2 clusters).
    @Test(
        .enabled(if: hasQemuImg),
        arguments: [
            ["-O", "qcow2", "-o", "compat=0.10"], ["-O", "qcow2", "-c"], ["-O", "vmdk"],
            ["-O", "vmdk", "-o", "subformat=streamOptimized"], ["-O", "vpc", "-o", "force_size=on"],
            ["-O", "vpc", "-o", "subformat=fixed,force_size=on"], ["-O", "qcow2", "-o", "extended_l2=on"],
            ["-O", "qcow2", "-o", "extended_l2=on,cluster_size=16k"], ["-O", "qcow2", "-o", "compression_type=zstd"],
        ])
    func readsQemuMadeImages(arguments: [String]) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let raw = dir.file("disk.raw")
        try disk.feed(try RawFileSink(path: raw), sourceDirectory: dir)
        let image = dir.file("qemu.img")
        let result = try run("qemu-img", ["convert", "-f", "raw"] + arguments + [raw, image])
        try #require(result.status == 0, "\(result.output)")
        let expected = disk.raw + [UInt8](repeating: 0, count: Int((disk.size + 511) / 512 * 512 - disk.size))
        let back = try readBack(image, format: arguments[1] == "vpc" ? .vhd : nil)
        #expect(same(Array(back.prefix(expected.count)), expected))
        #expect(back.dropFirst(expected.count).allSatisfy { $0 == 0 })
    }

    /// Extended L2 entries with subclusters partly allocated, partly zero, partly unallocated
    /// (qemu-io's small writes into 64 KiB clusters of 2 KiB subclusters): read back byte for
    /// byte as qemu-img reads them.
    @Test(.enabled(if: hasQemuImg && toolAvailable("qemu-io")))
    func readsExtendedL2Subclusters() throws {
        let dir = TempDir()
        let image = dir.file("sub.qcow2")
        let made = try run(
            "sh",
            [
                "-c",
                """
                set -e
                qemu-img create -q -f qcow2 -o extended_l2=on "$1" 8M
                qemu-io -f qcow2 -c 'write -P 0xab 4k 4k' -c 'write -P 0xcd 70k 2k' -c 'write -P 0x11 1M 128k' \
                    -c 'write -z 1081344 8k' -c 'write -P 0x22 8385536 3k' "$1" >/dev/null
                qemu-img convert -O raw "$1" "$2"
                """, "sh", image, dir.file("expected.raw"),
            ])
        try #require(made.status == 0, "\(made.output)")
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("expected.raw"))))
        let back = try readBack(image)
        #expect(back.count == expected.count && same(back, expected))
        #expect(expected[4096] == 0xab && expected[0x100000 + 32 * 1024] == 0 && expected[0x100000] == 0x11)
    }
}
