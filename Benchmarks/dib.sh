#!/usr/bin/env bash
# Benchmarks/dib.sh [--work DIR] [--runs N] [--only TOOL[,TOOL]]   (TOOL: dib, stamp, stamp-user)
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
# The third column, stamp-user, is the same stamp build as an ordinary user (issue 11): a
# throwaway user `stamp-bench-u` with a subordinate range (made here, removed at the end)
# runs it through setpriv, so it goes through the user namespace; goal: at most 1.1 times the
# root build's time, cold and warm. Runs interleave (dib, stamp, stamp-user, dib, ...).
# Each build's CPU time (user + system over its whole process tree, GNU time) is printed too:
# on a shared machine wall times move with other load, CPU times much less.
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
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
[ -x /usr/bin/time ] || need+=(time)
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
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
user=stamp-bench-u
if wanted stamp-user; then
  # An ordinary user with a subordinate range past every other one (as useradd would give).
  userdel "$user" 2>/dev/null || true; sed -i "/^$user:/d" /etc/subuid /etc/subgid
  useradd -M -d /nonexistent -s /usr/sbin/nologin "$user"
  sed -i "/^$user:/d" /etc/subuid /etc/subgid
  start=$(cat /etc/subuid /etc/subgid | awk -F: 'NF==3 { e = $2 + $3; if (e > m) m = e } END { print (m > 100000 ? m : 100000) }')
  echo "$user:$start:65536" >> /etc/subuid; echo "$user:$start:65536" >> /etc/subgid
  trap 'pkill -KILL -u "$user" 2>/dev/null || true; sed -i "/^$user:/d" /etc/subuid /etc/subgid; userdel "$user" 2>/dev/null || true' EXIT
fi
build() {  # build TOOL PHASE RUN
  local tool=$1 phase=$2 r=$3 bin
  local cache=$work/cache-$tool-$r out=$work/out-$tool/$tool as=()
  [ "$phase" = cold ] && rm -rf "$cache"
  rm -rf "$work/out-$tool" "$work/tmp-$tool"; mkdir -p "$work/out-$tool" "$work/tmp-$tool"
  if [ "$tool" = dib ]; then bin=$venv/bin/disk-image-create; else bin=$stamp; fi
  if [ "$tool" = stamp-user ]; then
    mkdir -p "$cache"; chown -R "$user" "$cache" "$work/out-$tool" "$work/tmp-$tool"; chmod 755 "$work"
    as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups env HOME=/nonexistent)
  fi
  sync
  local start end
  start=$(date +%s%N)
  if ! PATH=$venv/bin:$PATH DIB_IMAGE_CACHE=$cache TMPDIR=$work/tmp-$tool \
      /usr/bin/time -f '%U %S' -o "$work/cpu" \
      "${as[@]}" "$bin" -x -t qcow2,vmdk --no-tmpfs -o "$out" debian-minimal > "$work/$tool-$phase-$r.log" 2>&1; then
    echo "dib.sh: $tool $phase build failed; last lines of $work/$tool-$phase-$r.log:" >&2
    tail -n 20 "$work/$tool-$phase-$r.log" >&2
    exit 1
  fi
  end=$(date +%s%N)
  echo "$tool $phase $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') $(stat -c %s "$out.qcow2") $(stat -c %s "$out.vmdk") $(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu")" >> "$results"
  qemu-img check -q -f qcow2 "$out.qcow2"
}
for ((r = 1; r <= runs; r++)); do
  for tool in dib stamp stamp-user; do
    wanted "$tool" || continue
    build "$tool" cold "$r"
    build "$tool" warm "$r"
  done
done
python3 - "$results" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(list); cpu = collections.defaultdict(list); size = {}
for line in open(sys.argv[1]):
    tool, phase, s, q, v, c = line.split()
    t[(tool, phase)].append(float(s)); cpu[(tool, phase)].append(float(c))
    size[tool] = (int(q) / 2**20, int(v) / 2**20)
def median(tool, phase):
    return statistics.median(t[(tool, phase)]) if (tool, phase) in t else None
def show(v):
    return "-" if v is None else f"{v:.1f}"
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"
print(f"{'build':6} {'DIB s':>8} {'stamp s':>8} {'user s':>8} {'stamp/DIB':>10} {'user/root':>10}")
for phase in ("cold", "warm"):
    d, s, u = median("dib", phase), median("stamp", phase), median("stamp-user", phase)
    print(f"{phase:6} {show(d):>8} {show(s):>8} {show(u):>8} {ratio(s, d):>10} {ratio(u, s):>10}")
print("CPU seconds (user + system of the whole process tree; other load does not change them):")
for phase in ("cold", "warm"):
    d, s, u = (statistics.median(cpu[(k, phase)]) if (k, phase) in cpu else None for k in ("dib", "stamp", "stamp-user"))
    print(f"{phase:6} {show(d):>8} {show(s):>8} {show(u):>8} {ratio(s, d):>10} {ratio(u, s):>10}")
for tool, (q, v) in size.items():
    print(f"{tool}: qcow2 {q:.1f} MiB, vmdk {v:.1f} MiB")
PY
