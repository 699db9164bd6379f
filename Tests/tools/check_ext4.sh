#!/usr/bin/env bash
# check_ext4.sh IMAGE[?offset=BYTES]
#
# Strict offline validation of an ext4 image against stamp's target format (Debian
# bookworm's ext4 features, e2fsck silent, metadata consistent). Read-only; needs e2fsprogs.
#   1. `e2fsck -fn` exits 0 and prints nothing but its version line, the five "Pass N:" lines
#      and the summary line (e2fsck's "could be narrower/shorter" prompts exit 0 too, so any
#      other line is a failure and is printed).
#   2. `dumpe2fs -h`: feature line exactly the Debian bookworm ext4 line; signed_directory_hash;
#      half_md4; flex_bg size 16; 256-byte inodes with 32 extra bytes; 4096-byte blocks;
#      state clean; an internal journal in inode 8; journal UUID unset.
#   3. `dumpe2fs`: every group's block bitmap, inode bitmap and inode table lie inside the
#      blocks of that group's flex group.
# Exit 0 and one "check_ext4: OK ..." line, or non-zero and one "check_ext4: FAIL: reason"
# line (preceded by the offending output lines).
set -uo pipefail

want_features='has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize metadata_csum'

fail() { echo "check_ext4: FAIL: $*"; exit 1; }
[ $# -eq 1 ] || { echo "usage: $0 IMAGE[?offset=BYTES]" >&2; exit 2; }
img=$1
file=${img%%\?*}
[ -r "$file" ] || fail "$file: not readable"
for t in e2fsck dumpe2fs; do command -v $t >/dev/null || PATH=$PATH:/sbin:/usr/sbin; done
command -v e2fsck >/dev/null || fail "e2fsck not found (package e2fsprogs)"

# ---- 1. e2fsck -fn -------------------------------------------------------------------
out=$(e2fsck -fn "$img" 2>&1); rc=$?
bad=$(printf '%s\n' "$out" | grep -Ev \
  -e '^e2fsck [0-9.]+ \([0-9A-Za-z-]+\)$' \
  -e '^Pass 1: Checking inodes, blocks, and sizes$' \
  -e '^Pass 2: Checking directory structure$' \
  -e '^Pass 3: Checking directory connectivity$' \
  -e '^Pass 4: Checking reference counts$' \
  -e '^Pass 5: Checking group summary information$' \
  -e '^.+: [0-9]+/[0-9]+ files \([0-9.]+% non-contiguous\), [0-9]+/[0-9]+ blocks$' \
  -e '^$')
if [ $rc -ne 0 ] || [ -n "$bad" ]; then
  printf '%s\n' "$out" | grep -Ev -e '^Pass [1-5]: ' -e '^e2fsck [0-9.]+ ' | head -50
  n=$(printf '%s\n' "$bad" | grep -c .)
  fail "e2fsck -fn exit $rc, $n unexpected output line(s); first: $(printf '%s\n' "$bad" | grep -m1 .)"
fi
npass=$(printf '%s\n' "$out" | grep -c '^Pass [1-5]: ')
[ "$npass" -eq 5 ] || fail "e2fsck -fn printed $npass pass lines, expected 5"
summary=$(printf '%s\n' "$out" | grep -E ' files \(.*\), .* blocks$')

# ---- 2. dumpe2fs -h ------------------------------------------------------------------
hdr=$(dumpe2fs -h "$img" 2>/dev/null) || fail "dumpe2fs -h failed: $(dumpe2fs -h "$img" 2>&1 | tail -1)"
field() { printf '%s\n' "$hdr" | sed -n "s/^$1:[[:space:]]*//p" | head -1 | sed 's/[[:space:]]*$//'; }
expect() {  # expect "Field name" "wanted value"
  local got; got=$(field "$1")
  [ "$got" = "$2" ] || fail "dumpe2fs: $1: '$got', expected '$2'"
}
expect 'Filesystem features' "$want_features"
expect 'Filesystem flags' 'signed_directory_hash'
expect 'Default directory hash' 'half_md4'
expect 'Flex block group size' '16'
expect 'Inode size' '256'
expect 'Required extra isize' '32'
expect 'Block size' '4096'
expect 'Filesystem state' 'clean'
expect 'Journal inode' '8'
expect 'Filesystem magic number' '0xEF53'
expect 'Checksum type' 'crc32c'
[ -n "$(field 'Journal backup')" ] || fail "dumpe2fs: no 'Journal backup' line"
jsize=$(field 'Total journal size')
[ -n "$jsize" ] || fail "dumpe2fs: no journal information (Total journal size missing)"
ju=$(field 'Journal UUID'); [ -z "$ju" ] || [ "$ju" = '<none>' ] || fail "dumpe2fs: Journal UUID '$ju' set on an internal journal"
bpg=$(field 'Blocks per group'); bcount=$(field 'Block count')

# ---- 3. per-group layout inside the flex group ----------------------------------------
layout=$(dumpe2fs "$img" 2>/dev/null | awk -v bpg="$bpg" -v flex=16 '
  /^Group [0-9]+:/ { g = $2 + 0 }
  /Block bitmap at / { if (match($0, /Block bitmap at [0-9]+/)) chk(g, substr($0, RSTART + 16, RLENGTH - 16), "block bitmap") }
  /Inode bitmap at / { if (match($0, /Inode bitmap at [0-9]+/)) chk(g, substr($0, RSTART + 16, RLENGTH - 16), "inode bitmap") }
  /Inode table at /  { if (match($0, /Inode table at [0-9]+/))  chk(g, substr($0, RSTART + 15, RLENGTH - 15), "inode table") }
  function chk(g, blk, what) {
    n++
    if (int(int(blk) / bpg / flex) != int(g / flex)) { printf "group %d: %s at block %s is outside flex group %d\n", g, what, blk, int(g / flex); bad++ }
  }
  END { if (!n) print "no group descriptors parsed"; exit (bad || !n) }')
[ $? -eq 0 ] || { printf '%s\n' "$layout" | head -20; fail "per-group layout: $(printf '%s\n' "$layout" | head -1)"; }

echo "check_ext4: OK $img ($bcount blocks of 4096, journal $jsize; ${summary##*: })"
