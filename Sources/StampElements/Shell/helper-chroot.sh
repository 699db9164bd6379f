#!/bin/sh
# stamp: chroot for element scripts (see HostHelpers.swift).
if [ -n "${STAMP_SANDBOX:-}" ] && [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
    target=$(cd "$1" 2>/dev/null && pwd -P) || target=
    root=$(cd "${TMP_MOUNT_PATH:-/nonexistent}" 2>/dev/null && pwd -P) || root=
    if [ -n "$root" ] && [ "$target" = "$root" ]; then
        shift
        [ $# -gt 0 ] || set -- /bin/sh -i
        exec "$STAMP_EXEC" --stamp-sandbox "$root" - "$STAMP_SANDBOX" -- "$@"
    fi
    case "$target/" in
        "$root"/*) echo "chroot: $1 is inside the image's tree: enter the tree itself (the sandbox)" >&2; exit 125 ;;
    esac
fi
for dir in /usr/sbin /usr/bin /sbin /bin; do
    [ -x "$dir/chroot" ] && exec "$dir/chroot" "$@"
done
echo "chroot: not found" >&2
exit 127
