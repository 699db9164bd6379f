import Foundation
import StampContainers
import StampIO
import StampTestSupport
import Testing

let hasDissectHypervisor = (try? StampTestSupport.run(["python3", "-c", "import dissect.hypervisor"]).status) == 0

/// Every writer's output read by dissect.hypervisor (Fox-IT's pure-Python qcow2, VMDK and VHD
/// readers, which share no code with qemu or with us) must be the raw disk, byte for byte.
///
/// The disks are the large synthetic disk grown to a whole number of 64 KiB grains, as every
/// disk stamp lays out is (dissect's VMDK reader reads whole grains and fails past the end
/// of a disk that stops inside one; qemu reads such a disk).
@Suite struct DissectReadsTests {
    static let script = """
        import sys
        from dissect.hypervisor import vmdk, qcow2, vhd
        kind, image, raw = sys.argv[1:4]
        f = open(image, 'rb')
        disk = {'vmdk': lambda: vmdk.VMDK(f), 'qcow2': lambda: qcow2.QCow2(f).open(), 'vpc': lambda: vhd.VHD(f)}[kind]()
        expected = open(raw, 'rb').read()
        got = disk.read(len(expected))
        if got != expected:
            at = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]), min(len(got), len(expected)))
            sys.exit(f'{kind}: differs from the raw disk at byte {at} (read {len(got)} of {len(expected)})')
        """

    static func grainAligned(_ size: UInt64) -> UInt64 { (size + 65535) / 65536 * 65536 }

    static func feed(_ disk: SyntheticDisk, to sink: any ImageSink, size: UInt64, dir: TempDir) throws {
        try disk.feed(sink, sourceDirectory: dir, finish: false)
        try sink.finish(size: size)
    }

    @Test(.enabled(if: hasDissectHypervisor, "needs PyPI dissect.hypervisor (scripts/install-deps)"), arguments: Variant.all)
    func dissectReadsTheDisk(variant: Variant) throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let size = Self.grainAligned(disk.size)
        let raw = dir.file("disk.raw")
        let image = dir.file("disk.img")
        try Self.feed(disk, to: try RawFileSink(path: raw), size: size, dir: dir)
        try Self.feed(
            disk, to: try makeImageSink(format: variant.format, path: image, virtualSize: size, options: variant.options),
            size: size, dir: dir)
        let r = try run("python3", ["-c", Self.script, variant.qemuFormat, image, raw])
        #expect(r.status == 0, "\(variant.name): \(r.output)")
    }

    /// The qcow2 and the VMDK that share one compression.
    @Test(.enabled(if: hasDissectHypervisor, "needs PyPI dissect.hypervisor (scripts/install-deps)"))
    func dissectReadsTheSharedCompressionPair() throws {
        let dir = TempDir()
        let disk = SyntheticDisk(large: true)
        let size = Self.grainAligned(disk.size)
        let raw = dir.file("disk.raw")
        try Self.feed(disk, to: try RawFileSink(path: raw), size: size, dir: dir)
        var options = ContainerOptions()
        options.qcow2Compressed = true
        let shared = try SharedChunkCompression(virtualSize: size, options: options)
        _ = try Qcow2Writer(path: dir.file("d.qcow2"), virtualSize: size, options: options, sharedCompression: shared)
        _ = try VMDKStreamWriter(path: dir.file("d.vmdk"), virtualSize: size, options: options, sharedCompression: shared)
        try Self.feed(disk, to: shared, size: size, dir: dir)
        for (kind, file) in [("qcow2", "d.qcow2"), ("vmdk", "d.vmdk")] {
            let r = try run("python3", ["-c", Self.script, kind, dir.file(file), raw])
            #expect(r.status == 0, "\(kind): \(r.output)")
        }
    }
}
