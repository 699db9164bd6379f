#!/usr/bin/env python3
"""random_tree.py SEED DIR [--entries N]

Builds a random but reproducible directory tree for `stamp mkfs` property tests: the same
SEED always gives the same tree (names, shape, contents, metadata). Must run as root
(device nodes, foreign owners, trusted.* xattrs). DIR must not exist or be empty.

What a tree can hold, each drawn at random:
  - directories nested up to 24 deep, some with hundreds of entries (htree indexes);
  - every file type: regular (empty, small, up to 1.5 MiB, sparse with up to 600 data
    segments and apparent sizes up to 6 GiB), symlinks (0..4000-byte targets, dangling),
    character and block devices (majors/minors beyond 8 bits), FIFOs, sockets;
  - hard links (regular files, symlinks, devices, FIFOs) whose names sit at random depths in
    random subtrees, so the scan's first name is often not the one a breadth-first walk
    meets first;
  - modes from 0000 to 7777 on files and directories; owners up to 2^32-2;
  - mtimes from 1901 to 2300 with nanoseconds (before 1970, after 2038); atimes likewise on
    entries the writer never reads, and in the future on directories and symlinks (under
    `relatime` a readdir or readlink would otherwise reset a past atime after the writer
    recorded it);
  - xattrs of the user, trusted and security namespaces (incl. security.capability) and
    POSIX access/default ACLs, some sets large enough to spill to a block, some identical
    across files (one shared block);
  - names of 1..255 bytes: ASCII, multi-byte UTF-8, and bytes that are not UTF-8.

Prints `random_tree: seed S: N entries in DIR` on success.
"""
import os
import random
import socket
import stat
import struct
import sys

MIN_SEC = -(1 << 31) + 1                  # ext4 with extra time bits: 1901-12-13 ...
MAX_SEC = 10413792000                     # ... to 2300-01-01 (the format reaches 2446, but
                                          # e2fsck takes times past 2310 for pre-1970 ones
                                          # written by old kernels and flags them)
FUTURE = 4102444800                       # 2100-01-01: atimes relatime leaves alone
ALPHABET = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+=,~@'
UTF8_PIECES = ['ü', 'é', 'ß', '名', '前', '語', '🙂', 'Ω', 'ж', 'ह']


class Generator:
    def __init__(self, seed, root, budget):
        self.r = random.Random(seed)
        self.root = os.fsencode(root)
        self.budget = budget
        self.count = 0
        self.dirs = [self.root]          # every directory, for placing hard links
        self.linkable = []               # non-directories that may get more names
        self.times = []                  # (path, is_dir_or_symlink): set last, children first
        self.shared_sets = [self.xattr_set(big=True) for _ in range(2)]

    # ---- names ---------------------------------------------------------------------

    def name(self, taken, room=255):
        """A new name for a directory whose names are `taken`, at most `room` bytes long
        (deep paths stay under PATH_MAX)."""
        r = self.r
        while True:
            kind = r.random()
            if kind < 0.70:
                n = bytes(r.choice(ALPHABET) for _ in range(r.randint(1, 24)))
            elif kind < 0.80:
                n = bytes(r.choice(ALPHABET) for _ in range(r.choice([200, 254, 255])))
            elif kind < 0.93:
                s = ''.join(r.choice(UTF8_PIECES) for _ in range(r.randint(1, 20)))
                n = s.encode()[:255]
                n = n.decode('utf-8', 'ignore').encode()      # do not cut a character
            else:
                n = bytes(r.choice([0x80, 0xFE, 0xC3, 0xFF, 0x01, 0x7F]) for _ in range(r.randint(1, 8))) + b'x'
            if n in (b'.', b'..') or b'/' in n or b'\0' in n or not n or n in taken:
                continue
            if len(n) > 255 or len(n) > max(room, 8):
                continue
            taken.add(n)
            return n

    # ---- metadata ------------------------------------------------------------------

    def owner(self):
        r = self.r
        c = r.random()
        if c < 0.5:
            return 0, 0
        if c < 0.8:
            return r.randint(1, 65535), r.randint(1, 65535)
        return r.choice([r.randint(65536, (1 << 32) - 2), (1 << 32) - 2]), r.choice([r.randint(65536, (1 << 32) - 2), (1 << 32) - 2])

    def mode_bits(self, is_dir):
        r = self.r
        c = r.random()
        if c < 0.08:
            return 0o000
        if c < 0.16:
            return 0o7777
        if c < 0.55:
            return 0o755 if is_dir else 0o644
        return r.randint(0, 0o7777)

    def timestamp(self):
        r = self.r
        c = r.random()
        if c < 0.15:
            sec = r.randint(MIN_SEC, -1)                    # before 1970
        elif c < 0.30:
            sec = r.randint(1 << 31, MAX_SEC)               # after 2038
        elif c < 0.35:
            sec = r.choice([MIN_SEC, MAX_SEC, 0, -1, (1 << 31) - 1, 1 << 31])
        else:
            sec = r.randint(0, 1800000000)
        return sec * 1_000_000_000 + r.randint(0, 999_999_999)

    def xattr_set(self, big=False):
        r = self.r
        out = []
        for i in range(r.randint(1, 3) if not big else r.randint(3, 5)):
            ns = r.choice([b'user.', b'trusted.', b'security.'])
            name = ns + b'k%d.' % i + bytes(r.choice(ALPHABET) for _ in range(r.randint(1, 30)))
            size = r.randint(0, 40) if not big else r.randint(300, 700)
            out.append((name, r.randbytes(size)))
        return out

    def acl(self, default=False):
        """A POSIX ACL in the kernel's xattr format (version 2)."""
        r = self.r
        entries = [(0x01, r.randint(0, 7), 0xFFFFFFFF)]                 # USER_OBJ
        users = sorted(set(r.randint(1, (1 << 32) - 2) for _ in range(r.randint(0, 3))))
        entries += [(0x02, r.randint(0, 7), u) for u in users]          # USER
        entries.append((0x04, r.randint(0, 7), 0xFFFFFFFF))             # GROUP_OBJ
        groups = sorted(set(r.randint(1, (1 << 32) - 2) for _ in range(r.randint(0, 2))))
        entries += [(0x08, r.randint(0, 7), g) for g in groups]         # GROUP
        if users or groups:
            entries.append((0x10, r.randint(0, 7), 0xFFFFFFFF))         # MASK
        entries.append((0x20, r.randint(0, 7), 0xFFFFFFFF))             # OTHER
        return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries)

    def decorate(self, path, kind):
        """Owner, mode, xattrs of a new entry (times come last)."""
        r = self.r
        uid, gid = self.owner()
        os.lchown(path, uid, gid)
        if kind != 'symlink':
            bits = self.mode_bits(kind == 'dir')
            os.chmod(path, (os.lstat(path).st_mode & 0o170000) | bits)
        if r.random() < 0.35:
            attrs = self.xattr_set()
            if r.random() < 0.15:
                attrs = self.shared_sets[r.randrange(len(self.shared_sets))]
            elif r.random() < 0.1:
                attrs = self.xattr_set(big=True)
            if r.random() < 0.1:
                # file capabilities: version 2, permitted + inheritable, effective
                attrs = attrs + [(b'security.capability', struct.pack('<IIIII', 0x02000001, r.getrandbits(32), 0, r.getrandbits(32), 0))]
            for name, value in attrs:
                if name.startswith(b'user.') and kind not in ('file', 'dir'):
                    continue                                  # user.* only on files and dirs
                try:
                    os.setxattr(path, name, value, follow_symlinks=False)
                except OSError:
                    pass                                      # the host refused (no space): fine
        if kind in ('file', 'dir') and r.random() < 0.1:
            os.setxattr(path, b'system.posix_acl_access', self.acl())
        if kind == 'dir' and r.random() < 0.1:
            os.setxattr(path, b'system.posix_acl_default', self.acl(default=True))
        self.times.append((path, kind in ('dir', 'symlink')))

    # ---- entries -------------------------------------------------------------------

    def regular(self, path):
        r = self.r
        c = r.random()
        with open(path, 'wb') as f:
            if c < 0.15:
                pass
            elif c < 0.88:
                f.write(r.randbytes(r.randint(1, 9000)))
            elif c < 0.91:
                f.write(r.randbytes(r.randint(9000, 1536 << 10)))
            else:
                size = r.choice([r.randint(1, 64 << 20), r.randint(1 << 30, 6 << 30)])
                segments = r.choice([1, 3, 5, 40, 600])
                for _ in range(segments):
                    off = r.randrange(0, size)
                    f.seek(off)
                    f.write(r.randbytes(min(r.randint(1, 6000), size - off)))
                f.truncate(size)

    def special(self, path):
        r = self.r
        kind = r.choice(['symlink', 'symlink', 'chr', 'blk', 'fifo', 'sock'])
        if kind == 'symlink':
            n = r.choice([0, 1, r.randint(2, 59), 59, 60, r.randint(61, 400), r.randint(400, 4000)])
            target = bytes(r.choice(ALPHABET + b'/') for _ in range(n)) or b'x'
            os.symlink(target, path)
            return 'symlink'
        if kind in ('chr', 'blk'):
            major = r.choice([r.randint(0, 255), r.randint(256, 4095)])
            minor = r.choice([r.randint(0, 255), r.randint(256, (1 << 20) - 1)])
            os.mknod(path, (stat.S_IFCHR if kind == 'chr' else stat.S_IFBLK) | 0o600, os.makedev(major, minor))
            return 'node'
        if kind == 'fifo':
            os.mkfifo(path)
            return 'node'
        parent, leaf = os.path.split(path)
        if len(leaf) >= 100:                  # sun_path holds 108 bytes
            os.mkfifo(path)
            return 'node'
        cwd = os.open('.', os.O_RDONLY)
        s = socket.socket(socket.AF_UNIX)
        try:
            os.chdir(parent)
            s.bind(leaf)
        finally:
            s.close()
            os.fchdir(cwd)
            os.close(cwd)
        return 'sock'

    def directory(self, path, depth):
        r = self.r
        taken = set()
        wide = r.random() < 0.06
        n = r.randint(150, 500) if wide else r.randint(8, 30) if depth == 0 else r.randint(0, 9)
        for _ in range(n):
            if self.count >= self.budget:
                break
            child = os.path.join(path, self.name(taken, room=3800 - len(path)))
            self.count += 1
            c = r.random()
            if c < 0.25 and depth < 24 and not wide and len(path) < 3000:
                os.mkdir(child)
                self.dirs.append(child)
                self.directory(child, depth + 1)
                self.decorate(child, 'dir')
            elif c < 0.80:
                self.regular(child)
                self.decorate(child, 'file')
                self.linkable.append(child)
            else:
                kind = self.special(child)
                self.decorate(child, kind)
                if kind != 'sock':
                    self.linkable.append(child)

    def hard_links(self):
        r = self.r
        for _ in range(r.randint(0, max(1, len(self.linkable) // 6))):
            if not self.linkable:
                return
            target = r.choice(self.linkable)
            where = r.choice(self.dirs)
            taken = set(os.listdir(where))
            name = os.path.join(where, self.name(taken))
            os.link(target, name, follow_symlinks=False)
            self.count += 1

    def deep_chain(self):
        """A chain of nested directories with a hard link at its bottom to a shallow file, and
        one at the top to a deep file: both orders of 'first name' versus 'first visit'."""
        r = self.r
        path = self.root
        for _ in range(r.randint(3, 12)):
            path = os.path.join(path, self.name(set(os.listdir(path))))
            os.mkdir(path)
            self.dirs.append(path)
            self.times.append((path, True))
            self.count += 1
        leaf = os.path.join(path, b'deep-file')
        with open(leaf, 'wb') as f:
            f.write(b'deep %d\n' % r.getrandbits(32))
        self.times.append((leaf, False))
        self.linkable.append(leaf)
        os.link(leaf, os.path.join(self.root, self.name(set(os.listdir(self.root)))))
        self.count += 2

    def run(self):
        os.makedirs(self.root, exist_ok=True)
        if os.listdir(self.root):
            sys.exit(f'random_tree: {os.fsdecode(self.root)} is not empty')
        self.directory(self.root, 0)
        self.deep_chain()
        self.hard_links()
        # Times last, deepest first: creating entries changed their parents' mtimes.
        for path, reads_touch_atime in sorted(self.times, key=lambda t: -t[0].count(b'/')) + [(self.root, True)]:
            mtime = self.timestamp()
            if reads_touch_atime:
                # relatime updates an atime that is not later than the mtime (or ctime)
                mtime = min(mtime, (MAX_SEC - 86400) * 1_000_000_000)
                atime = max(mtime, FUTURE * 1_000_000_000) + self.r.randint(1, 86400 * 10**9 - 1)
            else:
                atime = self.timestamp()
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)
        return self.count


def main():
    args = sys.argv[1:]
    if len(args) not in (2, 4) or (len(args) == 4 and args[2] != '--entries'):
        sys.exit('usage: random_tree.py SEED DIR [--entries N]')
    if os.geteuid() != 0:
        sys.exit('random_tree: must run as root (device nodes, owners, trusted.* xattrs)')
    seed, root = int(args[0]), args[1]
    budget = int(args[3]) if len(args) == 4 else 400
    n = Generator(seed, root, budget).run()
    print(f'random_tree: seed {seed}: {n} entries in {root}')


if __name__ == '__main__':
    main()
