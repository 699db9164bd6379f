import Foundation
import Testing

import StampTestSupport

/// `stamp pack -t ova --ovf-config … --sign …` and `stamp verify`, checked with tools we did
/// not write: tar, sha256sum/sha512sum, openssl (dgst -verify, verify -CAfile), qemu-img
/// compare, xmllint --schema.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: stampBinary)
            && ["openssl", "qemu-img", "xmllint", "tar"].allSatisfy(toolAvailable)))
struct OVAConfigTests {
    /// A root tree, two extra disk images (raw, qcow2), a directory for an extra ext4 disk, an
    /// "ISO", a CA and a signer it issued.
    final class Scene: @unchecked Sendable {
        let dir: TemporaryDirectory
        init() throws {
            dir = try TemporaryDirectory("stamp-ova-config")
            let p = dir.path
            let script = """
                set -e
                cd \(p)
                mkdir -p root/etc && echo appliance > root/etc/hostname
                mkdir -p srvtree/www && echo 'served from an extra disk' > srvtree/www/index.html
                head -c 3145728 /dev/urandom > part && truncate -s 16M data.raw && dd if=part of=data.raw bs=1M seek=5 conv=notrunc status=none
                truncate -s 24M logs.raw && printf 'LOGS' | dd of=logs.raw bs=1 seek=12345678 conv=notrunc status=none
                qemu-img convert -f raw -O qcow2 logs.raw logs.qcow2
                head -c 100000 /dev/urandom > tools.iso
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=stamp-test-ca 2>/dev/null
                openssl req -newkey rsa:3072 -nodes -keyout signer.key -out signer.csr -subj /CN=stamp-test-signer 2>/dev/null
                openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out signer.pem -days 30 2>/dev/null
                openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 30 -subj /CN=someone-else 2>/dev/null
                cat signer.key signer.pem > signer-bundle.pem
                """
            let r = try sh(script)
            guard r.status == 0 else { throw CommandError(result: r) }
            try """
            system:
                name: multi
                type: vmx-15
                os_vmw: debian12_64Guest
            networks:
                vm_network: {name: VM Network}
            hardware:
                cpus: 2
                memory: 1024
                nvme1: {type: nvme_controller}
                scsi1: {type: scsi_controller, subtype: pvscsi}
                sata1: {type: sata_controller}
                root: {type: hard_disk, parent: nvme1}
                data: {type: hard_disk, parent: scsi1, disk_image: data.raw}
                logs: {type: hard_disk, parent: scsi1, raw_image: !param logs}
                srv: {type: hard_disk, parent: scsi1, directory: srvtree}
                cd: {type: cd_drive, parent: sata1, image: tools.iso}
                eth0: {type: ethernet, subtype: vmxnet3, network: vm_network}
            product:
                product: Multi-disk appliance
                transports: [iso]
                properties:
                    hostname: {type: string, value: multi, user_configurable: true}
            """.write(toFile: dir.file("multi.yaml"), atomically: true, encoding: .utf8)
        }
        func file(_ name: String) -> String { dir.file(name) }
    }

    struct CommandError: Error, CustomStringConvertible {
        var result: CommandResult
        var description: String { "exit \(result.status): \(result.output)" }
    }

    /// Members of a tar file: (name, data offset, size), by reading its ustar headers.
    static func members(_ path: String) throws -> [(name: String, offset: Int, size: Int)] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var found: [(String, Int, Int)] = []
        var at = 0
        while at + 512 <= bytes.count, bytes[at] != 0 {
            let name = String(decoding: bytes[at..<(at + 100)].prefix { $0 != 0 }, as: UTF8.self)
            let size = Int(String(decoding: bytes[(at + 124)..<(at + 135)], as: UTF8.self), radix: 8) ?? 0
            found.append((name, at + 512, size))
            at += 512 + (size + 511) / 512 * 512
        }
        return found
    }

    func pack(_ s: Scene, _ extra: [String]) throws -> CommandResult {
        try run(
            [
                stampBinary, "pack", s.file("root"), "-o", s.file("multi"), "-t", "ova", "--layout", "gpt", "--no-bootloader",
                "--ovf-config", s.file("multi.yaml"), "--param", "logs=\(s.file("logs.qcow2"))",
            ] + extra)
    }

    @Test(arguments: ["sha256", "sha512"])
    func signedMultiDiskPackageChecksOutWithOpenSSLAndQemuImg(algorithm: String) throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let r = try pack(s, ["--sign", s.file("signer.key"), "--sign-cert", s.file("signer.pem"), "--sign-algorithm", algorithm])
        #expect(r.status == 0, "\(r.output)")
        let ova = s.file("multi.ova")
        let names = try Self.members(ova).map(\.name)
        #expect(
            names == [
                "multi.ovf", "multi.mf", "multi.cert", "multi-disk1.vmdk", "multi-disk2.vmdk", "multi-disk3.vmdk",
                "multi-disk4.vmdk", "tools.iso",
            ])
        let tarList = try run(["tar", "tf", ova])
        #expect(tarList.stdout.split(separator: "\n").map(String.init) == names, "GNU tar reads the same members")

        let x = s.file("x")
        let untar = try run(["bash", "-c", "mkdir \(x) && cd \(x) && tar xf \(ova)"])
        #expect(untar.status == 0, "\(untar.output)")
        // The signature line's hex, as bytes, for openssl.
        let line = try String(contentsOfFile: x + "/multi.cert", encoding: .utf8).prefix { $0 != "\n" }
        let hexDigits = Array(line.split(separator: " ").last ?? "")
        let signature = stride(from: 0, to: hexDigits.count - 1, by: 2).compactMap {
            UInt8(String(hexDigits[$0...$0 + 1]), radix: 16)
        }
        #expect(signature.count == 384, "a 3072-bit key signs in 384 bytes")
        try Data(signature).write(to: URL(fileURLWithPath: x + "/sig.bin"))
        let script = """
            set -e
            cd \(x)
            sha256sum -c --strict <(sed -E 's/^SHA256\\((.*)\\)= (.*)$/\\2  \\1/' multi.mf)
            openssl x509 -in multi.cert -pubkey -noout > pub.pem
            openssl dgst -\(algorithm) -verify pub.pem -signature sig.bin multi.mf
            openssl verify -CAfile \(s.file("ca.pem")) multi.cert
            qemu-img compare -f vmdk -F raw multi-disk2.vmdk \(s.file("data.raw"))
            qemu-img compare -f vmdk -F qcow2 multi-disk3.vmdk \(s.file("logs.qcow2"))
            cmp tools.iso \(s.file("tools.iso"))
            qemu-img convert -O raw multi-disk4.vmdk srv.raw && e2fsck -fn srv.raw && debugfs -R 'cat /www/index.html' srv.raw
            xmllint --noout --nonet --schema \(repositoryRoot)/Tests/Fixtures/ovf-schema/dsp8023_1.1.1.xsd multi.ovf
            """
        let check = try run(["bash", "-c", script])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("Verified OK"), "\(check.output)")
        #expect(check.output.contains("multi.cert: OK"), "\(check.output)")
        #expect(check.output.components(separatedBy: "Images are identical.").count == 3, "\(check.output)")
        #expect(check.output.contains("multi.ovf validates"), "\(check.output)")
        #expect(check.output.contains("served from an extra disk"), "\(check.output)")
        let cert = try String(contentsOfFile: x + "/multi.cert", encoding: .utf8)
        #expect(cert.hasPrefix("\(algorithm.uppercased())(multi.mf)= "))
        #expect(cert.hasSuffix("-----END CERTIFICATE-----\n"))

        let verify = try run([stampBinary, "verify", ova, "--cert", s.file("ca.pem")])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.stdout.contains("8 members") && verify.stdout.contains("certificate trusted"), "\(verify.output)")
        let stranger = try run([stampBinary, "verify", ova, "--cert", s.file("other.pem")])
        #expect(
            stranger.status != 0 && stranger.stderr.contains("multi.cert:") && stranger.stderr.contains("nor signed by it"),
            "\(stranger.output)")
    }

    /// One flipped byte in any member: `stamp verify --cert CA` fails, in one line naming that
    /// member. (Without --cert, a flip inside a CA-issued certificate's own signature cannot be
    /// told from the real thing: nothing else signs those bytes.)
    @Test func aFlippedByteInAnyMemberIsNamed() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let r = try pack(s, ["--sign", s.file("signer-bundle.pem")])
        #expect(r.status == 0, "\(r.output)")
        let ova = s.file("multi.ova")
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ova)))
        let good = try run([stampBinary, "verify", ova, "--cert", s.file("ca.pem")])
        #expect(good.status == 0, "\(good.output)")
        for member in try Self.members(ova) {
            // The middle byte and the first; in the descriptor also a References href (which,
            // changed, must not pass for a member out of order).
            var offsets = Set([member.offset + member.size / 2, member.offset])
            if member.name.hasSuffix(".ovf") {
                let text = String(decoding: original[member.offset..<(member.offset + member.size)], as: UTF8.self)
                let href = try #require(text.range(of: "ovf:href=\"multi-disk2"))
                offsets.insert(member.offset + text.utf8.distance(from: text.startIndex, to: href.upperBound) - 1)
            }
            for offset in offsets {
                var bytes = original
                bytes[offset] ^= 0x01
                let bad = s.file("bad.ova")
                try Data(bytes).write(to: URL(fileURLWithPath: bad))
                let result = try run([stampBinary, "verify", bad, "--cert", s.file("ca.pem")])
                #expect(result.status != 0, "\(member.name) at \(offset): accepted")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(result.stderr.hasPrefix("stamp: \(member.name): "), "\(member.name) at \(offset): \(result.stderr)")
            }
        }
        // Openssl agrees that the manifest as written is what was signed.
        let reordered = try run([
            "bash", "-c",
            "cd \(s.dir.path) && mkdir y && cd y && tar xf \(ova) && tar cf ../swapped.ova multi.ovf multi.cert multi.mf multi-disk1.vmdk multi-disk2.vmdk multi-disk3.vmdk multi-disk4.vmdk tools.iso",
        ])
        #expect(reordered.status == 0, "\(reordered.output)")
        let swapped = try run([stampBinary, "verify", s.file("swapped.ova")])
        #expect(
            swapped.status != 0 && swapped.stderr.contains("multi.cert: the second member must be the manifest"),
            "\(swapped.output)")
    }

    /// `--sign` without a config signs the classic one-disk OVA (options from --cpus etc.).
    @Test func signingWithoutAConfig() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let r = try run([
            stampBinary, "pack", s.file("root"), "-o", s.file("plain"), "-t", "ova", "--layout", "none", "--cpus", "3",
            "--sign", s.file("signer-bundle.pem"), "--sign-algorithm", "sha512",
        ])
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.members(s.file("plain.ova")).map(\.name) == ["plain.ovf", "plain.mf", "plain.cert", "plain-disk1.vmdk"])
        let script = """
            set -e
            cd \(s.dir.path) && mkdir p && cd p && tar xf ../plain.ova
            sed -n '1s/^SHA512(plain.mf)= //p' plain.cert | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' > sig.bin
            openssl x509 -in plain.cert -pubkey -noout > pub.pem
            openssl dgst -sha512 -verify pub.pem -signature sig.bin plain.mf
            grep -c '<rasd:VirtualQuantity>3</rasd:VirtualQuantity>' plain.ovf
            """
        let check = try run(["bash", "-c", script])
        #expect(check.status == 0 && check.stdout.contains("Verified OK"), "\(check.output)")
        let verify = try run([stampBinary, "verify", s.file("plain.ova"), "--cert", s.file("ca.pem")])
        #expect(verify.status == 0, "\(verify.output)")
    }

    /// Bad signing and config inputs: one line, non-zero exit, nothing written.
    @Test(arguments: [
        (["--sign", "KEYONLY"], "no certificate"),
        (["--sign", "KEYONLY", "--sign-cert", "OTHERCERT"], "the certificate's public key is not the private key's"),
        (["--sign", "BUNDLE", "--sign-algorithm", "md5"], "invalid --sign-algorithm 'md5': use sha256 or sha512"),
        (["--sign", "/nonexistent.pem"], "/nonexistent.pem: cannot read the key file"),
        (["--param", "logs"], "--param 'logs' is not NAME=VALUE"),
        (
            ["--param", "logs=/nonexistent.qcow2"],
            "hardware.logs: disk image /nonexistent.qcow2: open: no such file or directory"
        ),
    ])
    func badSigningInputEndsInOneLine(extra: [String], expected: String) throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let args = extra.map {
            $0.replacingOccurrences(of: "KEYONLY", with: s.file("signer.key")).replacingOccurrences(
                of: "OTHERCERT", with: s.file("other.pem")
            )
            .replacingOccurrences(of: "BUNDLE", with: s.file("signer-bundle.pem"))
        }
        let r = try pack(s, args)
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.file("multi.ova")))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.dir.path).filter { $0.hasPrefix(".") || $0.contains(".tmp") }
                .isEmpty)
    }

    @Test func anUnknownConfigKeyIsOneLineNamingFileAndKey() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        var yaml = try String(contentsOfFile: s.file("multi.yaml"), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "eth0: {type: ethernet,", with: "eth0: {type: ethernet, mac: 1,")
        try yaml.write(toFile: s.file("multi.yaml"), atomically: true, encoding: .utf8)
        let r = try pack(s, [])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("\(s.file("multi.yaml")): line 18: hardware.eth0.mac: unknown key"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.file("multi.ova")))
    }
}
