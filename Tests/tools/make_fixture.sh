#!/usr/bin/env bash
# make_fixture.sh DIR [--big]
#
# Builds a directory tree that exercises every ext4 fidelity item of issue 2, for
# `stamp mkfs DIR img` followed by compare_tree.py / check_ext4.sh / check_debugfs.py.
# Must run as root (device nodes, 32-bit owners, trusted.* xattrs, setcap).
# DIR must not exist or be empty. Deterministic content (fixed seeds, fixed times).
#
# --big adds: a 100,000-entry directory, a sparse 4.5 GiB file with data at several
# offsets (7 data segments, so it needs an extent tree of depth >= 1), and a 140 MiB
# dense file (needs more than one extent: an extent covers at most 128 MiB).
#
# Layout (paths are relative to DIR; tests may rely on them):
#   files/empty files/small files/random3m(1234:5678,user.foo) files/zeros64k
#   files/year2100 files/pre1970 files/setuid files/setgid files/owner32(100000:200000)
#   links/a/hl links/b/hl links/c/hl          one inode, 3 names in 3 directories
#   symlinks/short symlinks/long107 symlinks/long300 symlinks/dangling
#   dev/null(c 1 3) dev/sda1(b 8 1) dev/bigdev(c 300 70000) dev/fifo dev/socket
#   modes/sticky(dir 1777) modes/sgid-dir(2775) modes/all(7777 file)
#   xattrs/ns-all(user,trusted,security.capability,security.selinux)
#   xattrs/acl-file(access ACL) xattrs/acl-dir(access+default ACL)
#   xattrs/big-dir(2000-byte user.big: spills to an xattr block)
#   xattrs/shared1 xattrs/shared2 (identical large sets: one shared xattr block)
#   sparse/10m(one 4 KiB block at 5 MiB) sparse/hole-end(data then hole to the end)
#   names/<255-byte name> names/<UTF-8 names>
#   dir2000/f0000..f1999
#   big/dir100k/...  big/sparse4g5  big/dense140m      (--big only)
set -euo pipefail

usage() { echo "usage: $0 DIR [--big]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1; shift
big=0
for a in "$@"; do
  case "$a" in --big) big=1 ;; *) usage ;; esac
done
[ "$(id -u)" = 0 ] || { echo "make_fixture: must run as root" >&2; exit 1; }
for t in setfattr setfacl setcap python3 mknod truncate dd; do
  command -v "$t" >/dev/null || { echo "make_fixture: missing tool $t (packages attr, acl, libcap2-bin, coreutils, python3)" >&2; exit 1; }
done
mkdir -p "$dir"
[ -z "$(ls -A "$dir")" ] || { echo "make_fixture: $dir is not empty" >&2; exit 1; }
dir=$(cd "$dir" && pwd)
cd "$dir"

T='2001-02-03 04:05:06.123456789'     # the fixture's reference time (ns!)
# atime reference: in the FUTURE on purpose. With the default `relatime` mount option the
# kernel updates atime on a read whenever atime <= ctime (ctime is "now" on a fresh tree), so any
# past atime would be replaced as soon as the writer (or mke2fs) reads the file. An atime later
# than ctime and than "now" is left alone, so the source keeps the value the image should carry.
A='2035-03-04 05:06:07.987654321'

# ---- regular files ---------------------------------------------------------------
mkdir files
: > files/empty
printf 'hello, ext4\n' > files/small
python3 - <<'EOF'
import random
r = random.Random(1234)
with open('files/random3m', 'wb') as f:
    f.write(r.randbytes(3 << 20))
with open('files/zeros64k', 'wb') as f:          # all-zero data (a writer may turn it into holes)
    f.write(bytes(64 << 10))
EOF
chown 1234:5678 files/random3m
setfattr -n user.foo -v bar files/random3m
printf 'owner32\n' > files/owner32;  chown 100000:200000 files/owner32
printf 'suid\n' > files/setuid;      chmod 4755 files/setuid
printf 'sgid\n' > files/setgid;      chmod 2755 files/setgid
printf 'y2100\n' > files/year2100;   touch -m -d '2100-01-01 00:00:00.5' files/year2100   # needs epoch bits
printf 'pre70\n' > files/pre1970;    touch -m -d '1960-06-07 08:09:10.25' files/pre1970   # negative seconds

# ---- hard links across directories -----------------------------------------------
mkdir -p links/a links/b links/c
printf 'linked\n' > links/a/hl
ln links/a/hl links/b/hl
ln links/a/hl links/c/hl-other-name
chmod 0640 links/a/hl

# ---- symlinks --------------------------------------------------------------------
mkdir symlinks
ln -s ../files/small symlinks/short                                   # < 60 bytes: fast symlink
ln -s "$(printf '../%.0s' $(seq 1 32))files/small" symlinks/long107    # 32*3 + 11 = 107 bytes
ln -s "/$(head -c 299 /dev/zero | tr '\0' 'x')" symlinks/long300        # 300 bytes
ln -s does/not/exist symlinks/dangling
ln -s "$(head -c 59 /dev/zero | tr '\0' 'y')" symlinks/exactly59      # boundary: still fast
ln -s "$(head -c 60 /dev/zero | tr '\0' 'z')" symlinks/exactly60      # boundary: slow (needs a block)

# ---- special files -----------------------------------------------------------------
mkdir dev
mknod dev/null c 1 3
mknod dev/sda1 b 8 1
mknod dev/bigdev c 300 70000          # major/minor > 255: new encoding
mknod dev/bigminor b 7 300            # only minor > 255
mkfifo dev/fifo
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' dev/socket
chmod 0666 dev/null; chmod 0660 dev/sda1; chmod 0620 dev/fifo

# ---- mode bits -------------------------------------------------------------------
mkdir modes
mkdir modes/sticky;   chmod 1777 modes/sticky
mkdir modes/sgid-dir; chmod 2775 modes/sgid-dir
printf 'all\n' > modes/all; chmod 7777 modes/all
printf 'none\n' > modes/none; chmod 0000 modes/none

# ---- xattrs of every namespace, ACLs, spill and sharing ------------------------------
mkdir xattrs
printf 'ns\n' > xattrs/ns-all
setfattr -n user.color -v blue xattrs/ns-all
setfattr -n trusted.overlay.opaque -v y xattrs/ns-all
setcap cap_net_raw,cap_net_admin+ep xattrs/ns-all                    # security.capability
setfattr -n security.selinux -v 'system_u:object_r:bin_t:s0' xattrs/ns-all
setfattr -n user.empty xattrs/ns-all                                  # empty value
printf 'acl\n' > xattrs/acl-file
setfacl -m u:1000:rx,g:2000:r,m::rwx xattrs/acl-file
mkdir xattrs/acl-dir
setfacl -m u:1000:rwx xattrs/acl-dir
setfacl -d -m u:1000:rx,g:100000:rwx,o::r xattrs/acl-dir
mkdir xattrs/big-dir
setfattr -n user.big -v "0x$(python3 -c 'print((bytes(range(256))*8)[:2000].hex())')" xattrs/big-dir
for f in shared1 shared2; do
  printf '%s\n' "$f" > xattrs/$f
  setfattr -n user.shared.a -v "$(head -c 900 /dev/zero | tr '\0' 'a')" xattrs/$f
  setfattr -n user.shared.b -v "$(head -c 900 /dev/zero | tr '\0' 'b')" xattrs/$f
  setfattr -n trusted.shared -v "0x0102030405" xattrs/$f
done
# symlinks can carry trusted/security xattrs (user.* is not allowed on symlinks)
setfattr -h -n trusted.onlink -v 1 symlinks/short

# ---- sparse files ------------------------------------------------------------------
mkdir sparse
truncate -s 10M sparse/10m
python3 - <<'EOF'
import random
r = random.Random(10)
with open('sparse/10m', 'r+b') as f:
    f.seek(5 << 20); f.write(r.randbytes(4096))
with open('sparse/hole-end', 'wb') as f:
    f.write(r.randbytes(10000)); f.truncate(3 << 20)
with open('sparse/hole-start', 'wb') as f:
    f.seek(2 << 20); f.write(r.randbytes(5000))
EOF

# ---- names -----------------------------------------------------------------------
mkdir names
n255=$(head -c 255 /dev/zero | tr '\0' 'n')
printf 'long name\n' > "names/$n255"
mkdir "names/d$(head -c 254 /dev/zero | tr '\0' 'd')"
printf 'utf8\n' > "names/ünïcödé-名前-🙂"
printf 'sp\n' > "names/with space and 'quote'"
printf 'nl\n' > "names/tab	and-dash-"
# 255 bytes of multi-byte UTF-8: 85 x 3-byte characters
u255=$(python3 -c 'print("語"*85, end="")')
printf 'u255\n' > "names/$u255"

# ---- a 2000-entry directory (more than one block: needs htree) ----------------------
mkdir dir2000
python3 - <<'EOF'
import os
for i in range(2000):
    with open(f'dir2000/f{i:04d}-{"x" * (i % 40)}', 'wb') as f:
        if i % 100 == 0: f.write(b'%d\n' % i)
EOF

# ---- --big -----------------------------------------------------------------------
if [ $big = 1 ]; then
  mkdir -p big/dir100k
  python3 - <<'EOF'
import os
d = 'big/dir100k'
for i in range(100000):
    fd = os.open(f'{d}/entry-{i:06d}', os.O_CREAT | os.O_WRONLY, 0o644); os.close(fd)
for i in range(50):
    os.mkdir(f'{d}/subdir-{i:02d}')
EOF
  f=big/sparse4g5
  truncate -s $(( 4608 << 20 )) "$f"                                # 4.5 GiB
  # data segments (MiB offsets); the last one ends exactly at the end of the file
  for off in 0 512 1024 2048 3072 4096 4607; do
    dd if=/dev/urandom of="$f" bs=1M count=1 seek=$off conv=notrunc status=none
  done
  # a 2nd > 4 GiB file whose size is not block-aligned and ends in a hole
  truncate -s $(( (5 << 30) + 123 )) big/sparse5g-hole-end
  dd if=/dev/urandom of=big/sparse5g-hole-end bs=1M count=1 seek=4200 conv=notrunc status=none
  head -c 140M /dev/urandom > big/dense140m
fi

# ---- times last (creating entries above changed directory mtimes) -------------------
# Every entry gets the reference mtime and atime with nanoseconds (the two special files keep
# their own mtime). Setting times does not change any directory's mtime.
find . -mindepth 1 ! -path ./files/year2100 ! -path ./files/pre1970 -print0 | xargs -0 touch -h -m -d "$T"
find . -mindepth 1 ! -path ./files/year2100 -print0 | xargs -0 touch -h -a -d "$A"
touch -a -d '2101-01-01 00:00:00.75' files/year2100      # atime > mtime, see above
touch -h -m -d "$T" . ; touch -h -a -d "$A" .
echo "make_fixture: $(find . | wc -l) entries in $dir"
