#!/usr/bin/env bash
# Benchmarks/mkfs.sh [--runs N] [--trees boot,usr] [--cache cold,warm] [--work DIR]
#                    [--usr-src DIR] [--inode-ratio N] [--journal-size MiB] [--check] [--keep-images]
#
# `stamp mkfs` against `mke2fs -t ext4 -b 4096 -d` on the same trees, in one run:
#   boot  a bootable Debian bookworm root (scripts/debootstrap-root --with-kernel, cached;
#         ~570-880 MB, ~13-20k entries)
#   usr   a copy of the host's /usr (~6 GB, ~140k entries; whatever /usr holds here)
#   /abs/path  any other tree, used in place
# Per tree and page-cache state, each tool runs N times (default 5), alternating, writing a
# fresh image file in the same directory (same filesystem) each time:
#   cold  `sync; echo 3 > /proc/sys/vm/drop_caches` before every run: the tree is read from
#         the disk, as right after a debootstrap or on a build machine's first image
#   warm  the tree read once beforehand (cat of every file), so it is in the page cache
# Both tools end with their image on stable storage (mke2fs fsyncs on close, stamp fsyncs
# before its rename), and the old image is removed and `sync` run before each timed run.
# Wall time and peak RSS come from `/usr/bin/time -f '%e %M'`; the table shows medians, the
# ratio stamp/mke2fs of the medians and the goals (issue 24: ratio <= 0.3 on boot, <= 0.1 on
# usr, peak RSS <= 128 MiB), and stamp's own stage times (`--verbose`: scan, plan, write,
# medians) as entries/s and MB/s. Both tools get the same explicit size (DIB's rule, like `stamp mkfs --size
# auto`: `du -a -c -x` KiB / 0.6 + journal, plus 64 MiB of slack so small trees fit a 64 MiB
# journal, rounded up to 64 KiB), inode ratio (default 16384, mke2fs's) and journal size
# (default 64 MiB, DIB's), so they do the same work.
#
# Environment: STAMP_BIN (default .build/release/stamp), STAMP_CACHE (debootstrap cache).
# Test the harness itself with mke2fs on both sides:
#   STAMP_BIN=Benchmarks/fake-stamp-mke2fs Benchmarks/mkfs.sh --runs 1
# Must run as root (debootstrap, drop_caches, reading all of /usr). Raw runs: WORK/results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=5 trees=boot caches=cold,warm work=${BENCH_WORK:-/var/tmp/stamp-bench} usr_src=/usr
ratio=16384 journal=64 check=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --trees) trees=$2; shift 2 ;;
    --cache) caches=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --usr-src) usr_src=$2; shift 2 ;;
    --inode-ratio) ratio=$2; shift 2 ;;
    --journal-size) journal=$2; shift 2 ;;
    --check) check=1; shift ;;
    --keep-images) keep=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mkfs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
stamp=${STAMP_BIN:-.build/release/stamp}
case "$stamp" in /*) ;; *) stamp=$PWD/$stamp ;; esac
[ -x "$stamp" ] || { echo "mkfs.sh: STAMP_BIN $stamp is not executable (swift build -c release?)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "mkfs.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "mkfs.sh: must run as root" >&2; exit 1; }
mkdir -p "$work"; work=$(cd "$work" && pwd)

log() { echo "mkfs.sh: $*" >&2; }

prepare_tree() {  # prints the tree path
  local t=$1 d
  case "$t" in
    boot)
      d=$work/tree-boot
      if [ ! -e "$d/.bench-complete" ]; then
        rm -rf "$d"
        "$repo/scripts/debootstrap-root" "$d" --with-kernel >&2
        touch "$d/.bench-complete"
      fi ;;
    usr)
      d=$work/tree-usr
      if [ ! -e "$d/.bench-complete" ]; then
        rm -rf "$d"; mkdir -p "$d"
        log "copying $usr_src to $d (once; reused by later runs)"
        cp -a --sparse=always "$usr_src/." "$d/"
        touch "$d/.bench-complete"
      fi ;;
    /*) [ -d "$t" ] || { echo "mkfs.sh: $t is not a directory" >&2; exit 2; }; d=$t ;;
    *) echo "mkfs.sh: unknown tree $t (boot, usr or an absolute path)" >&2; exit 2 ;;
  esac
  echo "$d"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

results=$work/results.tsv
printf 'tree\tcache\tentries\tbytes\tsize_kib\ttool\trun\twall_s\tpeak_rss_kib\n' > "$results"
: > "$work/stages.txt"
rows=() stages=()
for tspec in ${trees//,/ }; do
  tree=$(prepare_tree "$tspec")
  t=$tspec; case "$t" in /*) t=$(basename "$t") ;; esac
  entries=$(find "$tree" -xdev | wc -l)
  bytes=$(du -s -x --apparent-size --block-size=1 "$tree" | cut -f1)
  du_kib=$(du -a -c -x -k "$tree" | tail -1 | cut -f1)
  size_kib=$(( (du_kib * 10 + 5) / 6 + journal * 1024 + 65536 ))
  size_kib=$(( (size_kib + 63) / 64 * 64 ))
  log "$t: $entries entries, $bytes bytes, du $du_kib KiB -> image ${size_kib} KiB"
  img_dir=$work/images; mkdir -p "$img_dir"
  for cache in ${caches//,/ }; do
    case "$cache" in cold|warm) ;; *) echo "mkfs.sh: unknown --cache $cache (cold, warm)" >&2; exit 2 ;; esac
    for ((r = 1; r <= runs; r++)); do
      for tool in mke2fs stamp; do
        img=$img_dir/$t-$tool.img
        rm -f "$img"; sync
        if [ "$cache" = cold ]; then
          echo 3 > /proc/sys/vm/drop_caches
        else
          find "$tree" -xdev -type f -print0 | xargs -0 -r cat > /dev/null 2>&1 || true
        fi
        if [ $tool = mke2fs ]; then
          cmd=(mke2fs -q -F -t ext4 -b 4096 -i "$ratio" -J size="$journal" -d "$tree" "$img" "${size_kib}k")
        else
          cmd=("$stamp" mkfs "$tree" "$img" --size "${size_kib}K" --inode-ratio "$ratio" --journal-size "$journal" --verbose)
        fi
        if ! /usr/bin/time -f '%e %M' -o "$work/time.out" "${cmd[@]}" > "$work/cmd.log" 2>&1; then
          cat "$work/cmd.log" >&2; log "FAILED: ${cmd[*]}"; exit 1
        fi
        read -r wall rss < <(tail -1 "$work/time.out")
        if [ $tool = stamp ]; then  # "stamp: scan N ms, plan N ms, write N ms"
          sed -n 's/^stamp: scan \([0-9]*\) ms, plan \([0-9]*\) ms, write \([0-9]*\) ms$/\1 \2 \3/p' "$work/cmd.log" \
            | awk -v t="$t" -v c="$cache" '{ print t, c, $0 }' >> "$work/stages.txt"
        fi
        log "$t $cache run $r $tool: ${wall} s, peak RSS $((rss / 1024)) MiB"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$cache" "$entries" "$bytes" "$size_kib" "$tool" "$r" "$wall" "$rss" >> "$results"
      done
    done
    pick() { awk -F'\t' -v t="$t" -v c="$cache" -v tool="$1" -v col="$2" '$1 == t && $2 == c && $6 == tool { print $col }' "$results" | median; }
    m_wall=$(pick mke2fs 8) s_wall=$(pick stamp 8) m_rss=$(pick mke2fs 9) s_rss=$(pick stamp 9)
    goal=0.3; [ "$t" = usr ] && goal=0.1
    stage=$(awk -v t="$t" -v c="$cache" '$1 == t && $2 == c { print $3, $4, $5 }' "$work/stages.txt" | sort -n -k3 \
      | awk '{ a[NR] = $0 } END { if (NR) print a[int((NR + 1) / 2)] }')
    if [ -n "$stage" ]; then
      read -r sc pl wr <<< "$stage"
      stages+=("$(awk -v t="$t" -v c="$cache" -v e="$entries" -v b="$bytes" -v sc="$sc" -v pl="$pl" -v wr="$wr" 'BEGIN {
        printf "%-5s %-5s scan %5d ms (%4.0fk entries/s)  plan %4d ms  write %5d ms (%5.0f MB/s of file data)\n", t, c, sc, e / (sc > 0 ? sc : 1), pl, wr, b / 1e3 / (wr > 0 ? wr : 1) }')")
    fi
    rows+=("$(awk -v t="$t" -v c="$cache" -v e="$entries" -v b="$bytes" -v mw="$m_wall" -v sw="$s_wall" -v mr="$m_rss" -v sr="$s_rss" -v g="$goal" 'BEGIN {
      r = (mw > 0) ? sw / mw : 0
      ok = (r <= g && sr <= 128 * 1024) ? "yes" : "NO"
      printf "%-5s %-5s %8d %8.0f %9.2f %9.2f %7.3f %8.1f %8.1f   <=%-4s %s\n", t, c, e, b / 1e6, mw, sw, r, mr / 1024, sr / 1024, g, ok }')")
  done
  if [ $check = 1 ]; then
    for tool in mke2fs stamp; do
      "$repo/Tests/tools/check_ext4.sh" "$img_dir/$t-$tool.img" >&2 || log "$t: $tool image fails check_ext4 (see above)"
    done
  fi
  [ $keep = 1 ] || rm -f "$img_dir/$t-mke2fs.img" "$img_dir/$t-stamp.img"
done

echo
echo "stamp mkfs vs mke2fs -t ext4 -b 4096 -d   (median of $runs runs per cell; stamp = $stamp)"
printf '%-5s %-5s %8s %8s %9s %9s %7s %8s %8s   %-6s %s\n' tree cache entries MB mke2fs_s stamp_s ratio mke2_MiB stamp_MiB goal met
for r in "${rows[@]}"; do echo "$r"; done
echo "(raw runs: $results; goal: ratio as shown and stamp peak RSS <= 128 MiB)"
if [ ${#stages[@]} -gt 0 ]; then
  echo "stamp's stages (the run with the median write time; --verbose):"
  for r in "${stages[@]}"; do echo "$r"; done
fi
