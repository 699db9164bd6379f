# shellcheck shell=bash
# stamp: shell functions for element scripts that source $_LIB/common-functions.
# stamp's stage driver does the work DIB's core functions do (hooks tree, mounts, phases);
# these are the helpers element scripts themselves call.
# shellcheck source=lib-die.sh
. "$_LIB/die"

# Options for mounting a devpts like the host's /dev/pts.
mount_dev_pts_options() {
    local opts
    opts=$(findmnt --first-only --noheadings --output OPTIONS /dev/pts 2>/dev/null || true)
    echo "-o ${opts:-gid=5,mode=620}"
}

# /proc, /dev (with /dev/pts and /dev/shm) and a read-only /sys in $TMP_MOUNT_PATH. The
# mounts live in stamp's private mount namespace and vanish with it. They are the ones every
# chroot of stamp's gets (ChrootPolicy.swift, $_LIB/chroot-dev): /dev is not a bind of the
# host's, /proc and /sys are mounted by stamp's C (stamp_mount_proc_sys).
# shellcheck source=lib-chroot-dev.sh
. "$_LIB/chroot-dev"
mount_proc_dev_sys() {
    local root=${TMP_MOUNT_PATH:?}
    mkdir -p "$root/dev"
    stamp_mount_proc_sys "$root" && stamp_mount_dev "$root"
}

# unmount_dir DIR: lazily unmounts everything below DIR, deepest first, except the
# mount points of the block-device layer listed in DIB_MOUNTPOINTS.
unmount_dir() {
    local dir=$1 real m skip mp
    [ -d "$dir" ] || { echo "*** $dir is not a directory"; return 0; }
    real=$(readlink -e "$dir")
    # shellcheck disable=SC2013 # /proc/mounts escapes blanks in mount points (\040): one word each
    for m in $(awk -v d="$real/" 'index($2, d) == 1 { print $2 }' /proc/mounts | LC_ALL=C sort -r); do
        skip=0
        local IFS_save=$IFS; IFS='|'
        for mp in ${DIB_MOUNTPOINTS:-}; do
            if [ "$mp" != / ] && [ -n "$mp" ] && [ "${m%"$mp"}" != "$m" ]; then skip=1; fi
        done
        IFS=$IFS_save
        if [ "$skip" = 1 ]; then echo "Mountpoint $m managed by block device; skipping"; continue; fi
        echo "Unmount $m"
        umount -fl "$m" || true
    done
}

# run_in_target COMMAND...: runs a command in the chroot of $TMP_MOUNT_PATH.
run_in_target() {
    env -u TMPDIR -u VIRTUAL_ENV \
        PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        chroot "${TMP_MOUNT_PATH:?}" "$@"
}
