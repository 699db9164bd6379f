#!/bin/sh
# stamp: sudo for element scripts. The build already runs as root.
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        -E|--preserve-env|--preserve-env=*) keep=1; shift ;;
        -u|-g|-C|-D|-h|-p|-r|-t|-T|-U) shift 2 ;;
        --) shift; break ;;
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || exit 0
# `sudo chroot TREE`: stamp's chroot, which enters a container image's tree only
# through the sandbox (it needs the sandbox's variables, kept below).
sandbox=0
case "$1" in
    chroot|/usr/sbin/chroot|/usr/bin/chroot|/sbin/chroot|/bin/chroot)
        if [ -n "${STAMP_SANDBOX:-}" ]; then shift; set -- "${0%/*}/chroot" "$@"; sandbox=1; fi ;;
esac
[ "$keep" = 1 ] && exec "$@"
if [ "$sandbox" = 1 ]; then
    set -- STAMP_SANDBOX="$STAMP_SANDBOX" STAMP_EXEC="$STAMP_EXEC" TMP_MOUNT_PATH="$TMP_MOUNT_PATH" "$@"
fi
set -- PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH" HOME=/root USER=root \
    LOGNAME=root SHELL=/bin/sh SUDO_USER=root SUDO_UID=0 SUDO_GID=0 "$@"
for v in TERM LANG LANGUAGE LC_ALL LC_CTYPE LC_MESSAGES DISPLAY; do
    eval "[ -n \"\${$v+x}\" ]" && eval "set -- \"$v=\$$v\" \"\$@\""
done
exec env -i "$@"
