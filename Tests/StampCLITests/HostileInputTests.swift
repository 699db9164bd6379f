import Foundation
import Testing

import StampTestSupport

/// Hostile files given to `stamp verify`, `stamp convert` and `stamp inspect` (issue 18,
/// item 9): one line naming the problem, a non-zero exit, never a trap, nothing replaced.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stampBinary) && toolAvailable("python3")))
struct HostileInputTests {
    /// Writes an OVA whose members are named as given (the first two being the .ovf and the
    /// .mf that lists every member with its true SHA256), with Python's tarfile.
    static func ova(_ path: String, names: [String]) throws {
        let script = """
            import hashlib, io, sys, tarfile
            path, names = sys.argv[1], sys.argv[2:]
            refs = "".join(f'<File ovf:href="{n}" ovf:id="f{i}"/>' for i, n in enumerate(names))
            data = {names[0]: f'<Envelope><References>{refs}</References></Envelope>'.encode()}
            for n in names[1:]:
                data[n] = b"payload " + n.encode()
            mf = "".join(f"SHA256({n})= {hashlib.sha256(d).hexdigest()}\\n" for n, d in data.items()).encode()
            with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
                for n, d in [(names[0], data[names[0]]), ("x.mf", mf)] + [(n, data[n]) for n in names[1:]]:
                    ti = tarfile.TarInfo(n)
                    ti.size = len(d)
                    t.addfile(ti, io.BytesIO(d))
            """
        let r = try run(["python3", "-c", script, path] + names)
        try #require(r.status == 0, "\(r.output)")
    }

    /// Members named `../../x` or `/etc/cron.d/x` (listed in the manifest with true digests,
    /// as a crafted OVA would) are refused by name.
    @Test(arguments: ["../../x", "/etc/cron.d/x", "sub/x"]) func verifyRefusesMembersThatAreNotPlainNames(_ name: String) throws {
        let dir = try TemporaryDirectory("verify-names")
        try Self.ova(dir.file("a.ova"), names: ["x.ovf", name])
        let r = try run([stampBinary, "verify", dir.file("a.ova")])
        #expect(r.status != 0 && r.status < 128, "\(r.output)")
        #expect(r.stderr.contains("\(name): not a plain file name"), "\(r.output)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.output)")
    }

    /// A ustar header whose base-256 size field says 2^64-1: a clear line, not a trap
    /// (exit 132 before: the offset arithmetic overflowed).
    @Test func verifyDoesNotTrapOnAHugeBinarySize() throws {
        let dir = try TemporaryDirectory("verify-size")
        let file = dir.file("huge.ova")
        let script = """
            import sys
            h = bytearray(512)
            h[0:5] = b"x.ovf"
            h[100:108] = b"0000644\\0"; h[108:116] = b"0000000\\0"; h[116:124] = b"0000000\\0"
            h[124:136] = b"\\x80" + b"\\xff" * 11
            h[136:148] = b"00000000000\\0"; h[156:157] = b"0"; h[257:263] = b"ustar\\0"; h[263:265] = b"00"
            h[148:156] = b" " * 8
            h[148:156] = ("%06o\\0 " % sum(h)).encode()
            open(sys.argv[1], "wb").write(bytes(h) + bytes(1536))
            """
        let made = try run(["python3", "-c", script, file])
        try #require(made.status == 0, "\(made.output)")
        let r = try run([stampBinary, "verify", file])
        #expect(r.status != 0 && r.status < 128, "exit \(r.status): \(r.output)")
        #expect(r.stderr.contains("x.ovf: truncated: the archive ends inside it"), "\(r.output)")
    }

    /// `stamp convert IN -O raw OUT` where OUT is a FIFO or a character device: refused in
    /// one line, and OUT is still what it was (it used to be unlinked and replaced by a
    /// regular file: a device node gone).
    @Test(arguments: ["fifo", "chardev"]) func convertNeverReplacesADeviceNodeOrFIFO(_ kind: String) throws {
        if kind == "chardev" && !isRoot { return }
        let dir = try TemporaryDirectory("convert-device")
        let made = try sh(
            """
            cd '\(dir.path)' && head -c 1048576 /dev/zero > in.raw
            \(kind == "fifo" ? "mkfifo out" : "mknod out c 1 3")
            """)
        try #require(made.status == 0, "\(made.output)")
        let r = try run([stampBinary, "convert", dir.file("in.raw"), "-O", "raw", dir.file("out")])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.stderr.contains("out: output is a \(kind == "fifo" ? "FIFO" : "character device")"), "\(r.output)")
        var st = stat()
        #expect(
            lstat(dir.file("out"), &st) == 0 && (st.st_mode & S_IFMT) == (kind == "fifo" ? S_IFIFO : S_IFCHR),
            "the output node was replaced")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["in.raw", "out"])
    }

    /// `stamp inspect` of a qcow2 whose reader fails midway (an L2 table past the end of the
    /// file): one line, and nothing left in TMPDIR (a `.stamp-inspect-*` was left before).
    @Test func inspectLeavesNoScratchOnAReaderError() throws {
        let dir = try TemporaryDirectory("inspect-error")
        let bomb = repositoryRoot + "/Fuzz/corpus/qcow2/hostile-one-compressed-cluster-8192x.qcow2"
        let made = try sh("cd '\(dir.path)' && mkdir tmp && head -c 300000 '\(bomb)' > cut.qcow2")
        try #require(made.status == 0, "\(made.output)")
        let r = try run(
            [stampBinary, "inspect", dir.file("cut.qcow2")], environment: ["TMPDIR": dir.file("tmp"), "PATH": "/usr/bin:/bin"])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("cut.qcow2"), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
    }

    /// A 20 TiB qcow2 (more than an ext4 file can be): inspected without a scratch file of
    /// its virtual size (TMPDIR on the checkout's filesystem, ext4 here, where that failed).
    @Test(.enabled(if: toolAvailable("qemu-img"))) func inspectReadsA20TiBImage() throws {
        let dir = try TemporaryDirectory("inspect-20t", in: repositoryRoot + "/.build")
        let made = try sh("cd '\(dir.path)' && mkdir tmp && qemu-img create -q -f qcow2 big.qcow2 20T")
        try #require(made.status == 0, "\(made.output)")
        let r = try run(
            [stampBinary, "inspect", dir.file("big.qcow2"), "--json"],
            environment: ["TMPDIR": dir.file("tmp"), "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("21990232555520"), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("tmp")).isEmpty)
    }

    /// The qcow2 bomb (every cluster one compressed cluster) is refused quickly by `inspect`.
    @Test func inspectRefusesTheCompressedClusterBomb() throws {
        let bomb = repositoryRoot + "/Fuzz/corpus/qcow2/hostile-one-compressed-cluster-8192x.qcow2"
        let started = Date()
        let r = try run([stampBinary, "inspect", bomb])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.stderr.contains("bytes of data per byte of the file"), "\(r.output)")
        #expect(Date().timeIntervalSince(started) < 60)
    }
}
