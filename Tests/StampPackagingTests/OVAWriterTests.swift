import Crypto
import Foundation
import StampContainers
import StampIO
import StampTestSupport
import Testing

@testable import StampPackaging

@Suite struct OVAWriterTests {
    static let virtualSize: UInt64 = 64 << 20

    /// The descriptor of a one-disk machine for a VMDK of `fileSize` bytes: a config's hard
    /// disk rendered by ``OVFComposeEnvelope``, as the pack plan renders it.
    static func descriptor(fileSize: UInt64) throws -> String {
        let yaml = """
            system: {name: vm, firmware: efi}
            networks: {vm_network: {name: VM Network}}
            hardware:
              cpus: 2
              memory: 2048
              scsi0: {type: scsi_controller, subtype: lsilogic}
              disk1: {type: hard_disk, parent: scsi0}
              eth0: {type: ethernet, subtype: VmxNet3, network: vm_network}
            """
        let config = try OVFConfig.parse(yaml: yaml).packed(firmware: .bios)
        let disk = OVFComposeEnvelope.Disk(
            diskID: "vmdisk1", fileID: "file1", capacity: "\(virtualSize)", units: "byte", populatedSize: 1 << 20,
            sectorSize: 512)
        return OVFComposeEnvelope(
            config: config, files: [.init(id: "file1", href: "vm-disk1.vmdk", size: fileSize)], disks: ["disk1": disk]
        ).text()
    }

    /// Writes a streamOptimized VMDK with some data and returns its path and SHA-256 (hashed
    /// while written).
    func makeVMDK(in dir: TemporaryDirectory) throws -> (path: String, sha256: [UInt8]) {
        let path = dir.file("source.vmdk")
        let hashing = HashingObserver(stagingSize: 4096)
        let vmdk = try VMDKStreamWriter(path: path, virtualSize: Self.virtualSize, observer: hashing.observer)
        var random = SystemRandomNumberGenerator()
        let noise = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let text = Array(String(repeating: "stamp ova test line\n", count: 5000).utf8)
        try noise.withUnsafeBytes { try vmdk.write($0, at: 1 << 20) }
        try text.withUnsafeBytes { try vmdk.write($0, at: 40 << 20) }
        try vmdk.finish(size: Self.virtualSize)
        return (path, hashing.finalize().sha256)
    }

    @Test(.enabled(if: hasXmllint && toolAvailable("qemu-img"), "needs xmllint and qemu-img"))
    func ovaMembersManifestAndDigests() throws {
        let dir = try TemporaryDirectory("ova")
        let vmdk = try makeVMDK(in: dir)
        let vmdkSum = try run(["sha256sum", vmdk.path])
        #expect(hex(vmdk.sha256) == firstField(vmdkSum.stdout), "observer digest differs from sha256sum")

        let ova = dir.file("vm.ova")
        let digests = try #require(
            try OVAWriter.write(
                path: ova, ovaName: "vm", vmdkPath: vmdk.path, descriptor: Self.descriptor, mtime: 1_700_000_000,
                vmdkSHA256: vmdk.sha256))

        // The OVA's own digests match md5sum and sha256sum of the file.
        #expect(digests.md5Hex == firstField(try run(["md5sum", ova]).stdout))
        #expect(digests.sha256Hex == firstField(try run(["sha256sum", ova]).stdout))
        #expect(try readBytes(ova).count % 512 == 0)

        // Members in vSphere's order with the right sizes.
        let listing = try run(["tar", "tvf", ova])
        #expect(listing.status == 0, "\(listing.output)")
        let rows = listing.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.map { String($0.last ?? "") } == ["vm.ovf", "vm.mf", "vm-disk1.vmdk"])
        #expect(rows.allSatisfy { $0.first == "-rw-r--r--" && $0.count > 2 && $0[1] == "root/root" })
        let vmdkSize = try readBytes(vmdk.path).count
        #expect(rows.count == 3 && rows[2][2] == "\(vmdkSize)")

        // Extract and check the manifest against sha256sum of each member.
        let out = dir.file("x")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let extract = try run(["tar", "-xf", ova, "-C", out])
        #expect(extract.status == 0, "\(extract.output)")
        let ovfSize = try readBytes(out + "/vm.ovf").count
        let mfSize = try readBytes(out + "/vm.mf").count
        #expect(rows.count == 3 && rows[0][2] == "\(ovfSize)" && rows[1][2] == "\(mfSize)")
        let manifest = try String(contentsOfFile: out + "/vm.mf", encoding: .utf8)
        let expected = try ["vm.ovf", "vm-disk1.vmdk"].map { name in
            "SHA256(\(name))= \(firstField(try run(["sha256sum", out + "/" + name]).stdout))\n"
        }.joined()
        #expect(manifest == expected)
        #expect(try readBytes(out + "/vm-disk1.vmdk") == readBytes(vmdk.path))

        // The descriptor inside names the member with its exact size and validates.
        let ovf = try String(contentsOfFile: out + "/vm.ovf", encoding: .utf8)
        #expect(ovf.contains(#"<File ovf:href="vm-disk1.vmdk" ovf:id="file1" ovf:size="\#(vmdkSize)"/>"#))
        #expect(ovf.contains(#"ovf:capacity="\#(Self.virtualSize)""#))
        #expect(ovf.contains(#"vmw:key="firmware" vmw:value="efi""#))
        let lint = try run([
            "xmllint", "--noout", "--nonet", "--schema", ovfSchemaDirectory + "/dsp8023_1.1.1.xsd", out + "/vm.ovf",
        ])
        #expect(lint.status == 0 && lint.output.contains("validates"), "\(lint.output)")
        let check = try run(["qemu-img", "check", "-f", "vmdk", out + "/vm-disk1.vmdk"])
        #expect(check.status == 0 && check.output.contains("No errors were found"), "\(check.output)")

        // Without a precomputed digest the writer hashes the VMDK itself: same bytes.
        let again = dir.file("again.ova")
        let digests2 = try #require(
            try OVAWriter.write(
                path: again, ovaName: "vm", vmdkPath: vmdk.path, descriptor: Self.descriptor, mtime: 1_700_000_000))
        #expect(digests2 == digests)
        // Unhashed, the disk is copied in the kernel: the same archive bytes.
        let unhashed = dir.file("unhashed.ova")
        let none = try OVAWriter.write(
            path: unhashed, ovaName: "vm", vmdkPath: vmdk.path, descriptor: Self.descriptor, mtime: 1_700_000_000,
            vmdkSHA256: vmdk.sha256, hashOutput: false)
        #expect(none == nil)
        #expect(try run(["cmp", ova, unhashed]).status == 0)
    }

    @Test func checksumFilesAreInSumFormat() throws {
        let dir = try TemporaryDirectory("sums")
        let file = dir.file("image.raw")
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let hashing = HashingObserver()
        hashing.update(Array(bytes[0..<10]))
        hashing.update(Array(bytes[10...]))
        let written = try ChecksumFiles.write(for: file, digests: hashing.finalize())
        #expect(written == [file + ".md5", file + ".sha256"])
        let md5 = try String(contentsOfFile: file + ".md5", encoding: .utf8)
        #expect(md5 == (try sh("cd '\(dir.path)' && md5sum image.raw")).stdout)
        for tool in ["md5sum", "sha256sum"] {
            let ext = tool == "md5sum" ? "md5" : "sha256"
            let check = try sh("cd '\(dir.path)' && \(tool) -c image.raw.\(ext)")
            #expect(check.status == 0 && check.stdout == "image.raw: OK\n", "\(check.output)")
        }
    }

    @Test func hashingObserverMatchesOneShotDigests() {
        let data = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9)) }
        let hashing = HashingObserver(stagingSize: 64 << 10)
        var at = 0
        for piece in [1, 511, 512, 70_000, 3, 1 << 20, 65_536, 17] where at < data.count {
            let end = min(data.count, at + piece)
            hashing.update(Array(data[at..<end]))
            at = end
        }
        hashing.update(Array(data[at...]))
        let digests = hashing.finalize()
        #expect(digests.sha256 == Array(SHA256.hash(data: data)))
        #expect(digests.md5 == Array(Insecure.MD5.hash(data: data)))
        #expect(hashing.count == UInt64(data.count))
    }

    @Test func failuresLeaveNoFile() throws {
        let dir = try TemporaryDirectory("ova-fail")
        let ova = dir.file("vm.ova")
        // The VMDK does not exist.
        #expect(throws: IOError.self) {
            try OVAWriter.write(
                path: ova, ovaName: "vm", vmdkPath: dir.file("missing.vmdk"), descriptor: Self.descriptor, mtime: 0)
        }
        // The descriptor fails (before anything is created).
        struct NoDescriptor: Error {}
        let vmdk = try makeVMDK(in: dir)
        #expect(throws: NoDescriptor.self) {
            try OVAWriter.write(
                path: ova, ovaName: "vm", vmdkPath: vmdk.path, descriptor: { _ in throw NoDescriptor() }, mtime: 0)
        }
        // The output directory is not writable as a file path (a directory sits at the final name's parent).
        #expect(throws: (any Error).self) {
            try OVAWriter.write(
                path: dir.file("source.vmdk/vm.ova"), ovaName: "vm", vmdkPath: vmdk.path, descriptor: Self.descriptor, mtime: 0)
        }
        #expect(!exists(ova))
        #expect(listing(dir.path) == ["source.vmdk"])
    }
}
