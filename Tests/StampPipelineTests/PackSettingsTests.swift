import Foundation
import Testing

import StampConfig
import StampContainers
import StampDisk
import StampPipeline
import StampTestSupport

/// Typed settings into the pipeline (issue 20): the request `stamp pack` makes from the
/// settings table, and the image cache key, the canonical encoding of those that change bytes.
@Suite struct PackSettingsTests {
    static func request(_ set: (inout RawSettings) -> Void) throws -> PackRequest {
        var raw = RawSettings(.pack)
        raw[.output] = "out/disk"
        set(&raw)
        return PackRequest(root: "/srv/tree", settings: try raw.resolve())
    }

    @Test func everySettingReachesItsField() throws {
        let request = try Self.request {
            $0[.types] = "ova,qcow2"
            $0[.output] = "out/disk"
            $0[.layout] = "efi"
            $0[.size] = "3G"
            $0[.label] = "root"
            $0[.uuid] = "7C3E1C1A-6A55-4A0E-9D0E-2F1F3F9F0A11"
            $0[.inodeRatio] = "4096"
            $0[.qcow2Compat] = "0.10"
            $0.flag(.compressQcow2, true)
            $0[.cpus] = "6"
            $0[.memory] = "8192"
            $0[.nic] = "E1000"
        }
        #expect(request.formats == [.ova, .container(.qcow2)])
        #expect(request.layout == .efi && request.diskSize == 3 << 30 && request.label == "root")
        #expect(request.uuid?.description == "7c3e1c1a-6a55-4a0e-9d0e-2f1f3f9f0a11")
        #expect(request.inodeRatio == 4096 && request.qcow2Compat == .v2 && request.qcow2Compressed)
        #expect(request.ova.cpus == 6 && request.ova.memoryMiB == 8192 && request.ova.nic == "e1000")
        let defaults = try Self.request { _ in }
        #expect(defaults.formats == [.container(.raw)] && defaults.layout == .gpt && defaults.diskSize == nil)
        #expect(defaults.ova.osType == Settings.defaultGuestOS && defaults.label == Settings.defaultRootLabel)
        #expect(
            OVASettings().osType == Settings.defaultGuestOS
                && PackRequest(root: "", output: "", formats: []).label == defaults.label)
    }

    @Test func theOutputNameLosesAnExtensionItsOneFormatWouldAdd() throws {
        let request = try Self.request {
            $0[.output] = "out/disk.qcow2"
            $0[.types] = "qcow2"
        }
        #expect(request.path(for: .container(.qcow2)) == "out/disk.qcow2")
        let two = try Self.request {
            $0[.output] = "out/disk.qcow2"
            $0[.types] = "qcow2,raw"
        }
        #expect(two.path(for: .container(.raw)) == "out/disk.qcow2.raw")
    }

    @Test func theCacheKeyIsTheCanonicalSettingsNotADebugPrint() throws {
        let plain = ImageCache.settings(of: try Self.request { _ in })
        #expect(plain.allSatisfy { !$0.contains("PackRequest(") }, "\(plain)")
        #expect(plain.contains("layout=gpt") && plain.contains("types=raw"), "\(plain)")
        let spelled = ImageCache.settings(
            of: try Self.request {
                $0[.layout] = "GPT"
                $0[.qcow2Compat] = nil
                $0[.output] = "x"
            })
        #expect(spelled == plain)
        #expect(ImageCache.settings(of: try Self.request { $0[.label] = "other" }) != plain)
        let key = ImageCache.key(manifestDigest: "sha256:00", settings: plain)
        #expect(key == ImageCache.key(manifestDigest: "sha256:00", settings: spelled) && key.count == 64)
        // A file setting is keyed by its content: same bytes under another name, same key.
        let dir = try TemporaryDirectory("stamp-cache-key")
        try "key material".write(toFile: dir.file("a.pem"), atomically: false, encoding: .utf8)
        try "key material".write(toFile: dir.file("b.pem"), atomically: false, encoding: .utf8)
        try "other".write(toFile: dir.file("c.pem"), atomically: false, encoding: .utf8)
        func signed(_ file: String) throws -> [String] {
            ImageCache.settings(
                of: try Self.request {
                    $0[.types] = "ova"
                    $0[.sign] = dir.file(file)
                })
        }
        #expect(try signed("a.pem") == signed("b.pem"))
        #expect(try signed("a.pem") != signed("c.pem"))
        #expect(try signed("a.pem").allSatisfy { !$0.contains(dir.path) && !$0.contains("key material") })
    }
}
