#!/bin/sh
# install_marker.sh TREE
#
# Installs into a root tree a oneshot systemd unit that, once multi-user.target is reached,
# reports on the serial console (/dev/ttyS0) what a boot test needs, then powers off:
#
#   STAMP_BOOT_OK uptime=<s>               the marker: userspace came up
#   STAMP_ROOT <source> <fstype> <options> findmnt of /
#   STAMP_ROOT_UUID <uuid>                 the root filesystem's UUID (blkid)
#   STAMP_HOSTNAME <name>                  the guest's host name (cloud-init may have set it)
#   STAMP_MOUNT <target> <source> <fstype> every other ext4/vfat filesystem mounted (fstab)
#   STAMP_FSCK <line>                      what systemd-fsck-root printed at boot ("clean, ...")
#   STAMP_FSCK_UNIT <result>               systemd-fsck-root's Result (success) or "not-run"
#   STAMP_STATE <state>                    dumpe2fs "Filesystem state" of the root device
#   STAMP_DMESG <line>                     the kernel's EXT4-fs lines
#   STAMP_SECUREBOOT <line>                the kernel's Secure Boot / lockdown lines, if any
#   STAMP_GROW rc=<n> before=<b> after=<b> growpart + resize2fs of the root partition
#   STAMP_GROW_OK <bytes>                  only when the filesystem got bigger
#   STAMP_BOOT_DONE                        last line before power-off
#
# Growth is always attempted: on a disk with no free space after the root partition,
# growpart says NOCHANGE and nothing is modified. Run as root on the builder; touches only
# /usr/local/sbin/stamp-boot-marker and /etc/systemd/system/stamp-boot-marker.service (+ its
# multi-user.target.wants link) in TREE.
set -eu
tree=${1:?usage: install_marker.sh TREE}
[ -d "$tree/etc" ] || { echo "install_marker.sh: $tree: not a root tree" >&2; exit 2; }

mkdir -p "$tree/usr/local/sbin" "$tree/etc/systemd/system/multi-user.target.wants"
cat > "$tree/usr/local/sbin/stamp-boot-marker" <<'SCRIPT'
#!/bin/sh
# stamp boot-test marker (Tests/tools/boot/install_marker.sh)
out=/dev/ttyS0
say() { printf '%s\n' "$*" > "$out"; }
say "STAMP_BOOT_OK uptime=$(cut -d' ' -f1 /proc/uptime)"
say "STAMP_ROOT $(findmnt -no SOURCE,FSTYPE,OPTIONS /)"
dev=$(findmnt -no SOURCE /)
say "STAMP_ROOT_UUID $(blkid -o value -s UUID "$dev")"
say "STAMP_HOSTNAME $(hostname)"
findmnt -rn -t ext4,vfat -o TARGET,SOURCE,FSTYPE | while read -r target source fstype; do
    [ "$target" = / ] || say "STAMP_MOUNT $target $source $fstype"
done
journalctl -b -u systemd-fsck-root --no-pager -o cat 2>/dev/null | grep -v '^-- ' | while IFS= read -r line; do
    say "STAMP_FSCK $line"
done
result=$(systemctl show -p Result --value systemd-fsck-root 2>/dev/null || true)
active=$(systemctl show -p ActiveEnterTimestampMonotonic --value systemd-fsck-root 2>/dev/null || echo 0)
[ "${active:-0}" != 0 ] || result=not-run
say "STAMP_FSCK_UNIT $result"
say "STAMP_STATE $(dumpe2fs -h "$dev" 2>/dev/null | sed -n 's/^Filesystem state: *//p')"
dmesg | grep 'EXT4-fs' | while IFS= read -r line; do say "STAMP_DMESG $line"; done
dmesg | grep -i -e 'secure boot' -e 'secureboot' -e 'lockdown' | while IFS= read -r line; do say "STAMP_SECUREBOOT $line"; done

name=${dev#/dev/}
if [ -r "/sys/class/block/$name/partition" ]; then
    part=$(cat "/sys/class/block/$name/partition")
    disk=/dev/$(basename "$(readlink -f "/sys/class/block/$name/..")")
    before=$(df -B1 --output=size / | tail -n 1 | tr -d ' ')
    rc=0
    growpart "$disk" "$part" > /tmp/growpart.log 2>&1 || rc=$?
    while IFS= read -r line; do say "STAMP_GROWPART $line"; done < /tmp/growpart.log
    if [ "$rc" = 0 ]; then resize2fs "$dev" > /tmp/resize2fs.log 2>&1 || rc=$?; fi
    after=$(df -B1 --output=size / | tail -n 1 | tr -d ' ')
    say "STAMP_GROW rc=$rc before=$before after=$after"
    if [ "$after" -gt "$before" ]; then say "STAMP_GROW_OK $after"; fi
fi
say "STAMP_BOOT_DONE"
sync
systemctl --no-block poweroff
SCRIPT
chmod 0755 "$tree/usr/local/sbin/stamp-boot-marker"

cat > "$tree/etc/systemd/system/stamp-boot-marker.service" <<'UNIT'
[Unit]
Description=stamp boot-test marker (reports on ttyS0, then powers off)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/stamp-boot-marker
StandardOutput=journal

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/stamp-boot-marker.service \
    "$tree/etc/systemd/system/multi-user.target.wants/stamp-boot-marker.service"
echo "install_marker.sh: installed stamp-boot-marker.service in $tree"
