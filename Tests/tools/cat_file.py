#!/usr/bin/env python3
"""cat_file.py IMAGE[?offset=BYTES] PATH

Prints the contents of PATH in the ext4 filesystem of IMAGE (at BYTES into it, e.g. a
partition of a disk), read with dissect.extfs (PyPI, pure Python: independent of e2fsprogs
and of stamp), without mounting. Symlinks inside the filesystem are followed.
Exit status: 0 = printed, 2 = the image or the path cannot be read.
"""
import os
import sys

from dissect.extfs import ExtFS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_tree import OffsetFile  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__.split('\n')[0], file=sys.stderr)
        return 2
    image, offset = sys.argv[1], 0
    if '?offset=' in image:
        image, o = image.rsplit('?offset=', 1)
        offset = int(o)
    try:
        raw = open(image, 'rb', buffering=1 << 16)
        fs = ExtFS(OffsetFile(raw, offset) if offset else raw)
        data = fs.get(sys.argv[2]).open().read()
    except Exception as e:  # noqa: BLE001
        print(f'cat_file: cannot read {sys.argv[2]} in {sys.argv[1]}: {e}', file=sys.stderr)
        return 2
    sys.stdout.buffer.write(data)
    return 0


if __name__ == '__main__':
    sys.exit(main())
