#!/usr/bin/env bash
# selftest.sh [WORKDIR]
#
# Proves the checking tools both pass and fail, using images made by mke2fs (not stamp):
#   - check_ext4.sh passes on `mke2fs -t ext4 -b 4096 -d` output (bare and at ?offset=),
#     fails on a wrong feature set and on an e2fsck error;
#   - compare_tree.py shows exactly mke2fs's known losses (root times, year-2100 timestamps;
#     every nanosecond with --ns), and catches deliberate mutations of the source tree;
#   - check_debugfs.py flags mke2fs's linear directories and unshared xattr blocks, and
#     passes the htree checks after `e2fsck -fD` indexed the directories.
# Must run as root (the fixture needs it). Takes about 30 s. Exit 0 iff every expectation held.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d /tmp/stamp-selftest.XXXXXX)}
mkdir -p "$work"
fails=0
ok()   { echo "ok   - $*"; }
bad()  { echo "FAIL - $*"; fails=$((fails + 1)); }
# expect RC PATTERN DESC -- CMD...   : CMD exits RC and its output matches PATTERN (grep -E)
expect() {
  local rc=$1 pat=$2 desc=$3; shift 4
  local out got
  out=$("$@" 2>&1); got=$?
  if [ "$got" = "$rc" ] && { [ -z "$pat" ] || grep -Eq -- "$pat" <<<"$out"; }; then ok "$desc"
  else bad "$desc (exit $got, wanted $rc; pattern '$pat')"; printf '%s\n' "$out" | tail -15 | sed 's/^/     | /'; fi
}

fx=$work/fx img=$work/fx.img
rm -rf "$fx" "$work"/*.img
"$here/make_fixture.sh" "$fx" >/dev/null || { echo "make_fixture failed"; exit 1; }
mke2fs -q -F -t ext4 -b 4096 -d "$fx" "$img" 128M
CT="python3 $here/compare_tree.py"; CD="python3 $here/check_debugfs.py"; CE=$here/check_ext4.sh

# ---- check_ext4.sh ---------------------------------------------------------------------
expect 0 '^check_ext4: OK' 'check_ext4 passes on a mke2fs image' -- $CE "$img"
truncate -s 300M "$work/disk.img"
mke2fs -q -F -t ext4 -b 4096 -E offset=$((2048 * 512)) -d "$fx" "$work/disk.img" 128M 2>/dev/null
expect 0 '^check_ext4: OK' 'check_ext4 passes via ?offset=' -- $CE "$work/disk.img?offset=$((2048 * 512))"
mke2fs -q -F -t ext4 -b 4096 -O ^metadata_csum "$work/nocsum.img" 64M
expect 1 'FAIL: dumpe2fs: Filesystem features' 'check_ext4 fails without metadata_csum' -- $CE "$work/nocsum.img"
mke2fs -q -F -t ext4 -b 4096 -O orphan_file "$work/orphan.img" 64M
expect 1 'FAIL: dumpe2fs: Filesystem features' 'check_ext4 fails with orphan_file' -- $CE "$work/orphan.img"
mke2fs -q -F -t ext4 -b 4096 -I 128 "$work/i128.img" 64M 2>/dev/null
expect 1 'FAIL' 'check_ext4 fails with 128-byte inodes' -- $CE "$work/i128.img"
cp --sparse=always "$img" "$work/links.img"
debugfs -w -R "set_inode_field /files/small links_count 5" "$work/links.img" 2>/dev/null
expect 1 'FAIL: e2fsck -fn exit 4' 'check_ext4 fails on a wrong link count' -- $CE "$work/links.img"

# ---- compare_tree.py ---------------------------------------------------------------------
# mke2fs 1.47.0: root times not copied; times past 2038 wrapped (no epoch bits); ns dropped
expect 1 'compare_tree: [0-9]+ entries, 4 differences' 'compare_tree: mke2fs image = 4 known differences' -- $CT "$fx" "$img"
expect 1 '^/files/year2100: mtime: image -192522496, source 4102444800' 'compare_tree: sees mke2fs wrapping year 2100' -- $CT "$fx" "$img" --ignore-root-times
expect 1 '^/dir2000/f1999-x+: mtime: image 981173106.000000000, source 981173106.123456789' 'compare_tree --ns: sees the dropped nanoseconds' -- $CT "$fx" "$img" --ns
expect 1 'entries, 2 differences' 'compare_tree: same result through ?offset=' -- $CT "$fx" "$work/disk.img?offset=$((2048 * 512))" --ignore-root-times
expect 1 'entries, 2 differences' 'compare_tree: same result through --offset' -- $CT "$fx" "$work/disk.img" --offset $((2048 * 512)) --ignore-root-times
# a mutated copy of the source against the image of the original
m=$work/mut
rm -rf "$m"; cp -a --sparse=always "$fx" "$m"
printf 'X' | dd of="$m/files/random3m" bs=1 seek=2000000 conv=notrunc status=none
chmod 4711 "$m/files/small"
chown 100001:200000 "$m/files/owner32"
setfattr -n user.foo -v baz "$m/files/random3m"
setfattr -x security.capability "$m/xattrs/ns-all"
setfacl -m u:1001:r "$m/xattrs/acl-file"
rm "$m/links/c/hl-other-name"; printf 'linked\n' > "$m/links/c/hl-other-name"; chmod 0640 "$m/links/c/hl-other-name"
ln -sfn ../files/other "$m/symlinks/short"
rm "$m/dev/null"; mknod "$m/dev/null" c 1 5
rm "$m/dev/fifo"; printf 'fifo\n' > "$m/dev/fifo"
rm "$m/names/ünïcödé-名前-🙂"; touch "$m/names/new-file"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(1<<20); f.write(b"data")' "$m/sparse/10m"
find "$m" -mindepth 1 -print0 | xargs -0 touch -h -m -d '2001-02-03 04:05:06.123456789'
touch -h -m -d '2100-01-01 00:00:00.5' "$m/files/year2100"
mutout=$($CT "$m" "$img" --ignore-root-times 2>&1); mutrc=$?
for want in '^/files/random3m: content differs at byte 2000000' \
            '^/files/random3m: xattr user.foo: image' \
            '^/files/small: mode: image 0644, source 4711' \
            '^/files/owner32: owner: image 100000:200000, source 100001:200000' \
            '^/xattrs/ns-all: xattr security.capability: extra in image' \
            '^/xattrs/acl-file: xattr system.posix_acl_access: image' \
            '^/links/a/hl: nlink: image 3, 2 names in source tree' \
            '^/links/c/hl-other-name: hardlink: image inode' \
            "^/symlinks/short: symlink: image '../files/small', source '../files/other'" \
            '^/dev/null: rdev: image 1:3, source 1:5' \
            '^/dev/fifo: type' \
            '^/names/ünïcödé-名前-🙂: extra in image' \
            '^/names/new-file: missing in image' \
            '^/sparse/10m: content differs at byte 1048576' ; do
  expect 1 "$want" "compare_tree catches: $want" -- sh -c 'printf "%s\n" "$1"; exit "$2"' sh "$mutout" "$mutrc"
done
# holes: a source hole that the image allocates (image made from a dense copy)
d=$work/dense; rm -rf "$d"; mkdir -p "$d"
python3 -c 'import sys; open(sys.argv[1],"wb").write(b"\1" * (1 << 20))' "$d/f"
mke2fs -q -F -t ext4 -b 4096 -d "$d" "$work/dense.img" 64M
truncate -s 0 "$d/f"; truncate -s 1M "$d/f"
expect 1 '^/f: sparse: 256 block\(s\) that are holes in the source are allocated' 'compare_tree catches a hole allocated in the image' -- $CT "$d" "$work/dense.img" --ignore-root-times

# ---- check_debugfs.py ------------------------------------------------------------------
expect 1 '^/dir2000: directory of [0-9]+ bytes without INDEX_FL' 'check_debugfs: mke2fs dirs are linear (no htree)' -- $CD "$fx" "$img" --ignore-root-times
expect 1 '^/xattrs/shared1: identical xattr sets of 2 inodes use 2 xattr blocks' 'check_debugfs: mke2fs does not share xattr blocks' -- $CD "$fx" "$img" --ignore-root-times
expect 1 '^/files/year2100: mtime: image -192522496' 'check_debugfs: sees the wrapped year-2100 mtime' -- $CD "$fx" "$img" --ignore-root-times
expect 1 '^/files/small: mode: image 0644, source 4711' 'check_debugfs catches a mode change' -- $CD "$m" "$img" --ignore-root-times /files/small
expect 1 '^/dev/null: device: image \(1, 3\), source \(1, 5\)' 'check_debugfs catches a device number change' -- $CD "$m" "$img" /dev/null
expect 1 'mtime: image 981173106.000000000, source 981173106.123456789' 'check_debugfs --ns sees the dropped nanoseconds' -- $CD "$fx" "$img" --ns /files/small
cp --sparse=always "$img" "$work/indexed.img"
e2fsck -fyD "$work/indexed.img" >/dev/null 2>&1
expect 0 'check_debugfs: [0-9]+ entries, 0 differences' 'check_debugfs passes on e2fsck -fD output (given paths)' -- \
  $CD "$fx" "$work/indexed.img" /dir2000 /files/random3m /xattrs/ns-all /xattrs/acl-dir /xattrs/big-dir /dev/bigdev /dev/bigminor /symlinks/short /symlinks/long300 /sparse/10m /links/b/hl
expect 0 '^check_ext4: OK' 'check_ext4 passes on e2fsck -fD output' -- $CE "$work/indexed.img"

echo "selftest: $fails failure(s)"
[ $fails = 0 ]
