import Foundation
import Testing

import StampTestSupport

/// An appliance OVA as vCenter deploys it: `stamp build … -t ova --ovf-config` with cloud-init
/// and open-vm-tools, its disk booted (QEMU, TCG) with an OVF environment ISO that sets the
/// host name through a ProductSection property (transport iso), and the OVA imported by
/// virt-v2v. Root, network, boots and minutes: STAMP_NETWORK_TESTS=1 and STAMP_BOOT_TESTS=1
/// (scripts/test's network phase sets both; without the boots the suite is a recorded skip).
/// The virt-v2v import alone takes ~10 minutes: scripts/release-check runs it, CI filters it out.
/// The OVA is signed (`--sign`, a key made here), so openssl checks the manifest's digests and
/// the signature independently of `stamp verify`.
@Suite(.serialized, .enabled(if: isRoot && networkTestsEnabled && bootTestsEnabled))
struct OVAEnvironmentTests {
    static let work = "/var/tmp/stamp-ova-environment"
    static let guestName = "stamp-ovf-guest-7"

    static let config = """
        system:
            name: ovfenv
            type: vmx-15
            os_vmw: debian12_64Guest
        networks:
            vm_network: {name: VM Network}
        hardware:
            cpus: 2
            memory: 1024
            scsi1: {type: scsi_controller, subtype: lsilogic}
            sata1: {type: sata_controller}
            root: {type: hard_disk, parent: scsi1}
            cdrom1: {type: cd_drive, parent: sata1, connected: true}
            eth0: {type: ethernet, subtype: vmxnet3, network: vm_network}
        product:
            product: OVF environment test appliance
            transports: [iso, com.vmware.guestInfo]
            properties:
                hostname: {type: string, value: ovfenv-default, user_configurable: true, label: Host name}
                instance-id: {type: string, value: iid-ovfenv, user_configurable: true}
        """

    /// The OVF environment vCenter writes for a deployed VM (DSP0243 §11): every property of
    /// the descriptor's ProductSection with its default, `overrides` replacing some.
    static func environment(ovf: String, overrides: [String: String]) throws -> String {
        let keys = try run(["xmllint", "--nonet", "--xpath", "//*[local-name()='Property']/@*[local-name()='key']", ovf]).stdout
        var properties: [(String, String)] = []
        for match in keys.split(separator: "\"").enumerated() where match.offset % 2 == 1 {
            let key = String(match.element)
            let value = try run([
                "xmllint", "--nonet", "--xpath",
                "string(//*[local-name()='Property'][@*[local-name()='key']='\(key)']/@*[local-name()='value'])", ovf,
            ]).stdout
            properties.append((key, overrides[key] ?? value.trimmingCharacters(in: .newlines)))
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
                xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" oe:id="">
              <PlatformSection>
                <Kind>VMware ESXi</Kind>
                <Version>8.0.0</Version>
              </PlatformSection>
              <PropertySection>
            \(properties.map { "    <Property oe:key=\"\($0.0)\" oe:value=\"\($0.1)\"/>" }.joined(separator: "\n"))
              </PropertySection>
            </Environment>

            """
    }

    /// Builds the appliance OVA once per run (the tests of this suite share it).
    static func buildAppliance() throws -> String {
        let out = Self.work + "/out/app"
        let stamp = Self.work + "/out/built-by-pid"
        if (try? String(contentsOfFile: stamp, encoding: .utf8)) == "\(getpid())",
            FileManager.default.fileExists(atPath: out + ".ova")
        {
            return out
        }
        try? FileManager.default.removeItem(atPath: Self.work + "/out")
        try FileManager.default.createDirectory(atPath: Self.work + "/out", withIntermediateDirectories: true)
        try Self.config.write(toFile: Self.work + "/appliance.yaml", atomically: true, encoding: .utf8)
        let key = try sh(
            """
            cd \(Self.work)/out && openssl req -x509 -newkey rsa:2048 -nodes -keyout signer.key -out signer.pem -days 30 \
                -subj /CN=stamp-ovfenv-signer 2>&1 && cat signer.key signer.pem > signer-bundle.pem
            """)
        guard key.status == 0 else { throw BuildFailed(output: key.output) }
        let build = try run(
            [
                stampBinary, "build", "-o", out, "-t", "ova", "--release", "bookworm",
                "--download-cache", sharedImageCache(fallback: Self.work + "/cache"), "--sign",
                Self.work + "/out/signer-bundle.pem",
                "--elements-path", repositoryRoot + "/Tests/StampCLITests/Fixtures/elements", "--ovf-config",
                Self.work + "/appliance.yaml",
                "debian-minimal", "vm", "cloud-init", "cloud-init-datasources", "open-vm-tools", "stamp-boot-marker",
            ],
            environment: ["STAMP_REPO": repositoryRoot, "TMPDIR": Self.work])
        guard build.status == 0 else { throw BuildFailed(output: String(build.output.suffix(4000))) }
        try "\(getpid())".write(toFile: stamp, atomically: true, encoding: .utf8)
        return out
    }

    struct BuildFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "stamp build failed: \(output)" }
    }

    @Test func propertiesReachTheGuestAtFirstBoot() throws {
        let out = try Self.buildAppliance()
        let verify = try run([stampBinary, "verify", out + ".ova"])
        #expect(verify.status == 0, "\(verify.output)")

        // GNU tar's listing: the descriptor first, then the manifest and its signature, then
        // the disk (DSP0243 §5.3).
        let listing = try run(["tar", "tf", out + ".ova"])
        #expect(
            listing.stdout.split(separator: "\n") == ["app.ovf", "app.mf", "app.cert", "app-disk1.vmdk"], "\(listing.output)")
        let x = Self.work + "/out/x"
        let untar = try run(["bash", "-c", "rm -rf \(x) && mkdir -p \(x) && tar xf \(out).ova -C \(x) && ls \(x)"])
        #expect(untar.status == 0 && untar.stdout.contains("app-disk1.vmdk"), "\(untar.output)")
        // The manifest's digests (sha256sum) and its signature (openssl dgst -verify with the
        // certificate's key), checked without stamp.
        let signature = try Self.signatureBytes(certFile: x + "/app.cert")
        try Data(signature).write(to: URL(fileURLWithPath: x + "/sig.bin"))
        let openssl = try sh(
            """
            set -e; cd \(x)
            sha256sum -c --strict <(sed -E 's/^SHA256\\((.*)\\)= (.*)$/\\2  \\1/' app.mf)
            [ "$(wc -l < app.mf)" = 2 ]
            openssl x509 -in app.cert -pubkey -noout > pub.pem
            openssl dgst -sha256 -verify pub.pem -signature sig.bin app.mf
            cmp <(openssl x509 -in app.cert -noout -fingerprint) <(openssl x509 -in \(Self.work)/out/signer.pem -noout -fingerprint)
            """)
        #expect(openssl.status == 0 && openssl.stdout.contains("Verified OK"), "\(openssl.output)")
        let ovf = x + "/app.ovf"
        let transport = try run([
            "xmllint", "--nonet", "--xpath", "string(//*[local-name()='VirtualHardwareSection']/@*[local-name()='transport'])",
            ovf,
        ])
        #expect(transport.stdout.contains("iso"), "\(transport.output)")

        // What the image holds for the guest side: cloud-init with OVF first in its list.
        let datasources = try run([
            "bash", "-c",
            "qemu-img convert -O raw \(x)/app-disk1.vmdk \(x)/disk.raw && "
                + "start=$(sfdisk --json \(x)/disk.raw | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"partitiontable\"][\"partitions\"][-1][\"start\"])') && "
                + "debugfs -R 'cat /etc/cloud/cloud.cfg.d/91-dib-cloud-init-datasources.cfg' \"\(x)/disk.raw?offset=$((start*512))\"",
        ])
        #expect(datasources.stdout.contains("datasource_list: [ OVF, "), "\(datasources.output)")
        try? FileManager.default.removeItem(atPath: x + "/disk.raw")

        // vCenter's transport iso: ovf-env.xml on a CD labelled "OVF ENV".
        let env = try Self.environment(ovf: ovf, overrides: ["hostname": Self.guestName])
        #expect(env.contains("oe:key=\"hostname\" oe:value=\"\(Self.guestName)\""), "\(env)")
        #expect(env.contains("oe:key=\"instance-id\" oe:value=\"iid-ovfenv\""), "\(env)")
        try FileManager.default.createDirectory(atPath: x + "/env", withIntermediateDirectories: true)
        try env.write(toFile: x + "/env/ovf-env.xml", atomically: true, encoding: .utf8)
        let iso = try run(["genisoimage", "-quiet", "-V", "OVF ENV", "-J", "-r", "-o", x + "/env.iso", x + "/env"])
        #expect(iso.status == 0, "\(iso.output)")
        let boot = try bootImage(
            x + "/app-disk1.vmdk",
            [
                "--format", "vmdk", "--snapshot", "--cdrom", x + "/env.iso", "--expect-hostname", Self.guestName, "--timeout",
                "300",
            ])
        #expect(boot.status == 0, "\(boot.output.suffix(3000))")
        #expect(boot.stdout.contains("STAMP_HOSTNAME \(Self.guestName)"), "\(boot.output.suffix(3000))")
    }

    /// virt-v2v (libguestfs) imports the OVA as it would one from vSphere: it reads the OVF,
    /// checks the manifest, inspects the Debian guest, and writes a libvirt domain with the
    /// OVF's CPUs and memory. libguestfs's appliance runs under TCG (KVM guests fail on these
    /// hosts: "failed to set MSR 0x10a"), with the host's Debian kernel (linux-image-amd64).
    @Test(.tags(.slow), .enabled(if: toolAvailable("virt-v2v"), "needs virt-v2v and a kernel in /boot (scripts/install-deps)"))
    func virtV2VImportsTheOVA() throws {
        let out = try Self.buildAppliance()
        let target = Self.work + "/out/v2v"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        // Output to a file: when virt-v2v fails it can leave its qemu-nbd helpers running with
        // its stdout open, and a pipe would never see end-of-file.
        let log = Self.work + "/out/v2v.log"
        let command = "timeout 1500 virt-v2v -i ova \(out).ova -o local -os \(target) -of qcow2 -on imported > \(log) 2>&1"
        let status = try Self.spawnAndWait(
            command,
            environment: [
                "LIBGUESTFS_BACKEND": "direct", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg", "TMPDIR": Self.work + "/out",
            ])
        // virt-v2v leaves its qemu-nbd helpers running (holding the output's write lock).
        Self.killLeftoverHelpers(under: Self.work + "/out")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(output.suffix(4000))")
        // virt-v2v exits 0 after warnings too: none may appear but the one its manual
        // (virt-v2v(1), "Debian/Ubuntu: …") says every Debian guest gets, since Debian has no
        // grubby to set the default kernel.
        let debianOnly = "virt-v2v: warning: could not determine a way to update the configuration of Grub2"
        let complaints = output.split(separator: "\n").filter {
            ($0.contains("virt-v2v: warning") || $0.contains("virt-v2v: error")) && !$0.contains(debianOnly)
        }
        #expect(complaints.isEmpty, "\(complaints)")
        #expect(output.contains("Inspecting the source"), "\(output.suffix(2000))")
        #expect(output.contains("Finishing off"), "\(output.suffix(2000))")
        let domain = try String(contentsOfFile: target + "/imported.xml", encoding: .utf8)
        #expect(domain.contains("<memory unit='KiB'>1048576</memory>"), "\(domain)")
        #expect(domain.contains("<vcpu>2</vcpu>"), "\(domain)")
        let check = try run(["qemu-img", "check", target + "/imported-sda"])
        #expect(check.status == 0 && check.stdout.contains("No errors were found"), "\(check.output)")
        try? FileManager.default.removeItem(atPath: target)
    }
}

extension OVAEnvironmentTests {
    /// The signature of an OVA's `.cert` (its first line, `SHA256(app.mf)= HEX`), as bytes
    /// for `openssl dgst -signature`.
    static func signatureBytes(certFile: String) throws -> [UInt8] {
        let line = try String(contentsOfFile: certFile, encoding: .utf8).prefix { $0 != "\n" }
        let hex = Array(line.split(separator: " ").last ?? "")
        return stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
    }

    /// SIGKILLs the qemu-nbd processes virt-v2v started with sockets under `directory` (this
    /// test's own) and left behind (they ignore SIGTERM), and waits until they are gone; other
    /// processes are not touched.
    static func killLeftoverHelpers(under directory: String) {
        for _ in 0..<50 {
            var found = false
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else {
                    continue
                }
                let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if words.first?.hasSuffix("qemu-nbd") == true, words.contains(where: { $0.hasPrefix(directory + "/v2v") }) {
                    kill(pid, SIGKILL)
                    found = true
                }
            }
            if !found { return }
            usleep(200_000)
        }
    }

    /// Runs `bash -c command` (stdin, stdout, stderr on /dev/null: the command redirects what
    /// it wants kept) and waits for it with waitpid. Foundation's Process was seen never to
    /// notice the exit of a shell whose grandchildren (qemu-nbd) outlived it.
    static func spawnAndWait(_ command: String, environment extra: [String: String]) throws -> Int32 {
        let env = ProcessInfo.processInfo.environment.merging(extra) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ["/bin/bash", "-c", command]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { for pointer in cArgv + cEnv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArgv, &cEnv)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

extension Tag {
    /// Minutes, not seconds: run in scripts/test's network phase.
    @Tag static var slow: Self
}
