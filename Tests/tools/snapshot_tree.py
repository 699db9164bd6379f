#!/usr/bin/env python3
"""snapshot_tree.py DIR

Prints one line per entry of DIR (sorted by path, symlinks not followed): type and mode,
owner, size, modification and change times in nanoseconds, extended attributes, a symlink's
target and a regular file's SHA-256. Two snapshots of a tree compare equal only if nothing
in it was created, removed, written, chmodded, chowned, touched or had an xattr changed
(the ctime catches any change of an inode). Used to prove that stamp leaves its input as it
found it.
"""
import hashlib
import os
import stat
import sys


def describe(path, rel):
    st = os.lstat(path)
    fields = [rel, f'{st.st_mode:o}', f'{st.st_uid}:{st.st_gid}', str(st.st_size), str(st.st_mtime_ns), str(st.st_ctime_ns)]
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        names = []
    fields.append(','.join(f'{n}={os.getxattr(path, n, follow_symlinks=False).hex()}' for n in names))
    if stat.S_ISLNK(st.st_mode):
        fields.append(os.readlink(path))
    elif stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        fields.append(h.hexdigest())
    return '\t'.join(fields)


def main():
    root = sys.argv[1]
    lines = [describe(root, '.')]
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(top, name)
            lines.append(describe(path, os.path.relpath(path, root)))
    lines.sort()
    sys.stdout.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
