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
        let r = try sh("""
            set -e; rm -rf \(work); mkdir -p \(work); cp -a \(root) \(tree)
            sh \(repositoryRoot)/Tests/tools/boot/install_marker.sh \(tree) >/dev/null
            touch \(tree)/.stamp-ready
            """)
        try #require(r.status == 0, "\(r.output)")
        return tree
    }

    static func pack(_ layout: StandardLayout, _ formats: [String], name: String, root: String? = nil) throws -> String {
        var request = PackRequest(root: try root ?? tree(), output: work + "/" + name, formats: formats.compactMap(PackFormat.init))
        request.layout = layout
        request.uuid = Identifier(uuid)
        request.requireBootloader = true
        _ = try Packer(request: request).run()
        return work + "/" + name
    }

    static func boot(_ image: String, _ extra: [String] = []) throws {
        let r = try run(["bash", harness, image, "--timeout", "180", "--expect-uuid", uuid] + extra)
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
        let r = try sh("""
            set -e; rm -rf \(signed); cp -a \(try Self.tree()) \(signed); mkdir -p \(cache)
            sh \(repositoryRoot)/Tests/tools/boot/add_signed_efi.sh \(signed) \(cache)
            """)
        try #require(r.status == 0, "\(r.output)")
        let disk = try Self.pack(.efi, ["raw"], name: "efi-signed", root: signed)
        let esp = try sh("""
            lba=$(sfdisk -d \(disk).raw | sed -n 's/.*start= *\\([0-9]*\\),.*name="ESP".*/\\1/p')
            mdir -i \(disk).raw@@$((lba * 512)) -b ::/EFI/BOOT ::/EFI/debian
            """)
        #expect(esp.stdout.contains("shimx64.efi") && esp.stdout.contains("grubx64.efi"), "ESP: \(esp.output)")
        try Self.boot(disk + ".raw", ["--secure-boot", "--snapshot"])
        try Self.boot(disk + ".raw")
    }

    /// Issue 11: `stamp pack` as an ordinary user without a subordinate range, on a tree the
    /// user owns (as `tar -x` by that user leaves it): the pack runs as uid 0 of a user
    /// namespace mapping only the user (`unshare --map-root-user`), so GRUB's chroot step
    /// works and the user's files are root's in the image; the output is the user's; it boots.
    @Test func anOrdinaryUserPacksABootableDisk() throws {
        let name = "stamp-p\(UInt16.random(in: 0x1000...0xFFFF))"
        let owned = Self.work + "/tree-user"
        let made = try sh("""
            set -e; useradd -M -d /nonexistent -s /usr/sbin/nologin \(name)
            rm -rf \(owned) \(Self.work)/user-out; cp -a \(try Self.tree()) \(owned)
            mkdir -p \(Self.work)/user-out; chown -R \(name): \(owned) \(Self.work)/user-out
            """)
        defer { _ = try? sh("pkill -KILL -u \(name); userdel \(name); rm -rf \(owned)") }
        try #require(made.status == 0, "\(made.output)")
        let uid = try #require(Int(try run(["id", "-u", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let out = Self.work + "/user-out/disk"
        let packed = try run(["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", stampBinary, "pack", owned,
                              "-o", out, "-t", "qcow2,raw", "--layout", "gpt", "--uuid", Self.uuid])
        try #require(packed.status == 0, "\(packed.output.suffix(3000))")
        #expect(packed.output.contains("boot loader: GRUB from the tree"), "\(packed.output.suffix(2000))")
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
        #expect(lines.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false)[2] == "0:0" },
                "\(lines.filter { $0.split(separator: "\t", omittingEmptySubsequences: false)[2] != "0:0" }.prefix(5))")
        #expect(lines.contains { $0.hasPrefix("/boot/grub/grub.cfg\t") })
        try Self.boot(out + ".qcow2", ["--format", "qcow2", "--snapshot"])
    }
}
