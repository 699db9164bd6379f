#!/usr/bin/env bash
# Benchmarks/fuzz.sh [--minutes N] [--targets a,b] [--work DIR] [--no-build]
#
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of every reader and parser:
# qcow2, vmdk, vhd, partition-table, block-device, package-installs, element-deps,
# dib-command-line (the functions of Sources/StampFuzzing; see Fuzz/README.md).
#
# Builds the Fuzz/ package into .build-fuzz (away from the main .build) with
#   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
#       -Xswiftc -sanitize=fuzzer,address
# then runs each target for N minutes (default 10), one after the other, one job each
# (-rss_limit_mb=2048 -timeout=10), starting from Fuzz/corpus/<target> and the reproducers
# in Fuzz/crashes/<target>. New inputs go to DIR/corpus/<target>, crashes to
# DIR/artifacts/<target>/ (libFuzzer stops a target at its first crash). Per-target results
# (seconds run, executions, exec/s, coverage edges and features, corpus size, new units,
# peak RSS, crashes) are appended to DIR/results.tsv and printed as a table.
# A crash: minimize it (fuzz-<t> -minimize_crash=1 -runs=10000 FILE), add it to
# Fuzz/crashes/<target>/, fix the reader, rerun.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/.." && pwd)
all=qcow2,vmdk,vhd,partition-table,block-device,package-installs,element-deps,dib-command-line
minutes=10 targets=$all work=${FUZZ_WORK:-/var/tmp/stamp-fuzz} build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;; --targets) targets=$2; shift 2 ;;
    --work) work=$2; shift 2 ;; --no-build) build=0; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
scratch=$repo/.build-fuzz
mkdir -p "$work"

if [ "$build" = 1 ]; then
  # The Fuzz package pins the main package's dependency versions and, offline, reuses its clones.
  if [ -f "$repo/Package.resolved" ] && [ ! -f "$repo/Fuzz/Package.resolved" ]; then
    cp "$repo/Package.resolved" "$repo/Fuzz/Package.resolved"
  fi
  if [ -d "$repo/.build/repositories" ] && [ ! -d "$scratch/repositories" ]; then
    mkdir -p "$scratch" && cp -r "$repo/.build/repositories" "$scratch/"
  fi
fi
# The toolchain's lld links the fuzzers: GNU gold, the default here, dies with an internal
# error on libFuzzer's main beside SwiftPM's renamed entry point.
lld=$(dirname "$(readlink -f "$(command -v swift)")")/ld.lld
[ -x "$lld" ] || { echo "fuzz.sh: no ld.lld beside swift ($lld)" >&2; exit 2; }
mkdir -p "$scratch"
printf '{"schemaVersion": "1.0", "linker": {"path": "%s"}}\n' "$lld" >"$scratch/toolset.json"
flags=(-c release --package-path "$repo/Fuzz" --scratch-path "$scratch" --toolset "$scratch/toolset.json"
       -Xswiftc -sanitize=fuzzer,address)
[ "$build" = 1 ] && swift build "${flags[@]}"
bin=$(swift build "${flags[@]}" --show-bin-path)

results=$work/results.tsv
[ -f "$results" ] || printf 'date\ttarget\tseconds\texecs\texec_per_s\tcov\tft\tcorpus\tnew_units\tpeak_rss_mb\tcrashes\n' >"$results"
summary=()
IFS=, read -r -a list <<<"$targets"
for t in "${list[@]}"; do
  exe=$bin/fuzz-$t
  [ -x "$exe" ] || { echo "fuzz.sh: no fuzzer $exe (targets: $all)" >&2; exit 2; }
  corpus=$work/corpus/$t artifacts=$work/artifacts/$t log=$work/$t.log
  mkdir -p "$corpus" "$artifacts"
  seeds=("$repo/Fuzz/corpus/$t")
  [ -d "$repo/Fuzz/crashes/$t" ] && seeds+=("$repo/Fuzz/crashes/$t")
  case "$t" in
    qcow2|vmdk|vhd|partition-table) maxlen=139264 ;;  # the largest seed image plus a little
    *) maxlen=8192 ;;
  esac
  before=$(find "$artifacts" -type f | wc -l)
  echo "== $t: $minutes min (log $log)"
  start=$(date +%s)
  set +e
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$exe" -max_total_time=$((minutes * 60)) \
    -rss_limit_mb=2048 -timeout=10 -max_len=$maxlen -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
  last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1 || true)
  field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$last"; }
  crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
  row="$(date -u +%F)\t$t\t$seconds\t$(stat number_of_executed_units)\t$(stat average_exec_per_sec)\t$(field cov)\t$(field ft)\t$(field corp)\t$(stat new_units_added)\t$(stat peak_rss_mb)\t$crashes"
  printf "$row\n" >>"$results"
  summary+=("$row")
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    echo "   exit $rc, $crashes new artifact(s) in $artifacts:"; grep -m3 -E 'ERROR|Fatal|SUMMARY|crashed' "$log" | sed 's/^/   /' || true
  fi
done

printf '\n%-18s %7s %11s %8s %6s %6s %6s %6s %8s\n' target seconds execs exec/s cov ft corpus rss_mb crashes
for row in "${summary[@]}"; do
  IFS=$'\t' read -r _ t s e eps cov ft corp _ rss c <<<"$(printf "$row")"
  printf '%-18s %7s %11s %8s %6s %6s %6s %6s %8s\n' "$t" "$s" "$e" "$eps" "$cov" "$ft" "$corp" "$rss" "$c"
done
echo "results: $results"
