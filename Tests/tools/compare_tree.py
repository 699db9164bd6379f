#!/usr/bin/env python3
"""compare_tree.py SRC IMAGE [--offset BYTES] [--ns] [--no-atime] [--ignore-root-times] [--crtime]
                [--source-date-epoch T] [-q]

Full comparison of a source directory tree with an ext4 image, without mounting it.
The image is read with dissect.extfs (PyPI, pure Python: an implementation independent of
e2fsprogs and of stamp) plus a small extent-tree walker of our own. IMAGE may also be
written `disk.img?offset=BYTES` (the libext2fs syntax) instead of using --offset.

For every entry of SRC (and every entry of the image) it checks:
  - presence: missing in the image / extra in the image (`lost+found` allowed at the root)
  - type (inode mode) and the directory entry's file_type byte agreeing with it
  - permission bits incl. setuid/setgid/sticky (not for symlinks), uid/gid (32-bit)
  - mtime and atime (clamped to T with --source-date-epoch T): whole seconds, or exact nanoseconds with --ns (ctime cannot be set on
    a source tree, so it is not compared); crtime against the source's statx btime with
    --crtime (the writer is then expected to copy birth times)
  - regular files: size, content (byte-for-byte, 1 MiB chunks, over the union of the
    source's data ranges and the image's mapped extents; outside that union both sides are
    holes so both read as zeros), and holes: a block that is a hole in the source must not
    be allocated in the image (source holes from SEEK_DATA/SEEK_HOLE)
  - symlink targets; char/block device numbers (old and new i_block encodings)
  - xattrs of all namespaces, values compared exactly (ext4 ACL format v1 converted to the
    VFS format v2 first; `system.data` ignored)
  - link counts: non-directories = number of names the inode has in SRC; directories =
    2 + subdirectories (or 1 past ext4's 65000 dir_nlink limit)
  - hard-link identity: names sharing a source inode share one image inode, and vice versa

Prints one line per difference, then `compare_tree: N entries, M differences`.
Exit status: 0 = identical, 1 = differences, 2 = usage or I/O error.
"""
import argparse
import bisect
import ctypes
import errno
import os
import stat
import struct
import sys

try:
    from dissect.extfs import ExtFS
except ImportError:  # pragma: no cover
    sys.exit("compare_tree: needs the PyPI package dissect.extfs (pip install dissect.extfs)")

CHUNK = 1 << 20
EXTENTS_FL = 0x80000
INLINE_DATA_FL = 0x10000000


class OffsetFile:
    """A read-only file object that shifts every offset by `base` (a partition in a disk)."""

    def __init__(self, fh, base):
        self.fh, self.base = fh, base
        fh.seek(base)

    def seek(self, pos, whence=0):
        if whence == 0:
            return self.fh.seek(self.base + pos) - self.base
        return self.fh.seek(pos, whence) - self.base

    def tell(self):
        return self.fh.tell() - self.base

    def read(self, n=-1):
        return self.fh.read(n)

    def readinto(self, b):
        return self.fh.readinto(b)


# ---- ext4 value decoding ------------------------------------------------------------

def acl_ext4_to_vfs(raw):
    """ext4 on-disk POSIX ACL (version 1, short entries) -> VFS xattr format (version 2)."""
    if len(raw) < 4 or struct.unpack_from('<I', raw)[0] != 1:
        return raw
    out, i = [struct.pack('<I', 2)], 4
    while i + 4 <= len(raw):
        tag, perm = struct.unpack_from('<HH', raw, i)
        if tag in (2, 8):  # ACL_USER, ACL_GROUP carry an id
            if i + 8 > len(raw):
                return raw
            xid = struct.unpack_from('<I', raw, i + 4)[0]
            i += 8
        else:
            xid = 0xFFFFFFFF
            i += 4
        out.append(struct.pack('<HHI', tag, perm, xid))
    return b''.join(out)


def s32(v):
    return v - (1 << 32) if v & 0x80000000 else v


def decode_time(sec, extra):
    """(seconds, nanoseconds) as the kernel decodes them: signed 32-bit seconds plus the
    two epoch bits of the *_extra field (ext4_decode_extra_time)."""
    return s32(sec) + ((extra & 3) << 32), extra >> 2


def img_time(ino, field, has_extra):
    sec = getattr(ino, 'i_' + field)
    extra = getattr(ino, 'i_' + field + '_extra') if has_extra else 0
    return decode_time(sec, extra)


def img_rdev(ino):
    old, new = struct.unpack_from('<II', bytes(ino.i_block), 0)
    if old:
        return (old >> 8) & 0xFF, old & 0xFF
    return (new & 0xFFF00) >> 8, (new & 0xFF) | ((new >> 12) & 0xFFF00)


def img_extents(fs, node):
    """Leaf extents of an extent-mapped inode: sorted list of (lblk, len, pblk, uninit)."""
    out = []
    bs = fs.block_size

    def walk(buf, depth_expected):
        magic, entries, _max, depth, _gen = struct.unpack_from('<HHHHI', buf, 0)
        if magic != 0xF30A:
            raise ValueError('bad extent header magic 0x%04x' % magic)
        if depth_expected is not None and depth != depth_expected:
            raise ValueError('extent depth %d where %d expected' % (depth, depth_expected))
        for k in range(entries):
            off = 12 + 12 * k
            if depth == 0:
                lblk, ln, hi, lo = struct.unpack_from('<IHHI', buf, off)
                uninit = ln > 32768
                out.append((lblk, ln - 32768 if uninit else ln, (hi << 32) | lo, uninit))
            else:
                _lblk, lo, hi = struct.unpack_from('<IIH', buf, off)
                fs.fh.seek(((hi << 32) | lo) * bs)
                walk(fs.fh.read(bs), depth - 1)

    walk(bytes(node.inode.i_block), None)
    out.sort()
    return out


def ranges_union(a, b):
    """Union of two lists of [start, end) byte ranges."""
    rs = sorted(a + b)
    out = []
    for s, e in rs:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


class ImageFile:
    """Reads a regular file of the image at arbitrary offsets through its extents."""

    def __init__(self, fs, node, extents):
        self.fs, self.node, self.ext = fs, node, extents
        self.starts = [e[0] for e in extents]

    def pread(self, n, off):
        bs = self.fs.block_size
        buf = bytearray(n)
        first, last = off // bs, (off + n - 1) // bs
        i = max(bisect.bisect_right(self.starts, first) - 1, 0)
        while i < len(self.ext):
            lblk, ln, pblk, uninit = self.ext[i]
            i += 1
            if lblk > last:
                break
            if lblk + ln <= first or uninit:
                continue
            s = max(off, lblk * bs)
            e = min(off + n, (lblk + ln) * bs)
            if s >= e:
                continue
            self.fs.fh.seek(pblk * bs + (s - lblk * bs))
            buf[s - off:e - off] = self.fs.fh.read(e - s)
        return bytes(buf)


def src_data_ranges(fd, size):
    """Data ranges of a source file via SEEK_DATA/SEEK_HOLE, or None if unsupported."""
    out, pos = [], 0
    try:
        while pos < size:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            h = os.lseek(fd, d, os.SEEK_HOLE)
            out.append([d, min(h, size)])
            pos = h
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise
    return out


# ---- statx for birth time ---------------------------------------------------------------

class _StatxTs(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_int64), ('tv_nsec', ctypes.c_uint32), ('_r', ctypes.c_int32)]


class _Statx(ctypes.Structure):
    _fields_ = [('stx_mask', ctypes.c_uint32), ('stx_blksize', ctypes.c_uint32),
                ('stx_attributes', ctypes.c_uint64), ('stx_nlink', ctypes.c_uint32),
                ('stx_uid', ctypes.c_uint32), ('stx_gid', ctypes.c_uint32),
                ('stx_mode', ctypes.c_uint16), ('_s', ctypes.c_uint16),
                ('stx_ino', ctypes.c_uint64), ('stx_size', ctypes.c_uint64),
                ('stx_blocks', ctypes.c_uint64), ('stx_attributes_mask', ctypes.c_uint64),
                ('stx_atime', _StatxTs), ('stx_btime', _StatxTs), ('stx_ctime', _StatxTs),
                ('stx_mtime', _StatxTs), ('_pad', ctypes.c_uint64 * 32)]  # struct statx is 256 bytes; extra room for newer kernels


_libc = None


def src_btime(path):
    """(sec, nsec) birth time of path (no symlink follow), or None if unknown."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    st = _Statx()
    AT_FDCWD, AT_SYMLINK_NOFOLLOW, STATX_BTIME = -100, 0x100, 0x800
    r = _libc.statx(AT_FDCWD, os.fsencode(path), AT_SYMLINK_NOFOLLOW, STATX_BTIME, ctypes.byref(st))
    if r != 0 or not (st.stx_mask & STATX_BTIME):
        return None
    return st.stx_btime.tv_sec, st.stx_btime.tv_nsec


# ---- the comparison ---------------------------------------------------------------------

def src_xattrs(p):
    try:
        return {n: os.getxattr(p, n, follow_symlinks=False) for n in os.listxattr(p, follow_symlinks=False)}
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise


def img_xattrs(node):
    out = {}
    for x in node.xattr:
        if x.name == 'system.data':
            continue
        v = bytes(x.value)
        out[x.name] = acl_ext4_to_vfs(v) if x.name.startswith('system.posix_acl_') else v
    return out


def short(v, n=48):
    v = bytes(v)
    return (v[:n].hex() + ('...' if len(v) > n else '')) + ' (%d B)' % len(v)


class Comparer:
    def __init__(self, src, fs, args):
        self.src, self.fs, self.args = src, fs, args
        self.has_extra = fs.sb.s_inode_size > 128
        self.n = 0
        self.diffs = 0
        self.src_links = {}   # (st_dev, st_ino) -> [image inum, names in tree, first path]
        self.img_links = {}   # image inum -> (st_dev, st_ino)
        self.img_nodes = {}   # image inum -> (node, first path)

    def diff(self, path, what):
        self.diffs += 1
        if not self.args.quiet or self.diffs <= 200:
            print(f'{path}: {what}')

    def run(self):
        root = self.fs.get('/')
        self.walk('', root)
        for (dev, sino), (inum, names, first) in self.src_links.items():
            node = self.img_nodes[inum][0]
            if node.inode.i_links_count != names:
                self.diff(first, f'nlink: image {node.inode.i_links_count}, {names} names in source tree')

    def walk(self, rel, node):
        ip = '/' + rel
        sp = os.path.join(self.src, rel) if rel else self.src
        st = os.lstat(sp)
        ino = node.inode
        self.n += 1
        fmt = stat.S_IFMT(st.st_mode)
        ifmt = stat.S_IFMT(ino.i_mode)
        if ifmt != fmt:
            self.diff(ip, f'type: image 0o{ifmt:o}, source 0o{fmt:o}')
            return
        if node._filetype and node._filetype != ifmt:
            self.diff(ip, f'dirent file_type 0o{node._filetype:o} disagrees with inode type 0o{ifmt:o}')
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(ino.i_mode) != stat.S_IMODE(st.st_mode):
            self.diff(ip, f'mode: image {stat.S_IMODE(ino.i_mode):04o}, source {stat.S_IMODE(st.st_mode):04o}')
        uid = ino.i_uid | (ino.i_uid_high << 16)
        gid = ino.i_gid | (ino.i_gid_high << 16)
        if (uid, gid) != (st.st_uid, st.st_gid):
            self.diff(ip, f'owner: image {uid}:{gid}, source {st.st_uid}:{st.st_gid}')
        if not (rel == '' and self.args.ignore_root_times):
            self.times(ip, sp, ino, st)
        try:
            ix = img_xattrs(node)
        except Exception as e:  # noqa: BLE001 - a broken xattr area is a difference, not a crash
            self.diff(ip, f'xattrs unreadable in image: {e}')
            ix = None
        if ix is not None:
            sx = src_xattrs(sp)
            for k in sorted(set(ix) | set(sx)):
                if k not in ix:
                    self.diff(ip, f'xattr {k}: missing in image')
                elif k not in sx:
                    self.diff(ip, f'xattr {k}: extra in image ({short(ix[k])})')
                elif ix[k] != sx[k]:
                    self.diff(ip, f'xattr {k}: image {short(ix[k])}, source {short(sx[k])}')

        if not stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            ent = self.src_links.get(key)
            if ent is None:
                self.src_links[key] = [node.inum, 1, ip]
            else:
                ent[1] += 1
                if ent[0] != node.inum:
                    self.diff(ip, f'hardlink: source shares an inode with {ent[2]}, image uses inode {node.inum} vs {ent[0]}')
            prev = self.img_links.setdefault(node.inum, key)
            if prev != key:
                self.diff(ip, f'hardlink: image inode {node.inum} is shared with an unrelated source file')
            self.img_nodes.setdefault(node.inum, (node, ip))

        if stat.S_ISREG(st.st_mode):
            self.regular(ip, sp, node, st)
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(sp)
            if node.size != len(os.fsencode(target)):
                self.diff(ip, f'symlink size: image {node.size}, source {len(os.fsencode(target))}')
            try:
                it = node.link
            except Exception as e:  # noqa: BLE001
                self.diff(ip, f'symlink unreadable: {e}')
            else:
                if it != target:
                    self.diff(ip, f'symlink: image {it!r}, source {target!r}')
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            dev = img_rdev(ino)
            sdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if dev != sdev:
                self.diff(ip, f'rdev: image {dev[0]}:{dev[1]}, source {sdev[0]}:{sdev[1]}')
        elif stat.S_ISDIR(st.st_mode):
            self.directory(rel, ip, sp, node)

    def times(self, ip, sp, ino, st):
        for name, sns in (('mtime', st.st_mtime_ns), ('atime', st.st_atime_ns)):
            if name == 'atime' and self.args.no_atime:
                continue
            isec, ins = img_time(ino, name, self.has_extra)
            if self.args.source_date_epoch is not None:
                sns = min(sns, self.args.source_date_epoch * 1_000_000_000)
            ssec, sn = divmod(sns, 1_000_000_000)
            if self.args.ns:
                if (isec, ins) != (ssec, sn):
                    self.diff(ip, f'{name}: image {isec}.{ins:09d}, source {ssec}.{sn:09d}')
            elif isec != ssec:
                self.diff(ip, f'{name}: image {isec}, source {ssec}')
        if self.args.crtime:
            bt = src_btime(sp)
            if bt is None:
                return
            if not self.has_extra:
                self.diff(ip, 'crtime: image has 128-byte inodes (no crtime)')
                return
            ic = decode_time(ino.i_crtime, ino.i_crtime_extra)
            want = bt if self.args.ns else (bt[0], ic[1])
            if ic != want:
                self.diff(ip, f'crtime: image {ic[0]}.{ic[1]:09d}, source {bt[0]}.{bt[1]:09d}')

    def regular(self, ip, sp, node, st):
        ino = node.inode
        if node.size != st.st_size:
            self.diff(ip, f'size: image {node.size}, source {st.st_size}')
            return
        bs = self.fs.block_size
        try:  # O_NOATIME: reading must not change the source's atime
            fd = os.open(sp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOATIME)
        except PermissionError:
            fd = os.open(sp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            sranges = src_data_ranges(fd, st.st_size)
            if ino.i_flags & INLINE_DATA_FL or not ino.i_flags & EXTENTS_FL:
                # no extent tree (inline data or block maps): plain sequential compare
                self.sequential(ip, fd, node, st.st_size)
                return
            try:
                ext = img_extents(self.fs, node)
            except Exception as e:  # noqa: BLE001
                self.diff(ip, f'extent tree unreadable: {e}')
                return
            # holes: a whole block that is a hole in the source must be unallocated
            if sranges is not None:
                holes, pos = [], 0
                for s, e in sranges + [[st.st_size, st.st_size]]:
                    if s > pos:
                        hb = (pos + bs - 1) // bs
                        he = (s + bs - 1) // bs if s >= st.st_size else s // bs
                        if he > hb:
                            holes.append((hb, he))
                    pos = max(pos, e)
                bad, first = 0, None
                for hb, he in holes:
                    for lblk, ln, _p, _u in ext:
                        s, e = max(hb, lblk), min(he, lblk + ln)
                        if s < e:
                            bad += e - s
                            first = s if first is None else min(first, s)
                if bad:
                    self.diff(ip, f'sparse: {bad} block(s) that are holes in the source are allocated in the image (first: block {first})')
            # mapped beyond EOF is a writer bug as well
            nblocks = (st.st_size + bs - 1) // bs
            beyond = sum(max(0, lblk + ln - max(lblk, nblocks)) for lblk, ln, _p, _u in ext)
            if beyond:
                self.diff(ip, f'extents: {beyond} block(s) mapped past end of file')
            # content over the union of data ranges; elsewhere both sides read as zeros
            iranges = [[lb * bs, min((lb + ln) * bs, st.st_size)] for lb, ln, _p, u in ext if not u]
            srcr = sranges if sranges is not None else [[0, st.st_size]]
            imf = ImageFile(self.fs, node, ext)
            for s, e in ranges_union(srcr, [r for r in iranges if r[0] < r[1]]):
                off = s
                while off < e:
                    n = min(CHUNK, e - off)
                    a = os.pread(fd, n, off)
                    b = imf.pread(n, off)
                    if a != b:
                        k = next(i for i in range(min(len(a), len(b))) if a[i] != b[i]) if len(a) == len(b) else 0
                        self.diff(ip, f'content differs at byte {off + k}')
                        return
                    off += n
        finally:
            os.close(fd)

    def sequential(self, ip, fd, node, size):
        f = node.open()
        off = 0
        while off < size:
            a = os.pread(fd, min(CHUNK, size - off), off)
            b = f.read(len(a))
            if a != b:
                self.diff(ip, f'content differs in chunk at byte {off}')
                return
            off += len(a)

    def directory(self, rel, ip, sp, node):
        try:
            kids = {n: c for n, c in node.listdir().items() if n not in ('.', '..')}
        except Exception as e:  # noqa: BLE001
            self.diff(ip, f'directory unreadable: {e}')
            return
        names = set(os.listdir(sp))
        subdirs = sum(1 for c in kids.values() if stat.S_ISDIR(c.inode.i_mode))
        want = 2 + subdirs
        links = node.inode.i_links_count
        if not (links == want or (want > 65000 and links == 1)):
            self.diff(ip, f'nlink: image {links}, expected {want} (2 + {subdirs} subdirectories)')
        if rel == '' and 'lost+found' not in names:
            lf = kids.pop('lost+found', None)
            if lf is not None and not stat.S_ISDIR(lf.inode.i_mode):
                self.diff('/lost+found', 'not a directory')
        for n in sorted(set(kids) - names):
            self.diff(f'{ip.rstrip("/")}/{n}', 'extra in image')
        for n in sorted(names):
            if n in kids:
                self.walk(os.path.join(rel, n) if rel else n, kids[n])
            else:
                self.diff(f'{ip.rstrip("/")}/{n}', 'missing in image')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('src')
    ap.add_argument('image', help='ext4 image, or disk.img?offset=BYTES')
    ap.add_argument('--offset', type=int, default=None, help='byte offset of the filesystem in IMAGE')
    ap.add_argument('--ns', action='store_true', help='compare mtime/atime to the nanosecond')
    ap.add_argument('--no-atime', action='store_true',
                    help='skip atime (a tree read by a writer without O_NOATIME has new atimes under relatime)')
    ap.add_argument('--ignore-root-times', action='store_true', help="skip the root directory's times")
    ap.add_argument('--crtime', action='store_true', help="compare crtime with the source's statx birth time")
    ap.add_argument('--source-date-epoch', type=int, default=None, metavar='T',
                    help='expect mtime/atime clamped to T (times after T become T.000000000)')
    ap.add_argument('-q', '--quiet', action='store_true', help='print at most 200 difference lines')
    args = ap.parse_args()
    image, off = args.image, args.offset or 0
    if '?offset=' in image and args.offset is None:
        image, o = image.rsplit('?offset=', 1)
        off = int(o)
    if not os.path.isdir(args.src):
        print(f'compare_tree: {args.src}: not a directory', file=sys.stderr)
        return 2
    try:
        raw = open(image, 'rb', buffering=1 << 16)
        fh = OffsetFile(raw, off) if off else raw
        fs = ExtFS(fh)
    except Exception as e:  # noqa: BLE001
        print(f'compare_tree: cannot open {args.image} as ext4: {e}', file=sys.stderr)
        return 2
    c = Comparer(os.path.abspath(args.src), fs, args)
    c.run()
    print(f'compare_tree: {c.n} entries, {c.diffs} differences')
    return 1 if c.diffs else 0


if __name__ == '__main__':
    sys.exit(main())
