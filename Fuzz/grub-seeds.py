#!/usr/bin/env python3
"""grub-seeds.py DIR: writes the grub-files fuzz seeds (synthetic, see make-corpus.sh)."""
import os
import struct
import sys


def elf32(sections, shoff_past_end=False):
    """An ELF32 LE executable whose section headers are (type, flags, addr, data)."""
    data = b''
    headers = [struct.pack('<10I', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    offset = 52
    for kind, flags, addr, payload in sections:
        headers.append(struct.pack('<10I', 0, kind, flags, addr, offset + len(data), len(payload), 0, 0, 4, 0))
        data += payload
    shoff = 52 + len(data) + (0x100000 if shoff_past_end else 0)
    head = b'\x7fELF' + bytes([1, 1, 1]) + bytes(9)
    head += struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, 0x9000, 0, shoff, 0, 52, 0, 0, 40, len(headers), 0)
    return head + data + b''.join(headers)


def pe_with_prefix(prefix):
    mods = bytearray(struct.pack('<IIQQ', 0x676d696d, 0, 24, 0))
    obj = prefix.encode() + b'\0'
    obj += bytes((-len(obj)) % 8)
    mods += struct.pack('<II', 3, 8 + len(obj)) + obj
    struct.pack_into('<Q', mods, 16, len(mods))
    pe = 0x40
    table = pe + 24 + 0
    raw = 0x200
    out = bytearray(raw)
    out[0:2] = b'MZ'
    struct.pack_into('<I', out, 0x3C, pe)
    out[pe:pe + 4] = b'PE\0\0'
    struct.pack_into('<HH', out, pe + 4, 0x8664, 1)
    struct.pack_into('<H', out, pe + 20, 0)
    struct.pack_into('<8sIIIIIIHHI', out, table, b'mods', len(mods), 0x1000, len(mods), raw, 0, 0, 0, 0, 0)
    return bytes(out) + bytes(mods)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    seeds = {
        'moddep-small.lst': b'normal: boot crypto\nboot:\ncrypto:\next2: fshelp\nfshelp:\n',
        'moddep-cycle.lst': b'normal: boot\nboot: normal\next2:\n',
        'moddep-deep.lst': b''.join(b'm%d: m%d\n' % (i, i + 1) for i in range(80)) + b'normal: m0\n',
        'moddep-escape.lst': b'normal: ../../../etc/shadow\n',
        'kernel-ok.img': elf32([(1, 6, 0x9000, bytes(range(256)) * 4), (1, 2, 0x9400, b'data' * 16), (8, 3, 0x9500, b'')]),
        'kernel-below.img': elf32([(1, 6, 0x8000, b'\x90' * 64)]),
        'kernel-past-end.img': elf32([(1, 6, 0x9000, b'\x90' * 64)], shoff_past_end=True),
        'efi-prefix.efi': pe_with_prefix('/EFI/debian'),
        'os-release.txt': b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
                          b'vmlinuz-6.1.0-9-amd64\nvmlinuz-6.1.0-10-amd64\ninitrd.img-6.1.0-10-amd64\n'
                          b'GRUB_CMDLINE_LINUX="quiet $(reboot)"\n',
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
