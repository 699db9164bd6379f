#!/bin/bash
# boot_test.sh IMAGE [--format raw|qcow2|vmdk|vhd] [--uefi] [--timeout 180] [--expect-grow]
#              [--expect-mount DIR]... [--cdrom ISO] [--expect-hostname NAME]
#              [--expect-uuid UUID] [--resize SIZE] [--snapshot] [--secure-boot] [--log FILE]
#
# Boots IMAGE under qemu-system-x86_64 with TCG (KVM guests hang on this kind of host, a host
# limit of this test machine), waits for the marker that install_marker.sh puts in the image,
# prints the marker lines and the wall time, and exits 0 only when:
#   - STAMP_BOOT_OK appeared,
#   - the root filesystem is mounted read-write (STAMP_ROOT options start with rw),
#   - fsck found it clean at boot (a STAMP_FSCK line says "clean" and STAMP_FSCK_UNIT is
#     success) and its superblock state is clean,
#   - with --expect-uuid, the mounted root has that UUID,
#   - with --expect-grow, the guest grew the root partition and filesystem (STAMP_GROW_OK),
#   - with --expect-hostname, the guest's host name is NAME (STAMP_HOSTNAME),
#   - with --secure-boot, the guest kernel says Secure Boot is enabled.
# --cdrom ISO attaches ISO as a read-only CD-ROM (IDE on pc, AHCI on q35), e.g. an OVF
#   environment (ovf-env.xml on a volume labelled "OVF ENV", as vCenter's transport iso).
# --resize SIZE runs `qemu-img resize IMAGE SIZE` first (e.g. +1G; modifies IMAGE).
# --uefi boots OVMF on q35 (a private copy of OVMF_VARS_4M.fd); otherwise SeaBIOS.
# --secure-boot (implies --uefi) uses OVMF_CODE_4M.secboot.fd with OVMF_VARS_4M.ms.fd, whose
#   Microsoft keys are enrolled, so only a signed shim -> grub -> kernel chain boots.
# --snapshot keeps IMAGE unchanged (writes go to a temporary overlay; needed for formats
#   QEMU cannot write in place, e.g. streamOptimized VMDK).
# One guest at a time: the guest runs while this script holds an exclusive flock on
#   ${STAMP_QEMU_LOCK:-/tmp/stamp-qemu.lock}, so boots started by suites running in parallel
#   take turns (a TCG guest wants both cores of the machine; two at once stall past their
#   timeouts). The wait is printed and does not count against --timeout.
# Exit codes: 0 pass, 1 checks failed, 2 usage, 3 timeout or QEMU failure.
set -uo pipefail

usage() { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
image= format=raw uefi=0 secure=0 snapshot=0 timeout=180 expect_grow=0 expect_uuid= resize= log= cdrom= expect_hostname=
expect_mounts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --format) format=$2; shift 2 ;;
        --uefi) uefi=1; shift ;;
        --secure-boot) uefi=1; secure=1; shift ;;
        --snapshot) snapshot=1; shift ;;
        --timeout) timeout=$2; shift 2 ;;
        --expect-grow) expect_grow=1; shift ;;
        --expect-uuid) expect_uuid=$2; shift 2 ;;
        --expect-mount) expect_mounts+=("$2"); shift 2 ;;
        --cdrom) cdrom=$2; shift 2 ;;
        --expect-hostname) expect_hostname=$2; shift 2 ;;
        --resize) resize=$2; shift 2 ;;
        --log) log=$2; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "boot_test.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$image" ] || usage; image=$1; shift ;;
    esac
done
[ -n "$image" ] && [ -f "$image" ] || { echo "boot_test.sh: no image file '$image'" >&2; usage; }
case "$format" in
    raw|qcow2|vmdk) qformat=$format ;;
    vhd) qformat=vpc ;;
    *) echo "boot_test.sh: unknown format $format" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/stamp-boot-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$log" ] || log=$work/serial.log
: > "$log"

if [ -n "$resize" ]; then
    qemu-img resize -f "$qformat" "$image" "$resize" >/dev/null || { echo "boot_test.sh: resize failed" >&2; exit 3; }
fi

# virtio-rng: the guest's early getrandom() need not wait for entropy gathered from TCG's slow
# timer jitter.
args=(-accel tcg,thread=multi -m 1024 -smp 2 -display none -no-reboot -nodefaults
      -serial "file:$log" -drive "file=$image,format=$qformat,if=virtio"
      -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0)
[ "$snapshot" = 0 ] || args+=(-snapshot)
[ -z "$cdrom" ] || args+=(-drive "file=$cdrom,format=raw,media=cdrom,readonly=on")
if [ "$secure" = 1 ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$work/vars.fd"
    args=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
          -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
          -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd" "${args[@]}")
elif [ "$uefi" = 1 ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
    args=(-machine q35 -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
          -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd" "${args[@]}")
fi

lock=${STAMP_QEMU_LOCK:-/tmp/stamp-qemu.lock}
exec {lock_fd}>>"$lock"
waited=$(date +%s.%N)
flock "$lock_fd"
echo "boot_test.sh: waited $(echo "$(date +%s.%N) - $waited" | bc)s for the QEMU lock $lock" >&2
start=$(date +%s.%N)
timeout --foreground -k 10 "$timeout" qemu-system-x86_64 "${args[@]}" > "$work/qemu.out" 2>&1
qemu_rc=$?
exec {lock_fd}>&-
end=$(date +%s.%N)
wall=$(echo "$end - $start" | bc)

# Kernel console messages can land on the same line as a marker, so take each STAMP_ word
# to the end of its line wherever it starts.
markers=$(tr -d '\r' < "$log" | grep -ao 'STAMP_[A-Z_]*\( .*\)\{0,1\}$')
echo "$markers"
echo "boot_test.sh: $(basename "$image") format=$format $([ $secure = 1 ] && echo uefi-secure-boot || { [ $uefi = 1 ] && echo uefi || echo bios; }) wall=${wall}s qemu_rc=$qemu_rc"

fail=0
check() { if ! eval "$2"; then echo "boot_test.sh: FAIL: $1" >&2; fail=1; fi; }
if ! grep -q '^STAMP_BOOT_OK' <<< "$markers"; then
    echo "boot_test.sh: FAIL: no marker; the kernel's complaints, then the last serial lines:" >&2
    tr -d '\r' < "$log" | grep -aE 'BUG:|watchdog:|rcu: INFO|INFO: task|Kernel panic|hung_task|Out of memory|I/O error|EXT4-fs error' \
        | head -n 8 >&2 || true
    echo "---" >&2
    tr -d '\r' < "$log" | tail -n 25 >&2
    sed 's/^/qemu: /' "$work/qemu.out" >&2
    exit 3
fi
root_line=$(grep '^STAMP_ROOT ' <<< "$markers")
check "root not mounted read-write" '[[ "$(awk "{print \$4}" <<< "$root_line")" == rw* ]]'
check "fsck at boot did not report clean" 'grep -q "^STAMP_FSCK .*clean" <<< "$markers"'
check "systemd-fsck-root did not succeed" 'grep -qx "STAMP_FSCK_UNIT success" <<< "$markers"'
check "superblock state not clean" 'grep -qx "STAMP_STATE clean" <<< "$markers"'
if [ -n "$expect_uuid" ]; then
    check "root uuid is not $expect_uuid" 'grep -qix "STAMP_ROOT_UUID $expect_uuid" <<< "$markers"'
fi
if [ -n "$expect_hostname" ]; then
    check "host name is not $expect_hostname ($(grep '^STAMP_HOSTNAME' <<< "$markers"))" 'grep -qx "STAMP_HOSTNAME $expect_hostname" <<< "$markers"'
fi
for m in "${expect_mounts[@]}"; do
    check "$m is not mounted" 'grep -q "^STAMP_MOUNT $m " <<< "$markers"'
done
if [ "$secure" = 1 ]; then
    check "guest kernel does not report Secure Boot enabled" 'grep -qi "^STAMP_SECUREBOOT .*secure boot enabled" <<< "$markers"'
fi
if [ "$expect_grow" = 1 ]; then
    check "root was not grown" 'grep -q "^STAMP_GROW_OK" <<< "$markers"'
fi
check "guest did not finish (no STAMP_BOOT_DONE)" 'grep -q "^STAMP_BOOT_DONE" <<< "$markers"'
[ "$qemu_rc" = 0 ] || echo "boot_test.sh: note: qemu exited with $qemu_rc (124 = timeout after the marker)" >&2
exit $fail
