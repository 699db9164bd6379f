#!/usr/bin/env python3
"""Compares `stamp inspect --json` with `qemu-img info --output=json` for one image.

Usage: qemu_info_compare.py QEMU.json STAMP.json

Both files are parsed with Python's json module (strict: a control character inside a
string is an error). Every member qemu-img prints must be in stamp's document with an
equal value, and stamp may add exactly one member of its own, "stamp", an object holding
"schema-version". Prints one line per difference and exits 1 if there is any.
"""
import json
import sys


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        qemu = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        stamp = json.load(f)
    problems = []
    extra = stamp.pop("stamp", None)
    if not isinstance(extra, dict) or not isinstance(extra.get("schema-version"), int):
        problems.append("no 'stamp' object with an integer schema-version")
    for key in sorted(set(qemu) | set(stamp)):
        if key not in stamp:
            problems.append(f"missing {key!r} (qemu-img: {qemu[key]!r})")
        elif key not in qemu:
            problems.append(f"extra {key!r}: {stamp[key]!r}")
        elif qemu[key] != stamp[key]:
            problems.append(f"{key!r}: qemu-img {qemu[key]!r}, stamp {stamp[key]!r}")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


main()
