import Foundation
import Testing
@testable import StampElements

/// A real debian-minimal build with the built-in elements: debootstrap from the Debian mirror.
/// Set STAMP_NETWORK_TESTS=1 (root required). The second build must use the image cache.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["STAMP_NETWORK_TESTS"] != nil && Fixtures.isRoot))
struct NetworkBuildTests {
    @Test func debianMinimalVM() async throws {
        let work = URL(fileURLWithPath: ProcessInfo.processInfo.environment["STAMP_NETWORK_WORK"] ?? "/var/tmp/stamp-network-test")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let collector = LineCollector()
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = work.path
        env["DIB_IMAGE_CACHE"] = work.appendingPathComponent("cache").path
        env["DIB_RELEASE"] = "bookworm"
        guard case .build(let request) = try DIBCommandLine.parse(
            ["-x", "-t", "qcow2", "--checksum", "--no-tmpfs", "-o", work.appendingPathComponent("out/debian").path,
             "debian-minimal", "vm", "cloud-init-datasources", "openssh-server", "growroot"], environment: env)
        else { Issue.record("no build"); return }
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
            #expect(try fm.contentsOfDirectory(atPath: root.appendingPathComponent("boot").path).contains { $0.hasPrefix("vmlinuz-") })
            #expect(fm.fileExists(atPath: root.appendingPathComponent("boot/grub/grub.cfg").path))
            #expect(fm.fileExists(atPath: root.appendingPathComponent("usr/lib/grub/i386-pc").path))
            #expect(!fm.fileExists(atPath: root.appendingPathComponent("usr/sbin/policy-rc.d").path))
            #expect((try? fm.attributesOfItem(atPath: root.appendingPathComponent("etc/resolv.conf").path)) == nil
                || (try? String(contentsOf: root.appendingPathComponent("etc/resolv.conf"), encoding: .utf8))
                    != (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)))
            #expect(fm.fileExists(atPath: work.appendingPathComponent("out/debian.d/dib-manifests/dib_arguments").path))
            print("network build round \(round): \(ContinuousClock.now - start)")
            ElementBuild.cleanup(built)
            if round == 2 { #expect(collector.lines.contains { $0.hasPrefix("Using cached base system") }) }
        }
    }
}
