#!/usr/bin/env python3
"""oci_fixture.py OUT_LAYOUT CASE [--tag TAG] [--docker-archive FILE] [--index] [--zstd] [--link-target PATH]
                 [--declare-size N] [--junk-member N]

Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) holding one image whose
layers are crafted here with Python's tarfile (pax headers: ns mtimes and atimes, xattrs), so
that layer semantics are exercised exactly, independently of stamp. With --docker-archive,
the same image is also written as a `docker save` tarball (manifest.json, <hex>.json,
<n>/layer.tar). With --index, index.json points at an image index offering arm64 and amd64
(the arm64 image has one more layer: etc/platform, "arm64").

CASE:
  semantics       three layers (gzip, gzip or with --zstd zstd (umoci 0.4.7 cannot read zstd), plain tar): whiteouts, opaque dirs, hard links
                  within and across layers, replaced directories, a dir replaced by a file and
                  a file by a dir, xattrs (security.capability, user.*), owners, setuid,
                  fifo, char device, symlinks, ns times, a dir changed without being listed
  traversal       a member named "../escaped"
  absolute        a member named "/escaped"
  symlink-escape  layer 1 has "esc -> /tmp", layer 2 writes "esc/pwned"
  hardlink-escape "esc -> /etc", then a hard link "stolen" to "esc/passwd" (the host's file)
  absurd-size     the manifest declares a layer of 2**62 bytes
  gzip-corrupt    a gzip layer whose deflate data is damaged (its digest is the damaged blob's)
  gzip-truncated  a gzip layer cut in the middle (digest of the cut blob)
  gzip-trailing   a gzip layer followed by bytes that start no gzip member
  gzip-not-tar    a valid gzip layer whose content is random bytes, not a tar
  gzip-traversal  a gzip layer whose first member is "../escaped", then 24 MiB of files (the
                  inflating thread is still running, its ring full, when the member is refused)
  whiteout-dotdot layer 1 has "keep", layer 2 the whiteout ".wh..." (it would hide "..")
  whiteout-dot    ... the whiteout ".wh.." (it would hide ".", the root)
  whiteout-empty  ... the whiteout "keep/.wh." (it would hide "keep/" itself)
  opaque-missing  one layer: "ghost/.wh..wh..opq" for a directory no layer has, then "f"
                  (not hostile: it hides nothing, as in umoci and containerd)
  dir-fixup-escape  one layer: "a/" (dir), "a/x/" (dir, mode 0777, mtime 1999-01-01), then
                  "a" as a symlink to --link-target: the directory fix-ups of "a/x" must not
                  land on LINK_TARGET/x
  deep            one layer: a file 2,100 directories deep ("d/d/…/d/f")
  zstd-bomb       one zstd layer holding a 96 MiB file of zeros (a few KB compressed)
  gzip-members    the semantics layers, each gzip one written as two members (as pigz or
                  `cat a.gz b.gz` do); unpacks like "semantics"
  model           four layers for the tree model built straight from layers: a hard link
                  whose first name a later layer whites out (and a third name linked to the
                  survivor), a directory replaced three times (dir, file, symlink, dir), block
                  and char devices, a fifo, xattrs on a path that is whited out and re-created
                  without them, an opaque dir, systemd's journal ACLs as umoci stores them
                  (SCHILY.xattr.system.posix_acl_access/_default, the kernel's binary form),
                  shadow 0:42, ping's capability, and files of 5 MiB and 2 MiB of random bytes
--declare-size N makes the manifest declare N bytes for the first layer (its blob unchanged);
--junk-member N adds to the docker archive a member "junk.bin" of N zero bytes that nothing
references.
Prints the manifest digest.
"""
import argparse, gzip, hashlib, io, json, os, struct, subprocess, sys, tarfile

T0 = 1700000000
ZSTD = "--zstd" in sys.argv
MEMBERS = "gzip-members" in sys.argv
LINK_TARGET = sys.argv[sys.argv.index("--link-target") + 1] if "--link-target" in sys.argv else "/tmp/stamp-host-dir"


def member(tf, name, kind="file", data=b"", mode=None, uid=0, gid=0, mtime=None, atime=None, xattrs=None,
           link=None, dev=None):
    ti = tarfile.TarInfo(name)
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = T0
    ti.pax_headers = {}
    if mtime is not None:
        ti.mtime = int(mtime.split(".")[0])
        ti.pax_headers["mtime"] = mtime
    if atime is not None:
        ti.pax_headers["atime"] = atime
    for k, v in (xattrs or {}).items():
        ti.pax_headers["SCHILY.xattr." + k] = v.decode("utf-8", "surrogateescape")
    if kind == "file":
        ti.type, ti.size, ti.mode = tarfile.REGTYPE, len(data), 0o644 if mode is None else mode
        tf.addfile(ti, io.BytesIO(data))
        return
    ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
               "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}[kind]
    ti.mode = {"dir": 0o755, "symlink": 0o777}.get(kind, 0o644) if mode is None else mode
    if link is not None:
        ti.linkname = link
    if dev is not None:
        ti.devmajor, ti.devminor = dev
    tf.addfile(ti)


def layer(build):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        build(tf)
    return buf.getvalue()


CAP_NET_RAW = bytes([1, 0, 0, 2, 0, 0x20, 0, 0] + [0] * 12)


def semantics():
    def l0(tf):
        member(tf, "./", "dir", mtime=f"{T0}.5")
        for d in ["etc", "bin", "data", "gone", "gone/deep", "opq", "opq/sub", "repl", "usr", "usr/lib", "run", "dev", "keep"]:
            member(tf, d + "/", "dir", mtime=f"{T0 + 1}.123456789")
        member(tf, "etc/hostname", data=b"base\n", mtime=f"{T0 + 2}.000000001", atime=f"{T0 + 3}.999999999")
        member(tf, "etc/removed", data=b"bye\n")
        member(tf, "bin/ping", data=b"\x7fELF ping\n", mode=0o4755, xattrs={"security.capability": CAP_NET_RAW,
                                                                          "user.comment": b"pinger"})
        member(tf, "data/a.txt", data=b"shared by three names\n", uid=1000, gid=1000, mode=0o640)
        member(tf, "data/hard", "hardlink", link="data/a.txt")
        member(tf, "gone/x", data=b"x")
        member(tf, "gone/deep/y", data=b"y")
        member(tf, "opq/old1", data=b"old")
        member(tf, "opq/sub/old2", data=b"old")
        member(tf, "repl/child", data=b"child")
        member(tf, "file2dir", data=b"was a file")
        member(tf, "usr/lib/libx.so", data=b"lib v1")
        member(tf, "lib", "symlink", link="usr/lib")
        member(tf, "run/fifo", "fifo", mode=0o600)
        member(tf, "dev/null2", "chr", mode=0o666, dev=(1, 3))
        member(tf, "keep/unchanged", data=b"same", mtime=f"{T0 + 7}.7")

    def l1(tf):
        member(tf, ".wh.gone")
        member(tf, "opq/", "dir", mode=0o750, mtime=f"{T0 + 20}.2")
        member(tf, "opq/.wh..wh..opq")
        member(tf, "opq/new1", data=b"new")
        member(tf, ".wh.repl")
        member(tf, "repl", data=b"now a file\n", mode=0o600)
        member(tf, "file2dir/", "dir", mode=0o700)
        member(tf, "file2dir/inside", data=b"inside")
        member(tf, "data/", "dir", mtime=f"{T0 + 21}.21")
        member(tf, "data/cross", "hardlink", link="data/a.txt")
        member(tf, "etc/", "dir", mtime=f"{T0 + 22}.22")
        member(tf, "etc/.wh.removed")
        member(tf, "etc/hostname", data=b"upper\n", mtime=f"{T0 + 23}.230000000")

    def l2(tf):
        member(tf, "usr/lib/libx.so", data=b"lib v2, longer", xattrs={"user.version": b"2"})
        member(tf, "keep/added", data=b"added without listing keep/")
        member(tf, "bin/sh", "symlink", link="/bin/busybox")

    return [("gzip", layer(l0)), ("zstd" if ZSTD else "gzip", layer(l1)), ("tar", layer(l2))]


def acl(entries):
    """A POSIX ACL in the kernel's xattr form: version 2, then (tag, perm, id) per entry."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)


def noise(seed, size):
    """`size` deterministic pseudo-random bytes (incompressible, so the blobs stay large)."""
    out, block = bytearray(), hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def model():
    none = 0xFFFFFFFF
    journal = acl([(0x01, 7, none), (0x04, 5, none), (0x08, 5, 4), (0x10, 5, none), (0x20, 5, none)])

    def l0(tf):
        member(tf, "./", "dir", mtime=f"{T0}.5")
        for d in ["base", "swap", "devs", "wh", "opq", "opq/lowerdir", "var", "var/log", "big", "etc", "usr", "usr/bin"]:
            member(tf, d + "/", "dir", mtime=f"{T0 + 1}.111111111")
        member(tf, "var/log/journal/", "dir", mode=0o2755, uid=0, gid=101, mtime=f"{T0 + 2}.2",
               xattrs={"system.posix_acl_access": journal, "system.posix_acl_default": journal})
        member(tf, "base/target", data=b"linked, then whited out by name\n", uid=1000, gid=1000, mode=0o640,
               mtime=f"{T0 + 3}.333333333", xattrs={"user.origin": b"layer0"})
        member(tf, "base/link", "hardlink", link="base/target")
        member(tf, "swap/", "dir", mode=0o755)
        member(tf, "swap/a", data=b"under the first swap dir")
        member(tf, "devs/sda", "blk", mode=0o660, gid=6, dev=(8, 0))
        member(tf, "devs/tty1", "chr", mode=0o620, gid=5, dev=(4, 1))
        member(tf, "wh/file", data=b"old", xattrs={"user.tag": b"hidden later",
                                                   "security.capability": CAP_NET_RAW})
        member(tf, "opq/lower1", data=b"lower")
        member(tf, "opq/lowerdir/x", data=b"lower x")
        member(tf, "usr/bin/ping", data=b"\x7fELF ping\n", mode=0o755, xattrs={"security.capability": CAP_NET_RAW})
        member(tf, "big/first", data=noise("first", (5 << 20) + 123), mtime=f"{T0 + 4}.4")

    def l1(tf):
        member(tf, "base/.wh.target")
        member(tf, ".wh.swap")
        member(tf, "swap", data=b"swap is a file now\n", mode=0o600, mtime=f"{T0 + 10}.1")
        member(tf, "wh/.wh.file")
        member(tf, "opq/.wh..wh..opq")
        member(tf, "opq/upper1", data=b"upper")
        member(tf, "big/second", data=noise("second", 2 << 20), uid=33, gid=33)

    def l2(tf):
        member(tf, "base/link2", "hardlink", link="base/link")
        member(tf, "swap", "symlink", link="base")
        member(tf, "wh/file", data=b"re-created without xattrs", mtime=f"{T0 + 20}.000000002")
        member(tf, "etc/shadow", data=b"root:*:19000:0:99999:7:::\n", mode=0o640, gid=42)

    def l3(tf):
        member(tf, "swap/", "dir", mode=0o710, uid=5, gid=6, mtime=f"{T0 + 30}.3")
        member(tf, "swap/c", data=b"the fourth swap")
        member(tf, "run/", "dir", mtime=f"{T0 + 31}.31")
        member(tf, "run/initctl", "fifo", mode=0o600)
        member(tf, "small", data=b"")

    return [("gzip", layer(l0)), ("gzip", layer(l1)), ("tar", layer(l2)), ("gzip", layer(l3))]


def hostile(case):
    if case == "traversal":
        return [("tar", layer(lambda tf: (member(tf, "ok", data=b"ok"), member(tf, "../escaped", data=b"out"))))]
    if case == "absolute":
        return [("tar", layer(lambda tf: member(tf, "/escaped", data=b"out")))]
    if case == "symlink-escape":
        return [("tar", layer(lambda tf: member(tf, "esc", "symlink", link="/tmp"))),
                ("tar", layer(lambda tf: member(tf, "esc/pwned", data=b"out")))]
    if case == "hardlink-escape":
        return [("tar", layer(lambda tf: (member(tf, "esc", "symlink", link="/etc"),
                                          member(tf, "stolen", "hardlink", link="esc/passwd"))))]
    if case.startswith("whiteout-"):
        name = {"whiteout-dotdot": ".wh...", "whiteout-dot": ".wh..", "whiteout-empty": "keep/.wh."}[case]
        return [("tar", layer(lambda tf: (member(tf, "keep", "dir"), member(tf, "keep/f", data=b"kept")))),
                ("tar", layer(lambda tf: member(tf, name)))]
    if case == "opaque-missing":
        return [("tar", layer(lambda tf: (member(tf, "ghost/.wh..wh..opq"), member(tf, "f", data=b"f"))))]
    if case == "dir-fixup-escape":
        def build(tf):
            member(tf, "a/", "dir")
            member(tf, "a/x/", "dir", mode=0o777, mtime="915148800.5")
            member(tf, "a", "symlink", link=LINK_TARGET)
        return [("tar", layer(build))]
    if case == "deep":
        return [("tar", layer(lambda tf: member(tf, "d/" * 2100 + "f", data=b"deep")))]
    if case == "zstd-bomb":
        return [("zstd", layer(lambda tf: member(tf, "zeros", data=bytes(96 << 20))))]
    if case == "gzip-traversal":
        def build(tf):
            member(tf, "../escaped", data=b"out")
            for i in range(24):
                member(tf, f"big{i}", data=bytes(range(256)) * 4096)
        return [("gzip", layer(build))]
    if case == "gzip-not-tar":
        return [("as-is-gzip", gzip.compress(bytes((i * 7919 + 13) % 251 for i in range(50000)), mtime=0))]
    if case.startswith("gzip-") and case != "gzip-members":
        body = layer(lambda tf: [member(tf, f"f{i}", data=bytes(range(256)) * 64 + bytes([i])) for i in range(40)])
        data = gzip.compress(body, mtime=0)
        if case == "gzip-corrupt":
            data = data[:200] + bytes(b ^ 0x5A for b in data[200:260]) + data[260:]
        elif case == "gzip-truncated":
            data = data[:len(data) // 2]
        else:
            data = data + b"trailing garbage"
        return [("as-is-gzip", data)]
    raise SystemExit("unknown case " + case)


def compress(kind, data):
    if kind == "gzip" and MEMBERS:
        half = len(data) // 2
        return gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0), \
            "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "gzip":
        return gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "as-is-gzip":
        return data, "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout, \
            "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def put(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("case")
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--docker-archive")
    ap.add_argument("--index", action="store_true")
    ap.add_argument("--zstd", action="store_true")
    ap.add_argument("--link-target")
    ap.add_argument("--declare-size", type=int)
    ap.add_argument("--junk-member", type=int)
    a = ap.parse_args()
    layers = semantics() if a.case in ("semantics", "absurd-size", "gzip-members") else \
        model() if a.case == "model" else hostile(a.case)
    os.makedirs(os.path.join(a.layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(a.layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids = [], []
    for kind, raw in layers:
        blob, media = compress(kind, raw)
        d = put(a.layout, blob)
        d["mediaType"] = media
        descs.append(d)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    if a.case == "absurd-size":
        descs[0]["size"] = 2 ** 62
    if a.declare_size is not None:
        descs[0]["size"] = a.declare_size
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/sbin:/usr/bin", "STAMP_FIXTURE=1"], "Entrypoint": ["/bin/sh", "-c"],
                         "Cmd": ["echo hi"], "Labels": {"org.example.role": "node"}},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cbytes = json.dumps(config).encode()
    cd = put(a.layout, cbytes)
    cd["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cd, "layers": descs}
    md = put(a.layout, json.dumps(manifest).encode())
    md["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    top = dict(md)
    if a.index:
        # The arm64 entry is another manifest, whose config says arm64, with one more layer on
        # top: etc/platform holding "arm64".
        extra = layer(lambda tf: member(tf, "etc/platform", data=b"arm64\n"))
        xd = put(a.layout, extra)
        xd["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
        arm_config = dict(config, architecture="arm64",
                          rootfs={"type": "layers", "diff_ids": diff_ids + ["sha256:" + hashlib.sha256(extra).hexdigest()]})
        arm = put(a.layout, json.dumps(arm_config).encode())
        arm["mediaType"] = cd["mediaType"]
        other = put(a.layout, json.dumps(dict(manifest, config=arm, layers=descs + [xd])).encode())
        other["mediaType"] = md["mediaType"]
        other["platform"] = {"os": "linux", "architecture": "arm64"}
        md["platform"] = {"os": "linux", "architecture": "amd64"}
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [other, md]}
        top = put(a.layout, json.dumps(idx).encode())
        top["mediaType"] = "application/vnd.oci.image.index.v1+json"
    top["annotations"] = {"org.opencontainers.image.ref.name": a.tag}
    with open(os.path.join(a.layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    if a.docker_archive:
        with tarfile.open(a.docker_archive, "w", format=tarfile.PAX_FORMAT) as out:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mtime, ti.mode = len(data), T0, 0o644
                out.addfile(ti, io.BytesIO(data))
            names = []
            if a.junk_member:
                add("junk.bin", bytes(a.junk_member))
            for i, (_, raw) in enumerate(layers):
                names.append(f"{i}/layer.tar")
                add(names[-1], raw)
            chex = cd["digest"].split(":")[1]
            add(chex + ".json", cbytes)
            add("manifest.json", json.dumps([{"Config": chex + ".json", "RepoTags": ["fixture:" + a.tag],
                                              "Layers": names}]).encode())
    print(md["digest"])


main()
