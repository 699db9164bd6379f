#!/usr/bin/env bash
# Benchmarks/pack.sh [--runs N] [--tree DIR] [--work DIR] [--formats LIST]
#
# `stamp pack` against the peer pipeline DIB-style tools use, on the same bootable Debian root
# (scripts/debootstrap-root --with-kernel, cached), in one run:
#   peer raw   = truncate + sgdisk + mke2fs -d at the root partition's offset (no loop device)
#   peer FMT   = peer raw + qemu-img convert -O FMT (vmdk: subformat=streamOptimized; vhd: vpc)
#   peer ova   = peer vmdk + OVF descriptor + sha256sum manifest + tar
#   peer checked = peer ova, keeping the VMDK, + md5sum and sha256sum files of the VMDK and
#              the OVA (issue 24's acceptance case: stamp -t vmdk,ova --checksum)
#   peer all   = peer raw + one qemu-img convert per format + the OVA steps
# stamp writes the same disk (gpt layout, same size) with `stamp pack -t FMT` (default mode and
# --fast), and all five formats at once with `-t raw,qcow2,vmdk,vhd,ova`.
# Beside the ratios it prints where stamp's time went (the `stages:` line stamp logs: scan,
# plan, stream, finish; compression MB/s per core from the workers' thread CPU time; checksum
# MB/s) and the floor: the compression CPU spread over every core, i.e. the time of any
# pipeline that compresses the same data at the same level on this machine. Goals (issue 24):
# checked >= 8x with the VMDK no larger than qemu-img's, --fast >= 25x, peak RSS <= 128 MiB.
# Each timed command starts after `sync`, so no tool pays for another's writeback, and ends
# with its outputs on stable storage: stamp fsyncs each output before renaming it into place,
# mke2fs fsyncs on close, and the peer's other outputs (qemu-img's, the tar) get `sync FILE`
# (fsync) inside the timed command.
# Prints medians of wall time, the ratio peer/stamp (speed-up), output sizes and peak RSS.
# Environment: STAMP_BIN (default .build/release/stamp). Must run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/.." && pwd)
runs=3 tree="" work=${BENCH_WORK:-/var/tmp/stamp-bench} formats=checked,ova,vmdk,qcow2,vhd,raw,all
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;; --tree) tree=$2; shift 2 ;; --work) work=$2; shift 2 ;;
    --formats) formats=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pack.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
stamp=${STAMP_BIN:-$repo/.build/release/stamp}
[ -x "$stamp" ] || { echo "pack.sh: $stamp is not executable (swift build -c release)" >&2; exit 1; }
mkdir -p "$work"; work=$(cd "$work" && pwd)
if [ -z "$tree" ]; then
  tree=$work/tree-boot
  if [ ! -e "$tree/.bench-complete" ]; then rm -rf "$tree"; "$repo/scripts/debootstrap-root" "$tree" --with-kernel >&2; touch "$tree/.bench-complete"; fi
fi
out=$work/pack; rm -rf "$out"; mkdir -p "$out"
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); load at start $(cut -d' ' -f1-3 /proc/loadavg)"
tar cf - -C "$tree" . 2>/dev/null | cat >/dev/null   # warm the page cache

# One disk size for everybody: stamp's own auto size for this tree.
"$stamp" pack "$tree" -o "$out/probe" -t raw --layout gpt --no-bootloader >/dev/null 2>&1
disk=$(stat -c %s "$out/probe.raw"); rm -f "$out/probe.raw"

timed() {  # timed NAME CMD...: appends "NAME seconds rssKB cpuSeconds" to results
  local name=$1; shift
  # Every command starts from the same state: no dirty pages left by the previous one
  # (otherwise the previous tool's writeback is charged to the next).
  sync
  /usr/bin/time -f "%e %M %U %S" -o "$out/.time" "$@" >"$out/.log" 2>"$out/.err" || { cat "$out/.err" >&2; echo "pack.sh: $name failed" >&2; exit 1; }
  read -r wall rss user sys < "$out/.time"
  echo "$name $wall $rss $(echo "$user $sys" | awk '{ print $1 + $2 }')" >> "$out/results"
  # stamp's own stage figures (its last log line)
  grep -o 'stages: .*' "$out/.log" | sed "s/^/$name /" >> "$out/stages" || true
}
peer_raw() {
  rm -f "$out/peer.raw"; truncate -s "$disk" "$out/peer.raw"
  sgdisk -n1:2048:+8M -t1:EF02 -n2:0:0 -t2:8300 "$out/peer.raw" >/dev/null
  local start; start=$(sgdisk -i2 "$out/peer.raw" | awk '/First sector/ {print $3}')
  local end; end=$(sgdisk -i2 "$out/peer.raw" | awk '/Last sector/ {print $3}')
  mke2fs -q -F -t ext4 -b 4096 -E offset=$((start*512)) -d "$tree" "$out/peer.raw" $(( (end-start+1)/8 ))
}
peer_convert() {  # FMT
  case "$1" in
    vmdk) qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$out/peer.raw" "$out/peer.vmdk" ;;
    vhd) qemu-img convert -f raw -O vpc "$out/peer.raw" "$out/peer.vhd" ;;
    qcow2) qemu-img convert -f raw -O qcow2 "$out/peer.raw" "$out/peer.qcow2" ;;
  esac
}
peer_ova() {
  printf '<?xml version="1.0"?><Envelope/>\n' > "$out/peer.ovf"
  (cd "$out" && { echo "SHA256(peer.ovf)= $(sha256sum peer.ovf | cut -d' ' -f1)"; echo "SHA256(peer.vmdk)= $(sha256sum peer.vmdk | cut -d' ' -f1)"; } > peer.mf \
    && tar cf peer.ova peer.ovf peer.mf peer.vmdk)
}
peer_sums() {  # what `stamp --checksum` writes: OUT.FMT.md5 and OUT.FMT.sha256 per output
  (cd "$out" && for f in peer.vmdk peer.ova; do md5sum "$f" > "$f.md5"; sha256sum "$f" > "$f.sha256"; done)
}
peer_sync() { sync "$out"/peer.*; }  # fsync of every peer output (mke2fs's own already is)
export -f peer_raw peer_convert peer_ova peer_sums peer_sync; export out disk tree
for ((r = 1; r <= runs; r++)); do
  for f in ${formats//,/ }; do
    case "$f" in
      raw) timed "peer:raw" bash -c 'peer_raw && peer_sync' ;;
      ova) timed "peer:ova" bash -c 'peer_raw && peer_convert vmdk && peer_ova && peer_sync' ;;
      checked) timed "peer:checked" bash -c 'peer_raw && peer_convert vmdk && peer_ova && peer_sums && peer_sync' ;;
      all) timed "peer:all" bash -c 'peer_raw && peer_convert qcow2 && peer_convert vmdk && peer_convert vhd && peer_ova && peer_sync' ;;
      *) timed "peer:$f" bash -c "peer_raw && peer_convert $f && peer_sync" ;;
    esac
    size_of() { [ -e "$out/$1.$2" ] && echo "size $3 $(stat -c %s "$out/$1.$2")" >> "$out/sizes"; return 0; }
    ext=$f; [ "$f" = checked ] && ext=ova
    size_of peer "$ext" "peer:$f"; [ "$f" = checked ] && size_of peer vmdk "peer:$f.vmdk"
    t=$f extra=(); [ "$f" = all ] && t=raw,qcow2,vmdk,vhd,ova; [ "$f" = checked ] && t=vmdk,ova extra=(--checksum)
    timed "stamp:$f" "$stamp" pack "$tree" -o "$out/stamp" -t "$t" --layout gpt --size "$disk" --no-bootloader "${extra[@]}"
    size_of stamp "$ext" "stamp:$f"; [ "$f" = checked ] && size_of stamp vmdk "stamp:$f.vmdk"
    if [ "$f" != raw ] && [ "$f" != vhd ] && [ "$f" != all ]; then  # --fast is refused without a compressed output
      timed "stamp-fast:$f" "$stamp" pack "$tree" -o "$out/fast" -t "$t" --layout gpt --size "$disk" --no-bootloader --fast "${extra[@]}"
      size_of fast "$ext" "stamp-fast:$f"; [ "$f" = checked ] && size_of fast vmdk "stamp-fast:$f.vmdk"
    fi
    rm -f "$out"/peer.* "$out"/stamp.* "$out"/fast.*
  done
done
touch "$out/stages"
python3 - "$out/results" "$out/sizes" "$tree" "$disk" "$out/stages" "$(nproc)" "$machine" <<'PY'
import sys, statistics, collections, re
res = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, s, k, c = line.split(); res[n].append((float(s), int(k), float(c)))
sizes = {}
for line in open(sys.argv[2]):
    _, n, b = line.split(); sizes[n] = int(b)
med = lambda n: statistics.median(x[0] for x in res[n])
med_wall = med
rss = lambda n: max(x[1] for x in res[n]) / 1024
print(f"tree {sys.argv[3]}, disk {int(sys.argv[4]) >> 20} MiB, {len(next(iter(res.values())))} run(s)")
print(f"machine: {sys.argv[7]}; load at end {' '.join(open('/proc/loadavg').read().split()[:3])}")
print(f"{'format':8} {'peer s':>8} {'stamp s':>8} {'speed-up':>9} {'fast s':>8} {'speed-up':>9} {'peer MiB':>9} {'stamp MiB':>10} {'fast MiB':>9} {'RSS MiB':>8}")
for f in ["checked", "ova", "vmdk", "qcow2", "vhd", "raw", "all"]:
    if f"peer:{f}" not in res: continue
    p, s = med(f"peer:{f}"), med(f"stamp:{f}")
    fs = med(f"stamp-fast:{f}") if f"stamp-fast:{f}" in res else None
    mb = lambda k: f"{sizes[k] / 2**20:9.1f}" if k in sizes else f"{'-':>9}"
    print(f"{f:8} {p:8.2f} {s:8.2f} {p/s:8.1f}x {fs if fs is None else round(fs,2)!s:>8} {('-' if fs is None else f'{p/fs:.1f}x'):>9} {mb('peer:'+f)} {mb('stamp:'+f):>10} {mb('stamp-fast:'+f)} {rss('stamp:'+f):8.1f}")
if "stamp:all" in res and "stamp:ova" in res:
    print(f"all five formats / OVA alone (stamp): {med('stamp:all')/med('stamp:ova'):.2f}x")
cpu = lambda n: statistics.median(x[2] for x in res[n])
cores = int(sys.argv[6])
print(f"\nCPU seconds (user+sys, medians): " + ", ".join(f"{n} {cpu(n):.2f}" for n in sorted(res)))
# stamp's stage figures: medians per field over the runs of each command
stages = collections.defaultdict(list)
for line in open(sys.argv[5]):
    name, rest = line.split(" ", 1)
    fig = {}
    for part in rest[len("stages: "):].split(" | "):
        m = re.match(r"(scan|plan|stream|finish) ([\d.]+) s", part)
        if m: fig[m[1]] = float(m[2])
        m = re.match(r"wall ([\d.]+) s cpu ([\d.]+) s", part)
        if m: fig["wall"], fig["cpu"] = float(m[1]), float(m[2])
        m = re.match(r"compress (\S+) ([\d.]+) MB -> ([\d.]+) MB cpu ([\d.]+) s", part)
        if m: fig["setting"], fig["cin"], fig["cout"], fig["ccpu"] = m[1], float(m[2]), float(m[3]), float(m[4])
        m = re.match(r"hash ([\d.]+) MB cpu ([\d.]+) s", part)
        if m: fig["hmb"], fig["hcpu"] = float(m[1]), float(m[2])
    m = re.search(r"scan [\d.]+ s (\d+) entries", rest)
    if m: fig["entries"] = int(m[1])
    stages[name].append(fig)
if stages:
    print(f"\nwhere stamp's time goes (medians; compression and hashing as thread CPU time, {cores} cores):")
    for name, figs in sorted(stages.items()):
        med = lambda k: statistics.median(f[k] for f in figs if k in f) if any(k in f for f in figs) else None
        parts = []
        for k in ["scan", "plan", "stream", "finish"]:
            if med(k) is not None: parts.append(f"{k} {med(k):.2f} s")
        if med("entries") and med("scan"): parts.append(f"scan {med('entries') / med('scan') / 1000:.0f}k entries/s")
        if med("cin") and med("stream"): parts.append(f"stream {med('cin') / med('stream'):.0f} MB/s of non-zero disk")
        print(f"  {name}: " + ", ".join(parts))
        if med("ccpu"):
            setting = figs[-1].get("setting", "?")
            floor = med("ccpu") / cores
            peer = f"peer:{name.split(':')[1]}"
            line = (f"    compression {setting}: {med('cin'):.0f} MB -> {med('cout'):.0f} MB (ratio {med('cin') / med('cout'):.2f}), "
                    f"{med('ccpu'):.2f} s CPU = {med('cin') / med('ccpu'):.0f} MB/s per core; floor {floor:.2f} s on {cores} cores")
            if peer in res: line += f" (peer / floor = {med_wall(peer) / floor:.1f}x, stamp at {floor / med_wall(name) * 100:.0f}% of the floor's speed)"
            print(line)
        if med("hcpu"):
            print(f"    checksums: {med('hmb'):.0f} MB hashed in {med('hcpu'):.2f} s CPU = {med('hmb') / med('hcpu'):.0f} MB/s")
if "peer:checked" in res and "stamp:checked" in res:
    p = med_wall("peer:checked")
    ok = lambda c: "met" if c else "NOT MET"
    print("\ngoals (issue 24):")
    s = med_wall("stamp:checked")
    sv, pv = sizes.get("stamp:checked.vmdk"), sizes.get("peer:checked.vmdk")
    print(f"  OVA + VMDK + --checksum >= 8x: {p / s:.1f}x ({ok(p / s >= 8)}); VMDK {sv} <= qemu-img's {pv} bytes: {ok(sv is not None and pv is not None and sv <= pv)}")
    figs = stages.get("stamp:checked", [])
    ccpu = [f["ccpu"] for f in figs if "ccpu" in f]
    if p / s < 8 and ccpu:
        # The trade-off: the size bound fixes the level, the level's CPU fixes the floor.
        floor = statistics.median(ccpu) / cores
        out = sizes.get("stamp:checked.vmdk", 0) / 2**20
        print(f"  trade-off: the VMDK bound wins; at {figs[-1].get('setting', '?')} (the fastest setting within it, Benchmarks/compression) "
              f"compression alone needs {floor:.2f} s on {cores} cores, so at most {p / floor:.1f}x; 8x needs stamp <= {p / 8:.2f} s "
              f"(VMDK {out:.1f} MiB); a faster level would be larger than qemu-img's")
    for f in ["ova", "checked"]:  # the issue's --fast figure is the OVA's (-t ova --fast)
        if f"stamp-fast:{f}" in res and f"peer:{f}" in res:
            x = med_wall(f"peer:{f}") / med_wall(f"stamp-fast:{f}")
            print(f"  --fast >= 25x ({f}): {x:.1f}x ({ok(x >= 25)})")
    worst = max(rss(n) for n in res if n.startswith("stamp"))
    print(f"  peak RSS <= 128 MiB: {worst:.1f} MiB ({ok(worst <= 128)})")
PY
