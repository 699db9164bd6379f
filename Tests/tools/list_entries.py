#!/usr/bin/env python3
"""list_entries.py IMAGE[?offset=BYTES]

Lists every entry of an ext4 filesystem, one line each, sorted by path, read with
dissect.extfs (PyPI, pure Python: independent of e2fsprogs and of stamp), without mounting:

    PATH<TAB>TYPE MODE<TAB>UID:GID<TAB>XATTRS<TAB>TARGET

TYPE is one letter (d - l c b p s), MODE the permission bits in octal (setuid, setgid and
sticky included; symlinks show 0777), XATTRS every extended attribute but `system.data` as
`name=hex` joined by `,` (ext4's POSIX ACLs as stored), TARGET a symlink's target.

Two images built from the same elements by different means (a root build and an
unprivileged one) must list the same ownership and capabilities: diff the two outputs.
Contents and times are not listed: those legitimately differ between two builds.

Exit status: 0 = listed, 2 = the image cannot be read as ext4.
"""
import os
import stat
import sys

from dissect.extfs import ExtFS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_tree import OffsetFile  # noqa: E402  (a partition's offset 0 inside a disk file)

TYPES = {stat.S_IFDIR: 'd', stat.S_IFREG: '-', stat.S_IFLNK: 'l', stat.S_IFCHR: 'c',
         stat.S_IFBLK: 'b', stat.S_IFIFO: 'p', stat.S_IFSOCK: 's'}


def describe(path, node):
    ino = node.inode
    kind = TYPES.get(stat.S_IFMT(ino.i_mode), '?')
    uid = ino.i_uid | (ino.i_uid_high << 16)
    gid = ino.i_gid | (ino.i_gid_high << 16)
    xattrs = ','.join(f'{x.name}={bytes(x.value).hex()}'
                      for x in sorted(node.xattr, key=lambda x: x.name) if x.name != 'system.data')
    target = node.link if kind == 'l' else ''
    return f'{path}\t{kind} {stat.S_IMODE(ino.i_mode):04o}\t{uid}:{gid}\t{xattrs}\t{target}'


def walk(node, path, out):
    out.append(describe(path or '/', node))
    if not stat.S_ISDIR(node.inode.i_mode):
        return
    for name, child in sorted(node.listdir().items()):
        if name in ('.', '..'):
            continue
        walk(child, f'{path}/{name}', out)


def main():
    if len(sys.argv) != 2:
        print(__doc__.split('\n')[0], file=sys.stderr)
        return 2
    image, offset = sys.argv[1], 0
    if '?offset=' in image:
        image, o = image.rsplit('?offset=', 1)
        offset = int(o)
    try:
        raw = open(image, 'rb', buffering=1 << 16)
        fs = ExtFS(OffsetFile(raw, offset) if offset else raw)
        out = []
        walk(fs.get('/'), '', out)
    except Exception as e:  # noqa: BLE001
        print(f'list_entries: cannot read {sys.argv[1]} as ext4: {e}', file=sys.stderr)
        return 2
    sys.stdout.write('\n'.join(sorted(out)) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
