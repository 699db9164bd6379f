import Foundation
import Testing

import StampBytes
import StampDisk
import StampPipeline
import StampTestSupport

/// Real boots under qemu-system-x86_64 (TCG) of disks stamp wrote from a debootstrapped Debian
/// bookworm root (kernel, systemd, GRUB packages): BIOS with mbr and gpt, UEFI with efi, and
/// BIOS from the VMDK, the VHD and the qcow2, plus online growth, and UEFI Secure Boot through
/// Debian's signed shim. The guest reports (through the marker unit of
/// Tests/tools/boot/install_marker.sh) that the root is ours, mounted read-write, and clean at
/// boot. Minutes of CPU: enabled by STAMP_BOOT_TESTS (scripts/test sets it in its boot phase,
/// so CI runs them).
@Suite(.serialized, .enabled(if: isRoot && ProcessInfo.processInfo.environment["STAMP_BOOT_TESTS"] != nil))
struct BootTests {
    static let uuid = "6a1c7e2b-0d3f-4e5a-9b8c-0000000000b0"
    static let work = "/var/tmp/stamp-boot-tests"
    static let harness = repositoryRoot + "/Tests/tools/boot/boot_test.sh"

    /// The bootable tree, made once per run from the cached debootstrap root.
    static func tree() throws -> String {
        let tree = work + "/tree"
        if FileManager.default.fileExists(atPath: tree + "/.stamp-ready") { return tree }
        let root = try debianRoot()
        let r = try sh(
            """
            set -e; rm -rf \(work); mkdir -p \(work); cp -a \(root) \(tree)
            sh \(repositoryRoot)/Tests/tools/boot/install_marker.sh \(tree) >/dev/null
            touch \(tree)/.stamp-ready
            """)
        try #require(r.status == 0, "\(r.output)")
        return tree
    }

    static func pack(_ layout: StandardLayout, _ formats: [String], name: String, root: String? = nil) throws -> String {
        var request = PackRequest(
            root: try root ?? tree(), output: work + "/" + name, formats: formats.compactMap(PackFormat.init))
        request.layout = layout
        request.uuid = Identifier(uuid)
        request.requireBootloader = true
        _ = try Packer(request: request).run()
        return work + "/" + name
    }

    static func boot(_ image: String, _ extra: [String] = [], expectUUID: String = uuid) throws {
        let r = try run(["bash", harness, image, "--timeout", "180", "--expect-uuid", expectUUID] + extra)
        #expect(r.status == 0, "boot of \(image) \(extra) failed:\n\(r.output.suffix(4000))")
        #expect(r.stdout.contains("STAMP_BOOT_OK"), "\(r.output.suffix(2000))")
    }

    @Test func biosBootsTheMBRLayout() throws {
        let disk = try Self.pack(.mbr, ["raw"], name: "mbr")
        try Self.boot(disk + ".raw")
    }

    @Test func biosBootsTheGPTLayoutFromVMDKVHDAndQcow2AndGrowsOnline() throws {
        let disk = try Self.pack(.gpt, ["raw", "vmdk", "vhd", "qcow2"], name: "gpt")
        try Self.boot(disk + ".vmdk", ["--format", "vmdk", "--snapshot"])
        try Self.boot(disk + ".vhd", ["--format", "vhd", "--snapshot"])
        try Self.boot(disk + ".qcow2", ["--format", "qcow2", "--resize", "+1G", "--expect-grow"])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/OVMF/OVMF_CODE_4M.fd")))
    func uefiBootsTheEFILayout() throws {
        let disk = try Self.pack(.efi, ["raw"], name: "efi")
        try Self.boot(disk + ".raw", ["--uefi"])
    }

    /// Debian's signed shim and grub installed in the tree (Tests/tools/boot/add_signed_efi.sh
    /// unpacks shim-signed and grub-efi-amd64-signed): the efi layout boots under UEFI with
    /// Secure Boot enforced (OVMF with Microsoft's keys enrolled, so only the signed chain
    /// shim -> grub -> kernel can boot), and the same disk boots from BIOS.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")))
    func secureBootAndBIOSBootTheEFILayoutWithTheSignedShim() throws {
        let signed = Self.work + "/tree-signed"
        let cache = (ProcessInfo.processInfo.environment["STAMP_CACHE"] ?? (NSHomeDirectory() + "/.cache/stamp")) + "/signed-efi"
        let r = try sh(
            """
            set -e; rm -rf \(signed); cp -a \(try Self.tree()) \(signed); mkdir -p \(cache)
            sh \(repositoryRoot)/Tests/tools/boot/add_signed_efi.sh \(signed) \(cache)
            """)
        try #require(r.status == 0, "\(r.output)")
        let disk = try Self.pack(.efi, ["raw"], name: "efi-signed", root: signed)
        let esp = try sh(
            """
            lba=$(sfdisk -d \(disk).raw | sed -n 's/.*start= *\\([0-9]*\\),.*name="ESP".*/\\1/p')
            mdir -i \(disk).raw@@$((lba * 512)) -b ::/EFI/BOOT ::/EFI/debian
            """)
        #expect(esp.stdout.contains("shimx64.efi") && esp.stdout.contains("grubx64.efi"), "ESP: \(esp.output)")
        try Self.boot(disk + ".raw", ["--secure-boot", "--snapshot"])
        try Self.boot(disk + ".raw")
    }

    /// Issue 18: a tree whose GRUB programs are traps and whose /bin/sh records each use,
    /// read-only (a read-only bind mount), packed three times without fixed ids (twice by
    /// the Packer, once by `stamp pack` under a 1024 open-files limit): the tree is unchanged
    /// (names, sizes, modes, owners, times, xattrs, contents), nothing of it ran, each image's
    /// fstab and grub.cfg name its own filesystem, and the last image boots read-write under
    /// BIOS and under UEFI (the efi layout is one hybrid disk).
    @Test func aReadOnlyTrapTreePackedThreeTimesIsUnchangedAndBootsBIOSAndUEFI() throws {
        let traps = Self.work + "/tree-traps"
        let readOnly = Self.work + "/tree-ro"
        let made = try sh(
            """
            set -e; umount \(readOnly) 2>/dev/null || true; rm -rf \(traps) \(readOnly); cp -a \(try Self.tree()) \(traps)
            sh \(repositoryRoot)/Tests/tools/boot/install_traps.sh \(traps)
            mkdir \(readOnly); mount --bind \(traps) \(readOnly); mount -o remount,bind,ro \(readOnly)
            """)
        defer { _ = try? sh("umount \(readOnly); rm -rf \(traps) \(readOnly)") }
        try #require(made.status == 0, "\(made.output)")
        let snapshot = repositoryRoot + "/Tests/tools/snapshot_tree.py"
        let before = try run(["python3", snapshot, traps])
        try #require(before.status == 0 && before.stdout.count > 100_000, "\(before.stderr)")

        var images: [(path: String, uuid: String)] = []
        for i in 1...2 {
            var request = PackRequest(root: readOnly, output: Self.work + "/ro-\(i)", formats: [PackFormat(name: "raw")!])
            request.layout = .efi
            request.requireBootloader = true
            let result = try Packer(request: request).run()
            images.append((Self.work + "/ro-\(i).raw", result.rootUUID))
        }
        let cli = try run([
            "prlimit", "--nofile=1024:1024", stampBinary, "pack", readOnly, "-o", Self.work + "/ro-3", "-t", "raw", "--layout",
            "efi",
        ])
        try #require(cli.status == 0, "\(cli.output.suffix(2000))")
        let line = try #require(cli.output.split(separator: "\n").first { $0.contains("root ext4") && $0.contains("UUID ") })
        images.append((Self.work + "/ro-3.raw", String(line.split(separator: " ").last!)))
        #expect(Set(images.map(\.uuid)).count == 3, "\(images)")

        let after = try run(["python3", snapshot, traps])
        #expect(before.stdout == after.stdout, "the source tree changed")
        #expect(!FileManager.default.fileExists(atPath: traps + "/var/lib/stamp-trap/fired"), "a GRUB program of the tree ran")
        #expect(
            (try? String(contentsOfFile: traps + "/var/lib/stamp-trap/sh.log", encoding: .utf8)) == "", "the tree's /bin/sh ran")

        for image in images {
            let table = try run(["sfdisk", "--json", image.path]).stdout
            let json = try JSONSerialization.jsonObject(with: Data(table.utf8)) as? [String: Any]
            let parts = ((json?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]]) ?? []
            let start = try #require((parts.last?["start"] as? NSNumber)?.intValue)
            let fs = "\(image.path)?offset=\(start * 512)"
            let blkid = try run(["blkid", "-p", "-o", "value", "-s", "UUID", "--offset", "\(start * 512)", image.path])
            #expect(blkid.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == image.uuid, "\(blkid.output)")
            let fstab = try run(["python3", repositoryRoot + "/Tests/tools/cat_file.py", fs, "/etc/fstab"]).stdout
            let rootLines = fstab.split(separator: "\n").filter { $0.split(separator: " ").dropFirst().first == "/" }
            #expect(rootLines == ["UUID=\(image.uuid) / ext4 defaults,errors=remount-ro 0 1"], "\(fstab)")
            let config = try run(["python3", repositoryRoot + "/Tests/tools/cat_file.py", fs, "/boot/grub/grub.cfg"]).stdout
            #expect(config.contains("root=UUID=\(image.uuid) ro"), "\(config.prefix(600))")
            #expect(config.contains("--set=root \(image.uuid)"))
        }
        let last = try #require(images.last)
        try Self.boot(last.path, ["--snapshot"], expectUUID: last.uuid)
        try Self.boot(last.path, ["--uefi", "--snapshot"], expectUUID: last.uuid)
    }

    /// Issue 11: `stamp pack` as an ordinary user without a subordinate range, on a tree the
    /// user owns (as `tar -x` by that user leaves it), under a 1024 open-files limit: no
    /// namespace is needed (the boot loader step runs nothing); the user's files are root's in
    /// the image; the output is the user's; it boots.
    @Test func anOrdinaryUserPacksABootableDisk() throws {
        let name = "stamp-p\(UInt16.random(in: 0x1000...0xFFFF))"
        let owned = Self.work + "/tree-user"
        let made = try sh(
            """
            set -e; useradd -M -d /nonexistent -s /usr/sbin/nologin \(name)
            rm -rf \(owned) \(Self.work)/user-out; cp -a \(try Self.tree()) \(owned)
            mkdir -p \(Self.work)/user-out; chown -R \(name): \(owned) \(Self.work)/user-out
            """)
        defer { _ = try? sh("pkill -KILL -u \(name); userdel \(name); rm -rf \(owned)") }
        try #require(made.status == 0, "\(made.output)")
        let uid = try #require(Int(try run(["id", "-u", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let out = Self.work + "/user-out/disk"
        let packed = try run([
            "prlimit", "--nofile=1024:1024", "setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", stampBinary, "pack",
            owned,
            "-o", out, "-t", "qcow2,raw", "--layout", "gpt", "--uuid", Self.uuid,
        ])
        try #require(packed.status == 0, "\(packed.output.suffix(3000))")
        #expect(packed.output.contains("boot loader: GRUB's files from the tree, read as data"), "\(packed.output.suffix(2000))")
        let owner = (try FileManager.default.attributesOfItem(atPath: out + ".qcow2"))[.ownerAccountID] as? Int
        #expect(owner == uid)
        // Every entry of the image is root's; GRUB's configuration was made in the tree.
        let table = try run(["sfdisk", "--json", out + ".raw"]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(table.utf8)) as? [String: Any]
        let parts = ((json?["partitiontable"] as? [String: Any])?["partitions"] as? [[String: Any]]) ?? []
        let start = try #require((parts.last?["start"] as? NSNumber)?.intValue)
        let listing = try run(["python3", repositoryRoot + "/Tests/tools/list_entries.py", "\(out).raw?offset=\(start * 512)"])
        try #require(listing.status == 0, "\(listing.stderr)")
        let lines = listing.stdout.split(separator: "\n")
        #expect(lines.count > 10_000)
        #expect(
            lines.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false)[2] == "0:0" },
            "\(lines.filter { $0.split(separator: "\t", omittingEmptySubsequences: false)[2] != "0:0" }.prefix(5))")
        #expect(lines.contains { $0.hasPrefix("/boot/grub/grub.cfg\t") })
        try Self.boot(out + ".qcow2", ["--format", "qcow2", "--snapshot"])
    }
}
