#!/usr/bin/env python3
"""Writes container images with the smallest geometries their formats allow, as fuzz seeds.

Real writers (ours, qemu-img) use 64 KiB grains and 2 MiB VHD blocks, so even an empty
image is hundreds of KiB; a fuzzer mutates small inputs far better. These files are images
a few KiB long, valid by the VMDK 1.1 and VHD 1.0 specifications (written from them,
independently of stamp's writers): VMDK with 1-8 sector grains and few grain table entries,
VHD with 512-byte and 4 KiB blocks. qemu-img refuses such geometries (it wants 512 entries
per grain table and reads VHD sizes from CHS), which is why they come from here.

usage: tiny-images.py OUTDIR
"""
import os
import struct
import sys
import zlib

SECTOR = 512


def pattern(n, seed):
    return bytes((seed + i * 7) & 0xFF for i in range(n))


def vmdk_header(capacity, grain, gtes, gd, overhead, flags, compress):
    h = struct.pack("<4sIIQQQQIQQQB", b"KDMV", 1 if not compress else 3, flags, capacity, grain, 0, 0, gtes, 0, gd,
                    overhead, 0)
    h += b"\n \r\n" + struct.pack("<H", compress)
    return h.ljust(SECTOR, b"\0")


def monolithic_sparse(capacity, grain, gtes, data):
    """header | GD | GT... | grains; `data` maps grain index -> bytes (one grain each)."""
    grains = -(-capacity // grain)
    tables = -(-grains // gtes)
    gd_sectors = -(-tables * 4 // SECTOR)
    gt_sectors = -(-gtes * 4 // SECTOR)
    gd_at = 1
    gt_at = gd_at + gd_sectors
    data_at = gt_at + tables * gt_sectors
    gd = [gt_at + t * gt_sectors for t in range(tables)]
    gt = [0] * (tables * gtes)
    body = b""
    next_sector = data_at
    for index in sorted(data):
        gt[index] = next_sector
        body += data[index].ljust(grain * SECTOR, b"\0")
        next_sector += grain
    out = vmdk_header(capacity, grain, gtes, gd_at, data_at, 0x3, 0)  # valid newline test, redundant GT off
    out += struct.pack("<%dI" % tables, *gd).ljust(gd_sectors * SECTOR, b"\0")
    for t in range(tables):
        out += struct.pack("<%dI" % gtes, *gt[t * gtes:(t + 1) * gtes]).ljust(gt_sectors * SECTOR, b"\0")
    return out + body


def marker(sectors, kind):
    return struct.pack("<QII", sectors, 0, kind).ljust(SECTOR, b"\0")


def stream_optimized(capacity, grain, gtes, data):
    """header(GD at end) | compressed grains with markers | GT markers+tables | GD | footer | EOS."""
    flags = 0x1 | 0x2 | 0x10000 | 0x20000  # newline test, redundant GT, compressed, markers
    out = bytearray(vmdk_header(capacity, grain, gtes, 0xFFFFFFFFFFFFFFFF, 1, flags, 1))
    grains = -(-capacity // grain)
    tables = -(-grains // gtes)
    gt = [0] * (tables * gtes)
    for index in sorted(data):
        gt[index] = len(out) // SECTOR
        packed = zlib.compress(data[index].ljust(grain * SECTOR, b"\0"))
        record = struct.pack("<QI", index * grain, len(packed)) + packed
        out += record.ljust(-(-len(record) // SECTOR) * SECTOR, b"\0")
    gd = []
    gt_sectors = -(-gtes * 4 // SECTOR)
    for t in range(tables):
        out += marker(gt_sectors, 1)
        gd.append(len(out) // SECTOR)
        out += struct.pack("<%dI" % gtes, *gt[t * gtes:(t + 1) * gtes]).ljust(gt_sectors * SECTOR, b"\0")
    gd_sectors = -(-tables * 4 // SECTOR)
    out += marker(gd_sectors, 2)
    gd_at = len(out) // SECTOR
    out += struct.pack("<%dI" % tables, *gd).ljust(gd_sectors * SECTOR, b"\0")
    out += marker(1, 3)
    out += vmdk_header(capacity, grain, gtes, gd_at, 1, flags, 1)
    out += marker(0, 0)
    return bytes(out)


def vhd_checksum(data):
    return (~sum(data)) & 0xFFFFFFFF


def vhd_footer(size, disk_type, data_offset):
    cylinders, heads, spt = min(size // SECTOR // 16 // 63, 65535), 16, 63
    f = bytearray(struct.pack(">8sIIQI4sIIQQHBBII16sB", b"conectix", 2, 0x00010000, data_offset, 0, b"stmp", 0x00010000,
                              0x5769326B, size, size, cylinders, heads, spt, disk_type, 0, bytes(range(16)), 0))
    f = f.ljust(SECTOR, b"\0")
    struct.pack_into(">I", f, 64, vhd_checksum(f))
    return bytes(f)


def vhd_dynamic(size, block, data):
    """footer copy | dynamic header | BAT | blocks (bitmap + data) | footer."""
    entries = -(-size // block)
    footer = vhd_footer(size, 3, SECTOR)
    table_at = 3 * SECTOR
    bat_bytes = -(-entries * 4 // SECTOR) * SECTOR
    h = bytearray(struct.pack(">8sQQIIII", b"cxsparse", 0xFFFFFFFFFFFFFFFF, table_at, 0x00010000, entries, block, 0))
    h = h.ljust(1024, b"\0")
    struct.pack_into(">I", h, 36, vhd_checksum(h))
    bat = [0xFFFFFFFF] * entries
    bitmap_bytes = -(-(-(-(block // SECTOR) // 8)) // SECTOR) * SECTOR  # ceil(sectors / 8), whole sectors
    blocks = b""
    at = table_at + bat_bytes
    for index in sorted(data):
        content, sectors_present = data[index]
        bat[index] = at // SECTOR
        bitmap = bytearray(bitmap_bytes)
        for s in sectors_present:
            bitmap[s // 8] |= 0x80 >> (s % 8)
        blocks += bytes(bitmap) + content.ljust(block, b"\0")
        at += bitmap_bytes + block
    return footer + bytes(h) + struct.pack(">%dI" % entries, *bat).ljust(bat_bytes, b"\xff") + blocks + footer


def vhd_fixed(size, content):
    return content.ljust(size, b"\0") + vhd_footer(size, 2, 0xFFFFFFFFFFFFFFFF)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    write("vmdk-sparse-grain1.vmdk", monolithic_sparse(16, 1, 8, {0: pattern(512, 1), 5: pattern(512, 2)}))
    write("vmdk-sparse-grain8.vmdk", monolithic_sparse(37, 8, 4, {1: pattern(4096, 3), 4: pattern(100, 4)}))
    write("vmdk-stream-grain1.vmdk", stream_optimized(16, 1, 8, {0: pattern(512, 5), 9: pattern(512, 6)}))
    write("vmdk-stream-grain8.vmdk", stream_optimized(37, 8, 4, {0: pattern(4096, 7), 4: pattern(300, 8)}))
    write("vhd-dynamic-4k.vhd", vhd_dynamic(20 * SECTOR, 4096, {0: (pattern(4096, 9), [0, 1, 7]), 2: (pattern(2048, 10), [1, 2])}))
    write("vhd-dynamic-512.vhd", vhd_dynamic(6 * SECTOR, 512, {1: (pattern(512, 11), [0]), 4: (pattern(512, 12), [0])}))
    write("vhd-fixed.vhd", vhd_fixed(4 * SECTOR, pattern(1000, 13)))


if __name__ == "__main__":
    main()
