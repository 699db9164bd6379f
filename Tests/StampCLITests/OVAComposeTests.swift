import Foundation
import Testing

import StampTestSupport

/// `stamp ova-compose` (open-vmdk's ova-compose command line) on our own configs
/// (Tests/Fixtures/ova-compose), checked with tools we did not write: the descriptor against
/// golden files (compared with what ova-compose itself wrote for them, see docs/ova-compose.md)
/// and the DMTF schema (xmllint), the members with tar, the manifest with sha*sum, the
/// signature with openssl, every disk with qemu-img.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: stampBinary)
            && ["openssl", "qemu-img", "xmllint", "tar", "python3"].allSatisfy(toolAvailable)))
struct OVAComposeTests {
    static let fixtures = repositoryRoot + "/Tests/Fixtures/ova-compose"
    static let schema = repositoryRoot + "/Tests/Fixtures/ovf-schema/dsp8023_1.1.1.xsd"

    /// A directory with the fixtures' inputs: base.vmdk (1 MiB of zeros, streamOptimized),
    /// base-4k.vmdk (the same, its descriptor saying 4096-byte sectors), data.img (raw, some
    /// data), logs.qcow2, tools.iso, and a signing key with its certificate in one file.
    final class Scene: @unchecked Sendable {
        let dir: TemporaryDirectory
        init() throws {
            dir = try TemporaryDirectory("stamp-ova-compose")
            let script = """
                set -e
                cd \(dir.path)
                cp \(OVAComposeTests.fixtures)/*.yaml \(OVAComposeTests.fixtures)/eula.txt .
                truncate -s 1M base.img
                \(stampBinary) convert base.img -O vmdk base.vmdk
                python3 - <<'EOF'
                data = bytearray(open("base.vmdk", "rb").read())
                end = data.index(b"\\0", 512)
                extra = b'ddb.logicalSectorSize = "4096"\\nddb.physicalSectorSize = "4096"\\n'
                data[end:end] = extra
                del data[end + len(extra):end + 2 * len(extra)]
                open("base-4k.vmdk", "wb").write(data)
                EOF
                head -c 300000 /dev/urandom > part && truncate -s 4M data.img && dd if=part of=data.img bs=64K seek=20 conv=notrunc status=none
                truncate -s 6M logs.raw && printf 'LOGS' | dd of=logs.raw bs=1 seek=3000000 conv=notrunc status=none
                qemu-img convert -f raw -O qcow2 logs.raw logs.qcow2
                head -c 70000 /dev/urandom > tools.iso
                openssl req -x509 -nodes -sha256 -days 30 -newkey rsa:2048 -keyout key.pem -out key.pem -subj /CN=ova-compose-test 2>/dev/null
                """
            let r = try sh(script)
            guard r.status == 0 else { throw Failure(description: "scene: \(r.output)") }
        }
        func file(_ name: String) -> String { dir.file(name) }

        /// `stamp ova-compose ARGS` run in the scene's directory, with a fixed comment time.
        func compose(_ arguments: [String], program: [String] = [stampBinary, "ova-compose"]) throws -> CommandResult {
            let words = (program + arguments).map { "'\($0)'" }.joined(separator: " ")
            return try sh("cd \(dir.path) && SOURCE_DATE_EPOCH=0 TZ=UTC \(words)")
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static let params = ["--param", "eulafile=eula.txt"]

    /// Each config's descriptor is the golden one (what ova-compose writes for it), and valid
    /// under the DMTF OVF schema.
    @Test(arguments: ["appliance", "profiles", "tuning"])
    func descriptorIsOVAComposes(config: String) throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let r = try s.compose(["-i", "\(config).yaml", "-o", "\(config).ovf", "-q"] + Self.params)
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
        let written = try String(contentsOfFile: s.file("\(config).ovf"), encoding: .utf8)
        let golden = try String(contentsOfFile: "\(Self.fixtures)/\(config).ovf", encoding: .utf8)
        let diff = try sh("diff \(Self.fixtures)/\(config).ovf \(s.file("\(config).ovf"))")
        #expect(written == golden, "diff: \(diff.output)")
        let lint = try run(["xmllint", "--noout", "--nonet", "--schema", Self.schema, s.file("\(config).ovf")])
        #expect(lint.status == 0 && lint.output.contains("validates"), "\(lint.output)")
    }

    /// An OVA: ova-compose's member order (the certificate last), a SHA512 manifest sha512sum
    /// accepts, a signature openssl verifies, disks qemu-img reads as the images they came
    /// from, and `stamp verify` accepts it.
    @Test func signedOVAOfConvertedImages() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let r = try s.compose([
            "-i", "images.yaml", "-o", "out.ova", "--checksum-type", "sha512", "-s", "key.pem", "--sign-alg", "sha256",
        ])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.hasPrefix("creating 'out.ova' with format 'ova' from 'images.yaml'") && r.stdout.hasSuffix("done.\n"))
        let list = try run(["tar", "tf", s.file("out.ova")])
        #expect(list.stdout.split(separator: "\n") == ["out.ovf", "out.mf", "data.vmdk", "logs.vmdk", "tools.iso", "out.cert"])
        let script = """
            set -e
            cd \(s.dir.path) && mkdir x && cd x && tar xf ../out.ova
            sha512sum -c --strict <(sed -E 's/^SHA512\\((.*)\\)= (.*)$/\\2  \\1/' out.mf)
            python3 -c "import sys, binascii; sys.stdout.buffer.write(binascii.unhexlify(open('out.cert').readline().split('= ')[1].strip()))" > sig.bin
            openssl x509 -in out.cert -pubkey -noout > pub.pem
            openssl dgst -sha256 -verify pub.pem -signature sig.bin out.mf
            qemu-img check data.vmdk && qemu-img check logs.vmdk
            qemu-img compare -f vmdk -F raw data.vmdk ../data.img
            qemu-img compare -f vmdk -F qcow2 logs.vmdk ../logs.qcow2
            cmp tools.iso ../tools.iso
            xmllint --noout --nonet --schema \(Self.schema) out.ovf
            grep -c 'ovf:id="rootfile"' out.ovf
            """
        let check = try run(["bash", "-c", script])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("Verified OK") && check.output.components(separatedBy: "Images are identical.").count == 3)
        let verify = try run([stampBinary, "verify", s.file("out.ova")])
        #expect(verify.status == 0, "\(verify.output)")
    }

    /// `stamp inspect` lists an OVA's members, disks and OVF summary; `stamp convert` takes its
    /// first disk, or the one `--disk` names.
    @Test func inspectAndConvertAnOVA() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        #expect(try s.compose(["-i", "images.yaml", "-o", "out.ova", "-q"]).status == 0)
        let inspect = try run([stampBinary, "inspect", s.file("out.ova")])
        #expect(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.stdout.contains("ova, 5 members, 2 disk(s)"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("name converted") && inspect.stdout.contains("memory 512 MiB"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("disk 2: logs.vmdk: vmdk (streamOptimized), virtual size"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("(6291456 bytes)"), "\(inspect.stdout)")
        let json = try run([stampBinary, "inspect", "--json", s.file("out.ova")])
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((document?["disks"] as? [Any])?.count == 2, "\(json.output)")
        for (disk, source, format) in [("1", "data.img", "raw"), ("2", "logs.qcow2", "qcow2")] {
            let out = s.file("disk\(disk).qcow2")
            let convert = try run([stampBinary, "convert", s.file("out.ova"), "-O", "qcow2", out, "--disk", disk])
            #expect(convert.status == 0, "\(convert.output)")
            let compare = try run(["qemu-img", "compare", "-f", "qcow2", "-F", format, out, s.file(source)])
            #expect(compare.status == 0, "\(compare.output)")
        }
        let first = try run([stampBinary, "convert", s.file("out.ova"), "-O", "raw", s.file("first.raw")])
        let same = try sh("cmp \(s.file("first.raw")) \(s.file("data.img"))")
        #expect(first.status == 0 && same.status == 0, "\(first.output) \(same.output)")
        let none = try run([stampBinary, "convert", s.file("out.ova"), "-O", "raw", s.file("none.raw"), "--disk", "3"])
        #expect(none.status != 0 && none.stderr.split(separator: "\n").count == 1, "\(none.output)")
    }

    /// Disk images that point at other files are refused in one line, and nothing is written.
    @Test func disksPointingElsewhereAreRefused() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let setup = """
            set -e
            cd \(s.dir.path)
            qemu-img create -q -f qcow2 -b logs.qcow2 -F qcow2 overlay.qcow2
            qemu-img create -q -f qcow2 -o data_file=external.raw datafile.qcow2 4M
            qemu-img create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 4M
            qemu-img create -q -f vmdk -o subformat=monolithicSparse sparse.vmdk 4M
            qemu-img create -q -f vmdk -b sparse.vmdk -F vmdk delta.vmdk
            """
        #expect(try sh(setup).status == 0)
        let cases = [
            ("overlay.qcow2", "backing file"), ("datafile.qcow2", "external data file"), ("flat.vmdk", "VMDK descriptor file"),
            ("delta.vmdk", "delta disk"),
        ]
        for (image, words) in cases {
            let yaml = try String(contentsOfFile: s.file("images.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "disk_image: logs.qcow2", with: "disk_image: \(image)")
            try yaml.write(toFile: s.file("bad.yaml"), atomically: true, encoding: .utf8)
            let r = try s.compose(["-i", "bad.yaml", "-o", "bad.ova", "-q"])
            #expect(r.status == 1, "\(image): \(r.output)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(words), "\(image): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: s.file("bad.ova")))
        }
        #expect(try sh("ls -A \(s.dir.path) | grep -c stamp-").stdout.hasPrefix("0"), "no temporary file left")
    }

    /// -f ovf with -m (the manifest in the current directory, converted disks beside the
    /// .ovf), -f dir (links to the files used as they are), --sign-script and its fields, and
    /// the `ova-compose` name.
    @Test func ovfAndDirectoryOutputsAndASignScript() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        try FileManager.default.createDirectory(atPath: s.file("out"), withIntermediateDirectories: true)
        let capture = """
            #!/bin/sh
            printf '%s\\n' "$@" > \(s.file("fields.txt"))
            openssl dgst -"$3" -sign "$5" -out sig.bin "$2"
            printf '%s(%s)= %s\\n' "$(echo "$3" | tr a-z A-Z)" "$2" "$(od -An -v -tx1 sig.bin | tr -d ' \\n')" > "$4"
            sed -n '/BEGIN CERT/,/END CERT/p' "$5" >> "$4"
            """
        try capture.write(toFile: s.file("sign.sh"), atomically: true, encoding: .utf8)
        #expect(try sh("chmod +x \(s.file("sign.sh"))").status == 0)
        let ovf = try s.compose([
            "-i", "images.yaml", "-o", s.file("out/images.ovf"), "-m", "--sign-script",
            "\(s.file("sign.sh")) {ovf_file} {mf_file} {sign_alg} {cert_file} {keyfile}", "--sign", "key.pem", "-q",
        ])
        #expect(ovf.status == 0, "\(ovf.output)")
        let fields = try String(contentsOfFile: s.file("fields.txt"), encoding: .utf8).split(separator: "\n")
        #expect(
            fields == [
                "\(s.file("out/images.ovf"))", "images.mf", "sha256", "\(s.file("out/images.cert"))", "\(s.file("key.pem"))",
            ])
        let listing = try sh("cd \(s.dir.path) && ls out && cat images.mf")
        #expect(listing.stdout.contains("data.vmdk") && listing.stdout.contains("images.cert"), "\(listing.output)")
        #expect(
            listing.stdout.contains("SHA256(images.ovf)= ") && listing.stdout.contains("SHA256(tools.iso)= "), "\(listing.output)"
        )
        let dir = try s.compose(
            ["-i", "appliance.yaml", "-o", "pkg", "-f", "dir", "-s", "key.pem"],
            program: [
                (stampBinary as NSString).deletingLastPathComponent + "/ova-compose"
            ])
        #expect(dir.status == 0, "\(dir.output)")
        let contents = try sh(
            "cd \(s.file("pkg")) && ls && readlink base.vmdk && sha256sum -c --strict <(sed -E 's/^SHA256\\((.*)\\)= (.*)$/\\2  \\1/' pkg.mf)"
        )
        #expect(contents.status == 0, "\(contents.output)")
        #expect(contents.stdout.contains("pkg.cert") && contents.stdout.contains("/base.vmdk\n"), "\(contents.output)")
        let again = try s.compose(["-i", "appliance.yaml", "-o", "pkg", "-f", "dir"])
        #expect(again.status == 1 && again.stderr.contains("already exists"), "\(again.output)")
    }

    /// The command line: -h, a bad checksum type, a missing input, an unknown option.
    @Test func commandLine() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let help = try s.compose(["-h"])
        #expect(help.status == 0 && help.stdout.contains("--checksum-type"), "\(help.output)")
        for (words, status) in [
            (["-i", "appliance.yaml", "-o", "x.ovf", "-m", "--checksum-type", "foobar"], Int32(2)),
            (["-o", "x.ova"], 2), (["-i", "appliance.yaml", "-o", "x.ova", "--bogus"], 2),
            (["-i", "appliance.yaml", "-o", "x"], 2), (["-i", "missing.yaml", "-o", "x.ova"], 1),
        ] {
            let r = try s.compose(words)
            #expect(r.status == status && r.stderr.split(separator: "\n").count == 1, "\(words): \(r.output)")
        }
        let accepted = try s.compose([
            "--input-file=appliance.yaml", "--output-file", "y.ova", "--vmdk-convert", "/nonexistent", "--tar-format", "posix",
            "-q",
        ])
        #expect(accepted.status == 0, "\(accepted.output)")
    }
}
