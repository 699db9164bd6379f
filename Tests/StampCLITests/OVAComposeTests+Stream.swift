import Foundation
import Testing

import StampTestSupport

/// `-f ova` writes each converted disk straight into its member (no staged copy), and
/// `--tar-format` picks the tar dialect ova-compose hands GNU tar.
extension OVAComposeTests {
    /// A 48 MiB disk of random data (it does not compress) converted into the OVA: TMPDIR
    /// never holds more than a few KiB while it runs, the working directory never more than
    /// the OVA itself, nothing staged remains, and the package is right: tar's listing, each
    /// disk member against its source (qemu-img), the manifest (sha256sum), `stamp verify`,
    /// and the same descriptor `-f ovf` writes for the same disks.
    @Test func disksAreConvertedIntoTheArchive() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let setup = """
            set -e
            cd \(s.dir.path)
            head -c 50331648 /dev/urandom > big.img
            sed 's/raw_image: data.img/disk_image: big.img/' images.yaml > big.yaml
            mkdir tmp ovf
            """
        #expect(try sh(setup).status == 0)
        let watch = """
            cd \(s.dir.path)
            before=$(du -sb --apparent-size --exclude=tmp . | cut -f1)
            TMPDIR=\(s.file("tmp")) SOURCE_DATE_EPOCH=0 TZ=UTC '\(stampBinary)' ova-compose -i big.yaml -o big.ova -q &
            pid=$!
            tmp=0; extra=0
            while kill -0 $pid 2>/dev/null; do
                t=$(du -sb --apparent-size tmp 2>/dev/null | cut -f1); [ "${t:-0}" -gt $tmp ] && tmp=$t
                e=$(( $(du -sb --apparent-size --exclude=tmp . 2>/dev/null | cut -f1) - before )); [ $e -gt $extra ] && extra=$e
                sleep 0.02
            done
            wait $pid; status=$?
            echo "status=$status tmp=$tmp extra=$extra ova=$(stat -c %s big.ova)"
            """
        let r = try sh(watch)
        let fields = Dictionary(
            r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { word -> (String, Int)? in
                let parts = word.split(separator: "=")
                guard parts.count == 2, let n = Int(parts[1]) else { return nil }
                return (String(parts[0]), n)
            }, uniquingKeysWith: { $1 })
        #expect(fields["status"] == 0, "\(r.output)")
        #expect((fields["tmp"] ?? .max) < 64 << 10, "TMPDIR's high-water mark: \(r.output)")
        #expect((fields["extra"] ?? .max) <= (fields["ova"] ?? 0) + (1 << 20), "the directory's high-water mark: \(r.output)")
        #expect(try sh("ls -A \(s.file("tmp")); ls -A \(s.dir.path) | grep -e stamp- -e staged").stdout.isEmpty)
        let check = """
            set -e
            cd \(s.dir.path) && tar --list --verbose --file big.ova && mkdir x && cd x && tar xf ../big.ova
            sha256sum -c --strict <(sed -E 's/^SHA256\\((.*)\\)= (.*)$/\\2  \\1/' big.mf)
            qemu-img check -f vmdk big.vmdk && qemu-img check -f vmdk logs.vmdk
            qemu-img compare -f vmdk -F raw big.vmdk ../big.img
            qemu-img compare -f vmdk -F qcow2 logs.vmdk ../logs.qcow2
            cmp tools.iso ../tools.iso
            xmllint --noout --nonet --schema \(Self.schema) big.ovf
            """
        let checked = try run(["bash", "-c", check])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.components(separatedBy: "Images are identical.").count == 3, "\(checked.output)")
        let names = checked.stdout.split(separator: "\n").prefix(5).map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(names == ["big.ovf", "big.mf", "big.vmdk", "logs.vmdk", "tools.iso"], "\(checked.output)")
        let verify = try run([stampBinary, "verify", s.file("big.ova")])
        #expect(verify.status == 0, "\(verify.output)")
        // The same descriptor as -f ovf's, whose disks are files (sizes and populated sizes
        // read back from them).
        let ovf = try s.compose(["-i", "big.yaml", "-o", "ovf/big.ovf", "-q"])
        #expect(ovf.status == 0, "\(ovf.output)")
        let same = try sh("cmp \(s.file("x/big.ovf")) \(s.file("ovf/big.ovf"))")
        #expect(same.status == 0, "\(same.output)")
    }

    /// `--tar-format`: gnu (ova-compose's default: magic "ustar  \0"), posix (a pax extended
    /// header before every member, as GNU tar `--format=posix` writes), and ustar; GNU tar and
    /// Python's tarfile read each, and `stamp verify` and `stamp inspect` accept each.
    @Test(arguments: [("", "b'ustar  \\x00' None"), ("posix", "b'ustar\\x0000' 0"), ("ustar", "b'ustar\\x0000' None")])
    func tarFormats(format: String, expected: String) throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let extra = format.isEmpty ? [] : ["--tar-format", format]
        let r = try s.compose(["-i", "images.yaml", "-o", "out.ova", "-q", "-s", "key.pem"] + extra)
        #expect(r.status == 0, "\(r.output)")
        let list = try run(["tar", "--list", "--verbose", "--file", s.file("out.ova")])
        #expect(list.status == 0, "\(list.output)")
        let names = list.stdout.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(names == ["out.ovf", "out.mf", "data.vmdk", "logs.vmdk", "tools.iso", "out.cert"], "\(list.output)")
        let script = """
            import sys, tarfile
            raw = open(sys.argv[1], "rb").read()
            headers = 0
            for m in tarfile.open(sys.argv[1]).getmembers():
                print(m.name, raw[m.offset + 257:m.offset + 265], m.pax_headers.get("mtime", None) and 0, m.uname, oct(m.mode))
            # every header block of the archive, pax extended ones included
            offset = 0
            while raw[offset:offset + 512].strip(b"\\0"):
                h = raw[offset:offset + 512]
                size = int(h[124:136].strip(b"\\0 ") or b"0", 8)
                print("header", chr(h[156]), h[257:265])
                offset += 512 + (size + 511) // 512 * 512
            """
        let py = try run(["python3", "-c", script, s.file("out.ova")])
        #expect(py.status == 0, "\(py.output)")
        let lines = py.stdout.split(separator: "\n")
        let members = lines.filter { !$0.hasPrefix("header ") }
        let headers = lines.filter { $0.hasPrefix("header ") }
        #expect(members.count == 6, "\(py.output)")
        for line in members { #expect(line.hasSuffix("\(expected) root 0o644"), "\(line)") }
        let paxHeaders = headers.filter { $0.hasPrefix("header x ") }.count
        #expect(paxHeaders == (format == "posix" ? 6 : 0), "\(py.output)")
        #expect(headers.count == 6 + paxHeaders, "\(py.output)")
        let verify = try run([stampBinary, "verify", s.file("out.ova")])
        #expect(verify.status == 0, "\(verify.output)")
        let inspect = try run([stampBinary, "inspect", s.file("out.ova")])
        #expect(inspect.status == 0 && inspect.stdout.contains("ova, 6 members, 2 disk(s)"), "\(inspect.output)")
        let bad = try s.compose(["-i", "images.yaml", "-o", "bad.ova", "--tar-format", "v7"])
        #expect(bad.status == 2 && bad.stderr.split(separator: "\n").count == 1, "\(bad.output)")
    }

    /// stamp's `directory` key in an OVA: the ext4 of the tree is written straight into its
    /// member; e2fsck finds it clean and debugfs reads the file back.
    @Test(.enabled(if: ["e2fsck", "debugfs"].allSatisfy(toolAvailable)))
    func directoryDiskIntoTheArchive() throws {
        let s = try Scene()
        defer { s.dir.cleanup() }
        let setup = """
            set -e
            cd \(s.dir.path)
            mkdir -p tree/etc && echo hello > tree/etc/motd
            sed 's/raw_image: data.img/directory: tree/' images.yaml > tree.yaml
            """
        #expect(try sh(setup).status == 0)
        let r = try s.compose(["-i", "tree.yaml", "-o", "tree.ova", "-q", "--tar-format", "posix"])
        #expect(r.status == 0, "\(r.output)")
        let verify = try run([stampBinary, "verify", s.file("tree.ova")])
        #expect(verify.status == 0, "\(verify.output)")
        let check = """
            set -e
            cd \(s.dir.path) && mkdir x && cd x && tar xf ../tree.ova
            qemu-img check -f vmdk root.vmdk
            qemu-img convert -f vmdk -O raw root.vmdk root.raw
            e2fsck -fn root.raw
            debugfs -R 'cat /etc/motd' root.raw
            """
        let checked = try run(["bash", "-c", check])
        #expect(checked.status == 0 && checked.stdout.contains("hello"), "\(checked.output)")
    }
}
