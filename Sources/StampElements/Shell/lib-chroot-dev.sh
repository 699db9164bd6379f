# shellcheck shell=sh
# stamp: stamp_mount_dev ROOT — the /dev of an element chroot, from the one table of
# Sources/CStampSupport/chroot_dev.c (ChrootPolicy.swift passes it as STAMP_DEV_NODES,
# STAMP_DEV_LINKS and STAMP_DEV_SIZE), as the image sandbox's /dev is. Never the host's /dev:
# a package's maintainer scripts (udev's runs systemd-tmpfiles' static nodes) would chmod and
# chown the host's device nodes through it. As root the nodes are made afresh (mknod); in a user
# namespace (STAMP_USERNS=1), where mknod is refused, the host's are bound, and the namespace
# cannot change them (their owner, the host's root, is not mapped there).
stamp_mount_dev() {
    smd_root=$1
    mkdir -p "$smd_root/dev" &&
    mount -t tmpfs -o "mode=0755,size=${STAMP_DEV_SIZE:?},nosuid,noexec" stamp-dev "$smd_root/dev" || return 1
    for smd_spec in ${STAMP_DEV_NODES:?}; do
        smd_node=${smd_spec%%:*} smd_numbers=${smd_spec#*:}
        if [ "${STAMP_USERNS:-}" = 1 ]; then
            : >"$smd_root/dev/$smd_node" && mount --bind "/dev/$smd_node" "$smd_root/dev/$smd_node" || return 1
        else
            mknod -m 0666 "$smd_root/dev/$smd_node" c "${smd_numbers%%:*}" "${smd_numbers#*:}" || return 1
        fi
    done
    mkdir -p "$smd_root/dev/pts" "$smd_root/dev/shm" &&
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$smd_root/dev/pts" &&
    mount -t tmpfs -o mode=1777,nosuid,nodev stamp-shm "$smd_root/dev/shm" || return 1
    for smd_spec in ${STAMP_DEV_LINKS:?}; do
        ln -s "${smd_spec%:*}" "$smd_root/dev/${smd_spec##*:}" || return 1
    done
}

# stamp: stamp_mount_proc_sys ROOT — the /proc and /sys of an element chroot, mounted by the C
# the image sandbox uses (Sources/CStampSupport/chroot_proc_sys.c) through stamp's own binary
# ($STAMP_EXEC, from ChrootPolicy.swift): a new proc and a read-only sysfs as root; in a user
# namespace (STAMP_USERNS=1) the host's /sys bound read-only and, where a container's masked
# /proc refuses a new one, that /proc bound. Every mount nosuid, nodev, noexec.
stamp_mount_proc_sys() {
    if [ "${STAMP_USERNS:-}" = 1 ]; then smp_mode=userns; else smp_mode=host; fi
    "${STAMP_EXEC:?}" --stamp-chroot-mounts "$1" "$smp_mode"
}
