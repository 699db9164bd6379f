#!/usr/bin/env bash
# Benchmarks/dib.sh [--work DIR] [--runs N] [--only dib|stamp]
#
# stamp's disk-image-create against diskimage-builder (PyPI, the real one: loop devices,
# mount, mkfs, qemu-img) on the same command, in one run:
#
#   disk-image-create -x -t qcow2,vmdk --no-tmpfs -o OUT debian-minimal     (DIB_RELEASE=bookworm)
#
# For each tool: a cold build (a new, empty DIB_IMAGE_CACHE: debootstrap downloads the base
# system and apt every package), then a warm build (the same cache again: DIB's image cache of
# the debootstrapped base, and the apt archive cache). Both tools use the same mirror
# (DIB_DEBIAN_MIRROR, default deb.debian.org; DIB_DEBIAN_SECURITY_MIRROR, default
# security.debian.org/debian-security). Prints wall times, the ratio stamp/DIB and the
# output sizes. Goal (issue #4): cold at most half DIB's time, warm under a minute.
#
# Installs what it needs: diskimage-builder into a venv under the work directory, and the
# Debian packages DIB calls (sudo, kpartx, debootstrap, qemu-utils, dosfstools). Must run as
# root (DIB mounts loop devices; stamp needs root for the chroot).
# Environment: DIB_VERSION (pip specifier, default ==3.43.0), STAMP_DIB (stamp's
# disk-image-create, default .build/release/disk-image-create).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/.." && pwd)
work=${BENCH_WORK:-/var/tmp/stamp-bench-dib} runs=1 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;; --runs) runs=$2; shift 2 ;; --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "dib.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "dib.sh: must run as root" >&2; exit 1; }
stamp=${STAMP_DIB:-$repo/.build/release/disk-image-create}
[ -x "$stamp" ] || { echo "dib.sh: $stamp is not executable (swift build -c release)" >&2; exit 1; }
mkdir -p "$work"; work=$(cd "$work" && pwd)

need=()
for p in sudo:sudo kpartx:kpartx debootstrap:debootstrap qemu-img:qemu-utils mkfs.vfat:dosfstools; do
  command -v "${p%%:*}" >/dev/null || need+=("${p##*:}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "dib.sh: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=$work/venv
if [ ! -x "$venv/bin/disk-image-create" ]; then
  echo "dib.sh: installing diskimage-builder${DIB_VERSION:-==3.43.0} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "diskimage-builder${DIB_VERSION:-==3.43.0}"
fi

export DIB_RELEASE=bookworm
# DIB's own default security mirror (http://security.debian.org/, no path) does not serve
# bookworm here; both tools get the path stamp's debian-minimal uses by default.
export DIB_DEBIAN_SECURITY_MIRROR=${DIB_DEBIAN_SECURITY_MIRROR:-http://security.debian.org/debian-security}
results=$work/results; : > "$results"
build() {  # build TOOL PHASE RUN
  local tool=$1 phase=$2 r=$3 bin
  local cache=$work/cache-$tool-$r out=$work/out-$tool/$tool
  [ "$phase" = cold ] && rm -rf "$cache"
  rm -rf "$work/out-$tool" "$work/tmp-$tool"; mkdir -p "$work/out-$tool" "$work/tmp-$tool"
  if [ "$tool" = dib ]; then bin=$venv/bin/disk-image-create; else bin=$stamp; fi
  sync
  local start end
  start=$(date +%s%N)
  if ! PATH=$venv/bin:$PATH DIB_IMAGE_CACHE=$cache TMPDIR=$work/tmp-$tool \
      "$bin" -x -t qcow2,vmdk --no-tmpfs -o "$out" debian-minimal > "$work/$tool-$phase-$r.log" 2>&1; then
    echo "dib.sh: $tool $phase build failed; last lines of $work/$tool-$phase-$r.log:" >&2
    tail -n 20 "$work/$tool-$phase-$r.log" >&2
    exit 1
  fi
  end=$(date +%s%N)
  echo "$tool $phase $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') $(stat -c %s "$out.qcow2") $(stat -c %s "$out.vmdk")" >> "$results"
  qemu-img check -q -f qcow2 "$out.qcow2"
}
for ((r = 1; r <= runs; r++)); do
  for tool in dib stamp; do
    [ -n "$only" ] && [ "$only" != "$tool" ] && continue
    build "$tool" cold "$r"
    build "$tool" warm "$r"
  done
done
python3 - "$results" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(list); size = {}
for line in open(sys.argv[1]):
    tool, phase, s, q, v = line.split()
    t[(tool, phase)].append(float(s)); size[tool] = (int(q) / 2**20, int(v) / 2**20)
print(f"{'build':6} {'DIB s':>8} {'stamp s':>8} {'stamp/DIB':>10}")
for phase in ("cold", "warm"):
    d = statistics.median(t[("dib", phase)]) if ("dib", phase) in t else None
    s = statistics.median(t[("stamp", phase)]) if ("stamp", phase) in t else None
    ratio = f"{s / d:9.2f}x" if d and s else f"{'-':>10}"
    print(f"{phase:6} {d if d is None else round(d, 1)!s:>8} {s if s is None else round(s, 1)!s:>8} {ratio}")
for tool, (q, v) in size.items():
    print(f"{tool}: qcow2 {q:.1f} MiB, vmdk {v:.1f} MiB")
PY
