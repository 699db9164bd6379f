/// A directory-to-directory comparison, independent of stamp (run with python3 from a temp file).
let compareDirsScript = #"""
    #!/usr/bin/env python3
    """compare_dirs.py SRC DST [--ns]: metadata and content comparison of two directory trees.

    Checks, for every entry: presence both ways, file type, permission bits (not symlinks),
    uid/gid, mtime (whole seconds, or exact ns with --ns; not for symlinks), regular-file size
    and content, symlink target, device numbers, every xattr (all namespaces, POSIX ACLs
    included) and hard-link identity. Prints one line per difference; exit 1 if any.
    """
    import hashlib, os, stat, sys

    src, dst = sys.argv[1], sys.argv[2]
    ns = "--ns" in sys.argv
    problems = []

    def walk(root):
        out = {}
        for d, dirs, files in os.walk(root):
            for name in [""] if d == root else []:
                out["."] = os.lstat(root)
            for name in dirs + files:
                p = os.path.join(d, name)
                out[os.path.relpath(p, root)] = os.lstat(p)
        return out

    def xattrs(path):
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError:
            return {}
        return {n: os.getxattr(path, n, follow_symlinks=False) for n in sorted(names)}

    def digest(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()

    a, b = walk(src), walk(dst)
    for rel in sorted(set(a) | set(b)):
        if rel not in b: problems.append(f"{rel}: missing in {dst}"); continue
        if rel not in a: problems.append(f"{rel}: extra in {dst}"); continue
        s, t = a[rel], b[rel]
        sp, tp = os.path.join(src, rel), os.path.join(dst, rel)
        if stat.S_IFMT(s.st_mode) != stat.S_IFMT(t.st_mode):
            problems.append(f"{rel}: type {oct(s.st_mode)} != {oct(t.st_mode)}"); continue
        if not stat.S_ISLNK(s.st_mode) and stat.S_IMODE(s.st_mode) != stat.S_IMODE(t.st_mode):
            problems.append(f"{rel}: mode {oct(s.st_mode)} != {oct(t.st_mode)}")
        if (s.st_uid, s.st_gid) != (t.st_uid, t.st_gid):
            problems.append(f"{rel}: owner {s.st_uid}:{s.st_gid} != {t.st_uid}:{t.st_gid}")
        if not stat.S_ISLNK(s.st_mode):
            sm, tm = (s.st_mtime_ns, t.st_mtime_ns) if ns else (s.st_mtime_ns // 10**9, t.st_mtime_ns // 10**9)
            if sm != tm: problems.append(f"{rel}: mtime {sm} != {tm}")
        if stat.S_ISREG(s.st_mode):
            if s.st_size != t.st_size: problems.append(f"{rel}: size {s.st_size} != {t.st_size}")
            elif digest(sp) != digest(tp): problems.append(f"{rel}: content differs")
        if stat.S_ISLNK(s.st_mode) and os.readlink(sp) != os.readlink(tp):
            problems.append(f"{rel}: symlink target differs")
        if (stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode)) and s.st_rdev != t.st_rdev:
            problems.append(f"{rel}: rdev {s.st_rdev} != {t.st_rdev}")
        xs, xt = xattrs(sp), xattrs(tp)
        if xs != xt: problems.append(f"{rel}: xattrs {xs} != {xt}")

    def groups(tree):
        by = {}
        for rel, st in tree.items():
            if not stat.S_ISDIR(st.st_mode):
                by.setdefault((st.st_dev, st.st_ino), set()).add(rel)
        return sorted(sorted(g) for g in by.values())

    if groups(a) != groups(b):
        problems.append(f"hard-link groups differ: {[g for g in groups(a) if len(g) > 1]} != {[g for g in groups(b) if len(g) > 1]}")
    for p in problems: print(p)
    print(f"compare_dirs: {len(a)} entries, {len(problems)} differences")
    sys.exit(1 if problems else 0)
    """#
