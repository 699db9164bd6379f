#!/usr/bin/env python3
"""check_debugfs.py SRC IMAGE[?offset=BYTES] [--ns] [--no-atime] [--ignore-root-times] [--all]
                   [--no-xattr-sharing] [--sample N] [PATH ...]

An independent cross-check of an ext4 image with e2fsprogs' debugfs (batch mode, `-f`),
complementing compare_tree.py (which reads the image with dissect.extfs). PATHs are
image paths such as /etc/passwd; without PATHs every entry of SRC is checked, except that
in directories of more than --sample entries (default 1000) only N evenly spaced entries are
stat'ed (the directory's htree walk still has to list every name).

Checks, per entry:
  stat      type, permission bits, uid/gid, size, link count (non-dirs: source st_nlink;
            dirs: 2 + subdirectories), mtime/atime decoded from the hex `sec:extra` fields
            (seconds, or nanoseconds with --ns), crtime present, device numbers
  flags     regular files, directories and slow symlinks carry EXTENTS_FL (0x80000); fast
            symlinks (< 60 bytes) do not and show "Fast link dest" = the target; nothing
            carries INLINE_DATA_FL (0x10000000, GRUB cannot read it)
  ea_get    every xattr name and value (ACLs compared entry by entry)
  htree     every directory bigger than one block has INDEX_FL (0x1000), `htree DIR`
            succeeds, and its leaf blocks list exactly the directory's names
  extents   `dump_extents` of regular files: depth >= 1 when there are more than 4 leaf
            extents (and 0 otherwise), no initialized extent longer than 32768 blocks;
            files with depth >= 1 are listed as INFO lines
  sharing   files whose xattr sets are identical and spill to an xattr block share that
            block (`File ACL`), unless --no-xattr-sharing
  lost+found exists as a directory
Prints one line per difference and `check_debugfs: N entries, M differences`; exit 1 on
differences, 2 on usage errors.
"""
import argparse
import os
import re
import stat
import struct
import subprocess
import sys
import tempfile

EXTENTS_FL, INDEX_FL, INLINE_DATA_FL = 0x80000, 0x1000, 0x10000000
TYPES = {'regular': stat.S_IFREG, 'directory': stat.S_IFDIR, 'symlink': stat.S_IFLNK,
         'character special': stat.S_IFCHR, 'block special': stat.S_IFBLK, 'FIFO': stat.S_IFIFO,
         'socket': stat.S_IFSOCK}


def quote(path):
    if '"' in path or '\n' in path:
        return None
    return '"' + path + '"'


def debugfs(image, cmds):
    """Run debugfs -f on cmds; return {index: output lines} (stdout and stderr, in order)."""
    with tempfile.NamedTemporaryFile('wb', prefix='check_debugfs.', suffix='.cmds') as f:
        f.write(''.join(c + '\n' for c in cmds).encode(errors='surrogateescape'))
        f.flush()
        p = subprocess.run(['stdbuf', '-o0', '-e0', 'debugfs', '-f', f.name, image],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    out = p.stdout.decode(errors='surrogateescape').split('\n')
    res, cur, idx = {}, None, -1
    for line in out:
        if line.startswith('debugfs: ') and idx + 1 < len(cmds) and line[9:] == cmds[idx + 1]:
            idx += 1
            cur = res.setdefault(idx, [])
            continue
        if cur is not None:
            cur.append(line)
    if len(res) != len(cmds):
        sys.exit(f'check_debugfs: debugfs answered {len(res)} of {len(cmds)} commands:\n' + '\n'.join(out[:20]))
    return res


def s32(v):
    return v - (1 << 32) if v & 0x80000000 else v


def parse_stat(lines):
    txt = '\n'.join(lines)
    m = re.search(r'Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)\s+Flags: (0x[0-9a-f]+)', txt)
    if not m:
        return None
    st = {'ino': int(m[1]), 'type': m[2], 'mode': int(m[3], 8), 'flags': int(m[4], 16)}
    m = re.search(r'User:\s+(\d+)\s+Group:\s+(\d+).*?Size: (\d+)', txt)
    st['uid'], st['gid'], st['size'] = int(m[1]), int(m[2]), int(m[3])
    st['links'] = int(re.search(r'Links: (\d+)', txt)[1])
    st['file_acl'] = int(re.search(r'File ACL: (\d+)', txt)[1])
    for name in ('ctime', 'atime', 'mtime', 'crtime'):
        m = re.search(r'^\s*' + name + r': 0x([0-9a-f]+)(?::([0-9a-f]+))?', txt, re.M)
        if m:
            sec, extra = int(m[1], 16), int(m[2] or '0', 16)
            st[name] = (s32(sec) + ((extra & 3) << 32), extra >> 2)
    m = re.search(r'Device major/minor number: (\d+):(\d+)', txt)
    if m:
        st['rdev'] = (int(m[1]), int(m[2]))
    m = re.search(r'Fast link dest: "(.*)"$', txt, re.M)
    if m:
        st['fastlink'] = m[1]
    xa = []
    if 'Extended attributes:' in txt:
        sect = txt.split('Extended attributes:', 1)[1].split('\n')
        for ln in sect[1:]:
            mm = re.match(r'^  (\S+) \((\d+)\)', ln)
            if not mm:
                break
            xa.append(mm[1])
    st['xattrs'] = xa
    return st


def parse_hex_value(lines):
    txt = ' '.join(lines).strip()
    m = re.match(r'^\S+ \((\d+)\)(?: = (.*))?$', txt)
    if not m:
        return None
    n = int(m[1])
    if n == 0:
        return b''
    return bytes.fromhex(m[2].strip())[:n]


def acl_entries(raw):
    """Normalised ACL entries from ext4 v1, VFS v2, or libext2fs-converted values."""
    if len(raw) < 4:
        return raw
    ver = struct.unpack_from('<I', raw)[0]
    out, i = [], 4
    if ver == 1:
        while i + 4 <= len(raw):
            tag, perm = struct.unpack_from('<HH', raw, i)
            if tag in (2, 8):
                out.append((tag, perm, struct.unpack_from('<I', raw, i + 4)[0])); i += 8
            else:
                out.append((tag, perm, None)); i += 4
        return out
    while i + 8 <= len(raw):
        tag, perm, xid = struct.unpack_from('<HHI', raw, i)
        out.append((tag, perm, xid if tag in (2, 8) else None)); i += 8
    return out


def parse_extents(lines):
    leaves, depth = [], None
    for ln in lines:
        m = re.match(r'^\s*(\d+)/\s*(\d+)\s+\d+/\s*\d+\s+(\d+)\s+-\s*(\d+)\s+(\d+)(?:\s+-\s*(\d+))?\s+(\d+)\s*(.*)$', ln)
        if not m:
            continue
        lvl, maxl = int(m[1]), int(m[2])
        depth = maxl
        if lvl == maxl:
            leaves.append((int(m[3]), int(m[7]), m[8].strip()))
    return depth, leaves


def main():
    ap = argparse.ArgumentParser(description='cross-check an ext4 image with debugfs')
    ap.add_argument('src')
    ap.add_argument('image')
    ap.add_argument('paths', nargs='*')
    ap.add_argument('--ns', action='store_true')
    ap.add_argument('--ignore-root-times', action='store_true')
    ap.add_argument('--no-atime', action='store_true', help='skip atime')
    ap.add_argument('--all', action='store_true', help='stat every entry, also in big directories')
    ap.add_argument('--sample', type=int, default=1000, metavar='N')
    ap.add_argument('--no-xattr-sharing', action='store_true', help='do not require identical spilled xattr sets to share a block')
    args = ap.parse_intermixed_args()
    src = os.path.abspath(args.src)
    if not os.path.isdir(src):
        print(f'check_debugfs: {args.src}: not a directory', file=sys.stderr)
        return 2

    # ---- choose the entries --------------------------------------------------------
    paths, bigdirs, dirsizes = [], [], {}
    if args.paths:
        paths = ['/' + p.strip('/') if p != '/' else '/' for p in args.paths]
        for p in paths:
            sp = src + p
            if os.path.isdir(sp) and not os.path.islink(sp):
                bigdirs.append(p)
    else:
        for d, dns, fns in os.walk(src):
            rel = '/' + os.path.relpath(d, src) if d != src else '/'
            rel = rel.replace('/./', '/')
            if rel == '/':
                paths.append('/')
            names = sorted(dns + fns)
            dirsizes[rel] = len(names)
            bigdirs.append(rel)
            pick = names
            if not args.all and len(names) > args.sample:
                step = len(names) / 50
                pick = sorted({names[int(i * step)] for i in range(50)} | {names[-1]} | set(sorted(dns)[:5]))
            for n in pick:
                paths.append((rel.rstrip('/') + '/' + n))
    skipped = [p for p in paths if quote(p) is None]
    paths = [p for p in paths if quote(p) is not None]

    diffs = []

    def diff(p, msg):
        diffs.append(f'{p}: {msg}')
        print(f'{p}: {msg}')

    for p in skipped:
        print(f'note: {p!r} cannot be quoted for debugfs, not checked')

    # ---- batch 1: stat + dump_extents --------------------------------------------------
    cmds, kinds = [], []
    srcst = {}
    for p in paths:
        st = os.lstat(src + p if p != '/' else src)
        srcst[p] = st
        cmds.append('stat ' + quote(p)); kinds.append(('stat', p))
        if stat.S_ISREG(st.st_mode) and st.st_size > 0:
            cmds.append('dump_extents ' + quote(p)); kinds.append(('ext', p))
    cmds.append('stat /lost+found'); kinds.append(('lpf', '/lost+found'))
    res = debugfs(args.image, cmds)

    ist = {}
    for i, (kind, p) in enumerate(kinds):
        lines = res[i]
        if kind == 'lpf':
            s = parse_stat(lines)
            if s is None or s['type'] != 'directory':
                diff('/lost+found', 'missing or not a directory')
            continue
        if kind == 'stat':
            s = parse_stat(lines)
            if s is None:
                diff(p, 'stat failed: ' + ' '.join(l for l in lines if l.strip())[:200])
                continue
            ist[p] = s
            check_stat(p, s, srcst[p], src, args, diff)
        elif kind == 'ext' and p in ist:
            depth, leaves = parse_extents(lines)
            s = ist[p]
            if not s['flags'] & EXTENTS_FL:
                continue  # reported by check_stat
            if depth is None:
                continue  # no extents at all: the whole file is a hole (allowed; content is compare_tree's job)
            if len(leaves) > 4 and depth < 1:
                diff(p, f'{len(leaves)} extents with depth 0')
            if len(leaves) <= 4 and depth > 0:
                diff(p, f'extent tree depth {depth} for only {len(leaves)} extents (could be narrower)')
            long = [ln for _s, ln, fl in leaves if ln > 32768 and 'Uninit' not in fl]
            if long:
                diff(p, f'initialized extent of {long[0]} blocks (> 32768)')
            if depth >= 1:
                print(f'INFO: {p}: {len(leaves)} extents, depth {depth}')

    # ---- batch 2: xattr values, htree ------------------------------------------------
    cmds, kinds = [], []
    for p, s in ist.items():
        for n in s['xattrs']:
            cmds.append(f'ea_get -x {quote(p)} {n}'); kinds.append(('ea', p, n))
    for d in bigdirs:
        s = ist.get(d)
        if s is None:
            s2 = debugfs(args.image, ['stat ' + quote(d)])[0] if quote(d) else None
            s = parse_stat(s2) if s2 else None
            if s is None:
                continue
            ist[d] = s
        if s['size'] > 4096:
            cmds.append('htree ' + quote(d)); kinds.append(('htree', d, None))
    res = debugfs(args.image, cmds) if cmds else {}
    imgx = {}
    for i, (kind, p, n) in enumerate(kinds):
        lines = res[i]
        if kind == 'ea':
            v = parse_hex_value([l for l in lines if l.strip()])
            if v is None:
                diff(p, f'xattr {n}: ea_get failed: ' + ' '.join(lines)[:160])
                continue
            imgx.setdefault(p, {})[n] = v
        else:
            check_htree(p, lines, ist[p], src, diff)

    for p, s in ist.items():
        if p not in srcst:
            continue
        try:
            sx = {n: os.getxattr(src + p if p != '/' else src, n, follow_symlinks=False)
                  for n in os.listxattr(src + p if p != '/' else src, follow_symlinks=False)}
        except OSError:
            sx = {}
        ix = imgx.get(p, {})
        for n in sorted(set(sx) | set(ix)):
            if n not in ix:
                diff(p, f'xattr {n}: missing in image')
            elif n not in sx:
                diff(p, f'xattr {n}: extra in image')
            elif n.startswith('system.posix_acl_'):
                if acl_entries(ix[n]) != acl_entries(sx[n]):
                    diff(p, f'xattr {n}: ACL entries {acl_entries(ix[n])} vs source {acl_entries(sx[n])}')
            elif ix[n] != sx[n]:
                diff(p, f'xattr {n}: value differs ({len(ix[n])} vs {len(sx[n])} bytes)')

    # ---- xattr block sharing ----------------------------------------------------------
    if not args.no_xattr_sharing:
        groups = {}
        for p, s in ist.items():
            if s['file_acl'] and p in imgx:
                key = tuple(sorted((n, v) for n, v in imgx[p].items()))
                groups.setdefault(key, []).append((p, s['file_acl']))
        for key, members in groups.items():
            blocks = {b for _p, b in members}
            inodes = {ist[p]['ino'] for p, _b in members}
            if len(inodes) > 1 and len(blocks) > 1:
                diff(members[0][0], f'identical xattr sets of {len(inodes)} inodes use {len(blocks)} xattr blocks, not one shared block '
                                    f'({", ".join(p for p, _ in members[:4])})')

    print(f'check_debugfs: {len(ist)} entries, {len(diffs)} differences')
    return 1 if diffs else 0


def check_stat(p, s, st, src, args, diff):
    fmt = stat.S_IFMT(st.st_mode)
    if TYPES.get(s['type']) != fmt:
        diff(p, f"type: image {s['type']}, source 0o{fmt:o}")
        return
    if fmt != stat.S_IFLNK and s['mode'] != stat.S_IMODE(st.st_mode):
        diff(p, f"mode: image {s['mode']:04o}, source {stat.S_IMODE(st.st_mode):04o}")
    if (s['uid'], s['gid']) != (st.st_uid, st.st_gid):
        diff(p, f"owner: image {s['uid']}:{s['gid']}, source {st.st_uid}:{st.st_gid}")
    if s['flags'] & INLINE_DATA_FL:
        diff(p, f"inline_data flag set (flags 0x{s['flags']:x})")
    if fmt == stat.S_IFDIR:
        sp = src + p if p != '/' else src
        subdirs = sum(1 for e in os.scandir(sp) if e.is_dir(follow_symlinks=False))
        if p == '/' and not os.path.isdir(os.path.join(src, 'lost+found')):
            subdirs += 1
        want = subdirs + 2
        if not (s['links'] == want or (want > 65000 and s['links'] == 1)):
            diff(p, f"links: image {s['links']}, expected {want}")
    elif s['links'] != st.st_nlink:
        diff(p, f"links: image {s['links']}, source {st.st_nlink}")
    if fmt in (stat.S_IFREG, stat.S_IFLNK) and s['size'] != st.st_size:
        diff(p, f"size: image {s['size']}, source {st.st_size}")
    if fmt in (stat.S_IFREG, stat.S_IFDIR) and not s['flags'] & EXTENTS_FL:
        diff(p, f"EXTENTS_FL missing (flags 0x{s['flags']:x})")
    if fmt == stat.S_IFLNK:
        target = os.readlink(src + p)
        if len(os.fsencode(target)) < 60:
            if s['flags'] & EXTENTS_FL:
                diff(p, 'fast symlink with EXTENTS_FL')
            if s.get('fastlink') != target:
                diff(p, f"fast link dest {s.get('fastlink')!r}, source {target!r}")
        elif not s['flags'] & EXTENTS_FL:
            diff(p, f"slow symlink without EXTENTS_FL (flags 0x{s['flags']:x})")
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        want = (os.major(st.st_rdev), os.minor(st.st_rdev))
        if s.get('rdev') != want:
            diff(p, f"device: image {s.get('rdev')}, source {want}")
    if not (p == '/' and args.ignore_root_times):
        for name, ns in (('mtime', st.st_mtime_ns), ('atime', st.st_atime_ns)):
            if name == 'atime' and args.no_atime:
                continue
            if name not in s:
                diff(p, f'{name} missing from stat')
                continue
            want = divmod(ns, 1_000_000_000)
            got = s[name]
            if (got != want) if args.ns else (got[0] != want[0]):
                diff(p, f'{name}: image {got[0]}.{got[1]:09d}, source {want[0]}.{want[1]:09d}')
    if 'crtime' not in s:
        diff(p, 'no crtime field (inode extra fields missing)')


def check_htree(p, lines, s, src, diff):
    txt = '\n'.join(lines)
    if not s['flags'] & INDEX_FL:
        diff(p, f"directory of {s['size']} bytes without INDEX_FL (flags 0x{s['flags']:x})")
    if 'Root node dump' not in txt or 'Not a hash-indexed directory' in txt:
        diff(p, 'htree: ' + (next((l for l in lines if l.strip()), '')[:120] or 'no output'))
        return
    names = set()
    for m in re.finditer(r'(?:^|\s)(\d+) 0x[0-9a-f]{8}-[0-9a-f]{8} \((\d+)\) ', txt):
        if int(m[1]):
            names.add(m.start())
    sp = src + p if p != '/' else src
    want = len(os.listdir(sp)) + (1 if p == '/' and not os.path.isdir(os.path.join(src, 'lost+found')) else 0)
    if len(names) != want:
        diff(p, f'htree leaf blocks list {len(names)} entries, directory has {want}')


if __name__ == '__main__':
    sys.exit(main())
