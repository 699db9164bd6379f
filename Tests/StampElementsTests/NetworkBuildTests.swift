import Foundation
import StampDIB
import StampTestSupport
import Testing
@testable import StampElements

/// A real debian-minimal build with the built-in elements: debootstrap from the Debian mirror.
/// Set STAMP_NETWORK_TESTS=1 (root required). The second build must use the image cache.
///
/// Each built tree is checked by tools we did not write, not only by the files it has: dpkg
/// (`--audit`: every package configured, none half-installed; `-W`: the packages the elements
/// asked for), and the tree packed by `stamp pack` into a qcow2 + raw disk that qemu-img
/// (`check`, `info --output=json`, `compare`), sfdisk (`--json`) and e2fsck (`-fn`, strict) read.
@Suite(.serialized, .enabled(if: networkTestsEnabled && Fixtures.isRoot))
struct NetworkBuildTests {
    @Test func debianMinimalVM() async throws {
        let work = URL(
            fileURLWithPath: ProcessInfo.processInfo.environment["STAMP_NETWORK_WORK"] ?? "/var/tmp/stamp-network-test")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let collector = LineCollector()
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = work.path
        env["DIB_IMAGE_CACHE"] = sharedImageCache(fallback: work.appendingPathComponent("cache").path)
        env["DIB_RELEASE"] = "bookworm"
        env["STAMP_EXEC"] = stampBinary  // the chroot mounts: this process is the test runner
        guard
            case .build(let request) = try DIBCommandLine.parse(
                [
                    "-x", "-t", "qcow2", "--checksum", "--no-tmpfs", "-o", work.appendingPathComponent("out/debian").path,
                    "debian-minimal", "vm", "cloud-init-datasources", "openssh-server", "growroot",
                ], environment: env)
        else {
            Issue.record("no build")
            return
        }
        var plan = request.plan
        plan.builtinElementsDirectory = Fixtures.builtin
        for round in 1...2 {
            let start = ContinuousClock.now
            let build = try ElementBuild.validate(plan, logger: collector.logger)
            let built = try await ElementBuild.run(build, logger: collector.logger)
            try await ElementBuild.finalise(built, options: .init(imageSizeKiB: 3_000_000), logger: collector.logger)
            let root = built.root
            let fm = FileManager.default
            #expect(fm.fileExists(atPath: root.appendingPathComponent("etc/debian_version").path))
            #expect(
                try fm.contentsOfDirectory(atPath: root.appendingPathComponent("boot").path).contains { $0.hasPrefix("vmlinuz-") }
            )
            #expect(fm.fileExists(atPath: root.appendingPathComponent("boot/grub/grub.cfg").path))
            #expect(fm.fileExists(atPath: root.appendingPathComponent("usr/lib/grub/i386-pc").path))
            #expect(!fm.fileExists(atPath: root.appendingPathComponent("usr/sbin/policy-rc.d").path))
            #expect(
                (try? fm.attributesOfItem(atPath: root.appendingPathComponent("etc/resolv.conf").path)) == nil
                    || (try? String(contentsOf: root.appendingPathComponent("etc/resolv.conf"), encoding: .utf8))
                        != (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8))
            )
            #expect(fm.fileExists(atPath: work.appendingPathComponent("out/debian.d/dib-manifests/dib_arguments").path))
            try Self.checkIndependently(root: root.path, work: work.path, round: round)
            print("network build round \(round): \(ContinuousClock.now - start)")
            ElementBuild.cleanup(built)
            if round == 2 { #expect(collector.lines.contains { $0.hasPrefix("Using cached base system") }) }
        }
    }

    /// dpkg's view of the tree, then the tree as a disk read by qemu-img, sfdisk and e2fsck.
    static func checkIndependently(root: String, work: String, round: Int) throws {
        let audit = try run(["dpkg", "--root=\(root)", "--audit"])
        #expect(audit.status == 0 && audit.stdout.isEmpty, "round \(round): dpkg --audit: \(audit.output)")
        let installed = try run([
            "dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n",
        ])
        let packages = Dictionary(
            installed.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                let f = line.split(separator: " ")
                return f.count >= 2 ? (String(f[0]), String(f[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
        for wanted in [
            "linux-image-amd64", "grub-pc-bin", "grub2-common", "openssh-server", "cloud-init", "cloud-guest-utils",
            "systemd-sysv",
        ] {
            #expect(packages[wanted] == "ii", "round \(round): \(wanted) is \(packages[wanted] ?? "not installed")")
        }
        let out = work + "/packed-\(round)"
        let pack = try run([stampBinary, "pack", root, "-o", out, "-t", "qcow2,raw", "--layout", "mbr", "--no-bootloader"])
        try #require(pack.status == 0, "round \(round): stamp pack: \(pack.output.suffix(3000))")
        defer { _ = try? run(["rm", "-rf", out + ".qcow2", out + ".raw", out + ".d"]) }
        let check = try run(["qemu-img", "check", "-f", "qcow2", out + ".qcow2"])
        #expect(check.status == 0 && check.stdout.contains("No errors were found"), "round \(round): \(check.output)")
        let info = try run(["qemu-img", "info", "--output=json", out + ".qcow2"]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
        #expect(json?["format"] as? String == "qcow2", "round \(round): \(info)")
        let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", out + ".raw", out + ".qcow2"])
        #expect(compare.status == 0, "round \(round): \(compare.output)")
        let dump = try run(["sfdisk", "--json", out + ".raw"]).stdout
        let table =
            (try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])?["partitiontable"] as? [String: Any]
        #expect(table?["label"] as? String == "dos", "round \(round): \(dump)")
        let last = try #require((table?["partitions"] as? [[String: Any]])?.last, "round \(round): no partition: \(dump)")
        let start = try #require((last["start"] as? NSNumber)?.intValue)
        #expect(try strictFsck("\(out).raw?offset=\(start * 512)") == [], "round \(round)")
        let kernel = try run(["debugfs", "-R", "ls -l /boot", "\(out).raw?offset=\(start * 512)"]).stdout
        #expect(kernel.contains("vmlinuz-"), "round \(round): /boot: \(kernel)")
    }
}
