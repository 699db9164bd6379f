import Foundation
import Testing

import StampTestSupport

/// `disk-image-create` as nodepool-builder calls it, end to end with the built-in elements and
/// the Debian mirror, each image booted under QEMU: root, network, boots and minutes
/// (STAMP_NETWORK_TESTS=1 and STAMP_BOOT_TESTS=1; scripts/test's network phase sets both).
/// The boots are part of the tests: without STAMP_BOOT_TESTS the suite is a recorded skip,
/// not a pass that never booted. The builds share the run's image cache
/// (``sharedImageCache(fallback:)``). The killed builds are ``DIBKillTests``. The tests run in
/// parallel (each in its own directory under ``work``; guests take turns on boot_test.sh's QEMU
/// lock), so that the network phase does not end with this suite's builds one after another.
@Suite(.enabled(if: isRoot && networkTestsEnabled && bootTestsEnabled))
struct DIBEndToEndTests {
    static var binary: String { dibBinary }
    static let work = "/var/tmp/stamp-dib-e2e"
    static var cache: String { sharedImageCache(fallback: work + "/cache") }

    static func dib(_ args: [String], environment extra: [String: String] = [:]) throws -> CommandResult {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        return try run(
            [binary] + args,
            environment: [
                "DIB_RELEASE": "bookworm", "DIB_IMAGE_CACHE": cache, "TMPDIR": work,
                "ELEMENTS_PATH": repositoryRoot + "/Tests/StampCLITests/Fixtures/elements", "STAMP_REPO": repositoryRoot,
            ].merging(extra) { $1 })
    }

    /// A raw disk's partition table as sfdisk reads it (starts and sizes in 512-byte sectors).
    struct PartitionTable {
        var label: String
        var partitions: [(start: Int, size: Int, name: String?)]
    }

    static func partitionTable(_ raw: String) throws -> PartitionTable {
        let dump = try run(["sfdisk", "--json", raw]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any]
        let table = json?["partitiontable"] as? [String: Any] ?? [:]
        let parts = (table["partitions"] as? [[String: Any]] ?? []).map {
            (
                start: ($0["start"] as? NSNumber)?.intValue ?? 0, size: ($0["size"] as? NSNumber)?.intValue ?? 0,
                name: $0["name"] as? String
            )
        }
        return PartitionTable(label: table["label"] as? String ?? "", partitions: parts)
    }

    /// The filesystem of partition `part` as e2fsck and debugfs take it (`disk?offset=`).
    static func filesystem(_ raw: String, _ part: (start: Int, size: Int, name: String?)) -> String {
        "\(raw)?offset=\(part.start * 512)"
    }

    static func mountInfo() -> [String] {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// nodepool's command (the run's shared build, ``SharedBuilds``, `-p iputils-ping` added)
    /// writes every output nodepool expects, qemu-img, sfdisk, e2fsck, debugfs and gzip accept
    /// them, and the qcow2 boots.
    @Test func nodepoolsExactCommandWritesTheWholeContract() throws {
        let (out, r) = try SharedBuilds.nodepoolDebian()
        try #require(r.status == 0, "\(r.output.suffix(4000))")
        let np = (out as NSString).deletingLastPathComponent
        let lastLine = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasSuffix("| Build completed successfully"), "last line: \(lastLine)")
        for ext in ["qcow2", "vmdk", "raw"] {
            for suffix in ["", ".md5", ".sha256"] {
                #expect(FileManager.default.fileExists(atPath: "\(out).\(ext)\(suffix)"), "missing \(out).\(ext)\(suffix)")
            }
        }
        #expect(FileManager.default.fileExists(atPath: out + ".d"))
        let sums = try sh("cd \(np) && md5sum -c debian.qcow2.md5 debian.raw.md5 && sha256sum -c debian.vmdk.sha256")
        #expect(sums.status == 0, "\(sums.output)")
        let info = try run(["qemu-img", "info", "-f", "qcow2", out + ".qcow2"]).stdout
        #expect(info.contains("compat: 0.10"), "qcow2 must be version 2: \(info)")
        for (ext, fmt) in [("qcow2", "qcow2"), ("vmdk", "vmdk")] {
            let check = try run(["qemu-img", "check", "-f", fmt, "\(out).\(ext)"])
            #expect(check.status == 0, "\(ext): \(check.output)")
            let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", fmt, out + ".raw", "\(out).\(ext)"])
            #expect(compare.status == 0, "\(ext): \(compare.output)")
        }
        let table = try Self.partitionTable(out + ".raw")
        #expect(table.label == "dos", "vm gives an MBR disk: \(table)")
        let rootFS = Self.filesystem(out + ".raw", try #require(table.partitions.last))
        #expect(try strictFsck(rootFS) == [])
        // The initramfs was compressed by the host's pigz standing in for the build: it is a
        // valid gzip (GNU gzip checks it), and neither the stand-in nor its wrapper is left.
        for buildOnly in ["/usr/bin/pigz", "/usr/bin/.stamp-build-pigz"] {
            let stat = try run(["debugfs", "-R", "stat \(buildOnly)", rootFS])
            #expect(stat.output.contains("File not found"), "\(buildOnly) reached the image: \(stat.output)")
        }
        let bootDir = try run(["debugfs", "-R", "ls /boot", rootFS]).stdout
        let initrd = try #require(
            bootDir.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("initrd.img-") })
        _ = try run(["debugfs", "-R", "dump /boot/\(initrd) \(np)/initrd", rootFS])
        let gzip = try run(["gzip", "-t", np + "/initrd"])
        #expect(gzip.status == 0 && gzip.output.isEmpty, "initramfs: \(gzip.output)")
        #expect(r.stdout.contains("stamp: update-initramfs -c -k"), "the initramfs is made once, after the package phases")
        // The image nodepool would upload boots (BIOS, from the qcow2) with its root mounted
        // read-write and clean.
        let boot = try bootImage(out + ".qcow2", ["--format", "qcow2", "--snapshot", "--timeout", "240"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
    }

    @Test func ovaWithTheEFILayout() throws {
        let out = Self.work + "/efi/app"
        try? FileManager.default.removeItem(atPath: Self.work + "/efi")
        try FileManager.default.createDirectory(atPath: Self.work + "/efi", withIntermediateDirectories: true)
        let r = try Self.dib([
            "-x", "-t", "ova,raw", "--checksum", "-o", out, "debian-minimal", "vm", "block-device-efi", "open-vm-tools",
            "stamp-boot-marker",
        ])
        #expect(r.status == 0, "\(r.output.suffix(4000))")
        // vSphere's guest agent is in the image and starts at boot.
        let table = try Self.partitionTable(out + ".raw")
        let rootFS = Self.filesystem(out + ".raw", try #require(table.partitions.last))
        let tools = try run(["debugfs", "-R", "stat /usr/bin/vmtoolsd", rootFS])
        #expect(tools.status == 0 && tools.stdout.contains("Type: regular"), "\(tools.output)")
        let wants = try run(["debugfs", "-R", "ls -l /etc/systemd/system/multi-user.target.wants", rootFS]).stdout
        #expect(wants.contains("open-vm-tools.service"), "open-vm-tools is not enabled: \(wants)")
        let members = try run(["tar", "tf", out + ".ova"]).stdout.split(separator: "\n").map(String.init)
        #expect(
            members.count == 3 && members[0].hasSuffix(".ovf") && members[1].hasSuffix(".mf") && members[2].hasSuffix(".vmdk"),
            "\(members)")
        // The layout as util-linux reads it (sfdisk, blkid -p), then as stamp's inspect does.
        // DIB's block-device-efi: the ESP, a BIOS boot partition (no filesystem: GRUB's core.img
        // for a BIOS boot of the same disk), the root.
        #expect(table.label == "gpt" && table.partitions.map(\.name) == ["ESP", "BSP", "root"], "\(table)")
        let blkTypes = try table.partitions.map { part in
            try run(["blkid", "-p", "-O", "\(part.start * 512)", "-s", "TYPE", "-o", "value", out + ".raw"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(blkTypes == ["vfat", "", "ext4"], "blkid: \(blkTypes)")
        #expect(try strictFsck(rootFS) == [])
        let inspect = try run([stampBinary, "inspect", "--json", out + ".raw"])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        let extra = json?["stamp"] as? [String: Any]
        #expect(extra?["partition-table"] as? String == "gpt")
        let types = (extra?["partitions"] as? [[String: Any]] ?? []).compactMap {
            ($0["filesystem"] as? [String: Any])?["type"] as? String
        }
        #expect(types == ["vfat", "ext4"], "\(inspect.stdout)")
        let espPart = try #require(table.partitions.first)
        let esp = try sh(
            "dd if=\(out).raw of=\(Self.work)/efi/esp.img bs=512 skip=\(espPart.start) count=\(espPart.size) status=none && mdir -i \(Self.work)/efi/esp.img ::/EFI/BOOT"
        )
        #expect(esp.status == 0 && esp.stdout.uppercased().contains("BOOTX64"), "\(esp.output)")
        let espFsck = try run(["fsck.fat", "-n", Self.work + "/efi/esp.img"])
        #expect(espFsck.status == 0, "fsck.fat: \(espFsck.output)")
        // The OVA's own disk, taken out of the archive, holds the raw image's bytes and boots
        // under UEFI.
        let x = try sh("cd \(Self.work)/efi && mkdir -p x && tar xf app.ova -C x && ls x/*.vmdk")
        let vmdk = try #require(x.stdout.split(separator: "\n").first.map { "\(Self.work)/efi/\($0)" })
        let vmdkCheck = try run(["qemu-img", "check", "-f", "vmdk", vmdk])
        #expect(vmdkCheck.status == 0, "\(vmdkCheck.output)")
        let same = try run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", out + ".raw", vmdk])
        #expect(same.status == 0, "the OVA's disk is not the raw image: \(same.output)")
        let boot = try bootImage(vmdk, ["--format", "vmdk", "--snapshot", "--uefi", "--timeout", "240"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
    }

    /// `ubuntu-minimal` for Ubuntu noble, on a Debian host whose debootstrap has no noble script
    /// and no Ubuntu keyring (as DIB would, it warns and goes on): the image builds, its root is
    /// clean, and (with boot tests) it boots under BIOS.
    @Test func ubuntuMinimalNoble() throws {
        let out = Self.work + "/ubuntu/noble"
        try? FileManager.default.removeItem(atPath: Self.work + "/ubuntu")
        try FileManager.default.createDirectory(atPath: Self.work + "/ubuntu", withIntermediateDirectories: true)
        let r = try Self.dib(
            ["-x", "-t", "qcow2,raw", "-o", out, "ubuntu-minimal", "vm", "stamp-boot-marker"],
            environment: ["DIB_RELEASE": "noble"])
        #expect(r.status == 0, "\(r.output.suffix(4000))")
        let lastLine = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasSuffix("| Build completed successfully"), "last line: \(lastLine)")
        let check = try run(["qemu-img", "check", "-f", "qcow2", out + ".qcow2"])
        #expect(check.status == 0 && check.stdout.contains("No errors were found"), "\(check.output)")
        let rootFS = Self.filesystem(out + ".raw", try #require(try Self.partitionTable(out + ".raw").partitions.last))
        #expect(try strictFsck(rootFS) == [])
        let osRelease = try run(["debugfs", "-R", "cat /usr/lib/os-release", rootFS]).stdout
        #expect(osRelease.contains("VERSION_CODENAME=noble"), "\(osRelease)")
        let boot = try bootImage(out + ".qcow2", ["--format", "qcow2", "--snapshot", "--timeout", "300"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
    }

    /// A block-device config lays out the disk (`stamp build --block-device-config`, which is
    /// `DIB_BLOCK_DEVICE_CONFIG`): a BIOS boot partition, a separate `/srv` and the root. The
    /// fstab written from the config mounts `/srv` when the image boots.
    @Test func aCustomBlockDeviceConfig() throws {
        let out = Self.work + "/bd/custom"
        try? FileManager.default.removeItem(atPath: Self.work + "/bd")
        try FileManager.default.createDirectory(atPath: Self.work + "/bd", withIntermediateDirectories: true)
        let yaml = """
            - local_loop:
                name: image0
            - partitioning:
                base: image0
                label: gpt
                partitions:
                  - name: BSP
                    type: 'EF02'
                    size: 8MiB
                  - name: srv
                    type: '8300'
                    size: 64MiB
                    mkfs:
                      type: ext4
                      label: srvdata
                      mount:
                        mount_point: /srv
                        fstab: {options: "defaults", fsck-passno: 2}
                  - name: root
                    type: '8300'
                    size: 100%
                    mkfs:
                      name: mkfs_root
                      mount:
                        mount_point: /
                        fstab: {options: "defaults", fsck-passno: 1}
            """
        // Built with `stamp build`, the native options of the same engine.
        let config = Self.work + "/bd/layout.yaml"
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try run(
            [
                stampBinary, "build", "debian-minimal", "vm", "stamp-boot-marker", "-o", out, "-t", "qcow2,raw", "--trace",
                "--release", "bookworm", "--elements-path", repositoryRoot + "/Tests/StampCLITests/Fixtures/elements",
                "--download-cache", Self.cache, "--block-device-config", config,
            ],
            environment: ["TMPDIR": Self.work, "STAMP_REPO": repositoryRoot])
        #expect(
            r.stdout.split(separator: "\n").last?.hasSuffix("| Build completed successfully") == true, "\(r.stdout.suffix(500))")
        #expect(r.status == 0, "\(r.output.suffix(4000))")
        let parts = try Self.partitionTable(out + ".raw").partitions
        #expect(parts.compactMap(\.name) == ["BSP", "srv", "root"], "\(parts)")
        let sgdisk = try run(["sgdisk", "-v", out + ".raw"])
        #expect(sgdisk.stdout.contains("No problems found"), "\(sgdisk.output)")
        for part in parts.dropFirst() {
            #expect(try strictFsck(Self.filesystem(out + ".raw", part)) == [], "\(part)")
        }
        let root = try #require(parts.last)
        let fstab = try run(["debugfs", "-R", "cat /etc/fstab", Self.filesystem(out + ".raw", root)]).stdout
        #expect(
            fstab.contains("LABEL=srvdata /srv ext4 defaults 0 2") && fstab.contains("LABEL=cloudimg-rootfs / ext4 defaults 0 1"),
            "fstab: \(fstab)")
        let boot = try bootImage(
            out + ".qcow2", ["--format", "qcow2", "--snapshot", "--expect-mount", "/srv", "--timeout", "240"])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
    }
}
