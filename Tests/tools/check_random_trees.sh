#!/usr/bin/env bash
# check_random_trees.sh [--seeds FIRST-LAST | --fresh N] [--work DIR] [--jobs J] [--entries N] [--pack] [--keep]
#
# Property test of `stamp mkfs`: for every seed, random_tree.py builds a random tree (hard
# links across subtrees at random depths, every file type, modes 0000..7777, 32-bit owners,
# times from 1901 to 2300 with ns, xattrs of every namespace and ACLs, sparse files, 255-byte
# and non-UTF-8 names), `stamp mkfs --size auto` writes it, and the image must pass
#   check_ext4.sh    e2fsck -fn exit 0 and silent, plus the exact feature line and geometry
#   compare_tree.py  every entry equal in dissect.extfs, ns times, owners, modes, xattrs,
#                    link counts and hard-link identity (--ns)
# --pack writes each tree with `stamp pack TREE -o OUT -t raw` (default --size auto and GPT
# layout) instead, and checks the root partition (the largest, found with sfdisk --json) in place.
# --seeds takes a fixed range (CI); --fresh N draws N new seeds from /dev/urandom (the
# benchmark-style run), printed so that a failure can be replayed with --seeds S-S.
# Closing line: `random trees: N checked, M failed` (and the failing seeds); exit 1 on any
# failure. Needs root, python3, e2fsprogs, dissect.extfs. STAMP_BIN picks the binary.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seeds=() work=${TMPDIR:-/tmp}/stamp-random-trees jobs=2 entries=400 keep=0 pack=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) first=${2%-*}; last=${2#*-}; seeds=($(seq "$first" "$last")); shift 2 ;;
    --fresh) for ((i = 0; i < $2; i++)); do seeds+=($(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); done; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --entries) entries=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --pack) pack=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_random_trees: unknown option $1" >&2; exit 2 ;;
  esac
done
((${#seeds[@]})) || { echo "check_random_trees: give --seeds FIRST-LAST or --fresh N" >&2; exit 2; }
stamp=${STAMP_BIN:-$repo/.build/release/stamp}
[ -x "$stamp" ] || { echo "check_random_trees: $stamp is not executable (swift build -c release?)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "check_random_trees: must run as root" >&2; exit 2; }
mkdir -p "$work"

# One seed: prints "ok SEED ENTRIES" or "FAIL SEED: reason" (with the evidence in WORK/SEED.log).
one() {
  local s=$1 d=$work/$1 log=$work/$1.log
  rm -rf "$d" "$d.img"
  if ! python3 "$here/random_tree.py" "$s" "$d" --entries "$entries" > "$log" 2>&1; then
    echo "FAIL $s: random_tree.py: $(tail -1 "$log")"; return
  fi
  local img=$d.img
  if [ $pack = 1 ]; then
    if ! "$stamp" pack "$d" -o "$d.disk" -t raw >> "$log" 2>&1; then
      echo "FAIL $s: stamp pack: $(tail -1 "$log")"; return
    fi
    local offset
    offset=$(sfdisk --json "$d.disk.raw" | python3 -c 'import json, sys
parts = json.load(sys.stdin)["partitiontable"]["partitions"]
print(max(parts, key=lambda p: p["size"])["start"] * 512)') || { echo "FAIL $s: sfdisk --json"; return; }
    img="$d.disk.raw?offset=$offset"
  elif ! "$stamp" mkfs "$d" "$d.img" --size auto >> "$log" 2>&1; then
    echo "FAIL $s: stamp mkfs: $(tail -1 "$log")"; return
  fi
  if ! "$here/check_ext4.sh" "$img" >> "$log" 2>&1; then
    echo "FAIL $s: $(grep 'check_ext4: FAIL' "$log" | tail -1)"; return
  fi
  if ! python3 "$here/compare_tree.py" "$d" "$img" --ns >> "$log" 2>&1; then
    echo "FAIL $s: $(tail -1 "$log") (first: $(grep -v '^compare_tree:' "$log" | grep -v '^check_ext4\|^random_tree' | head -1 | cut -c1-300))"; return
  fi
  echo "ok $s $(tail -1 "$log" | awk '{ print $2 }')"
  [ $keep = 1 ] || rm -rf "$d" "$d.img" "$d.disk.raw" "$log"
}
export -f one
export work here stamp entries keep pack
results=$(printf '%s\n' "${seeds[@]}" | xargs -P "$jobs" -I{} bash -c 'one {}')
failed=$(printf '%s\n' "$results" | grep -c '^FAIL' || true)
checked=$(printf '%s\n' "$results" | grep -c '^\(ok\|FAIL\)' || true)
entries_total=$(printf '%s\n' "$results" | awk '$1 == "ok" { n += $3 } END { print n + 0 }')
printf '%s\n' "$results" | grep '^FAIL' || true
echo "random trees: $checked checked ($entries_total entries in the passing ones), $failed failed$( ((failed)) && printf ' (seeds %s)' "$(printf '%s\n' "$results" | awk '$1 == "FAIL" { sub(":", "", $2); printf "%s ", $2 }')")"
[ "$failed" = 0 ] && [ "$checked" = "${#seeds[@]}" ]
