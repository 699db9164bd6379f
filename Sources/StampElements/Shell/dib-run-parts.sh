#!/bin/sh
# dib-run-parts, written for stamp: runs the scripts of one phase directory.
# Usage: dib-run-parts [--list] <dir>
if [ -z "${STAMP_RUN_PARTS_BASH:-}" ] && command -v bash >/dev/null 2>&1; then
    STAMP_RUN_PARTS_BASH=1 exec bash "$0" "$@"
fi
set -eu
list_only=0
if [ "${1:-}" = "--list" ]; then list_only=1; shift; fi
dir=${1:?usage: dib-run-parts [--list] <dir>}
dir=${dir%/}
phase=${dir##*/}
trace=${DIB_DEBUG_TRACE:-0}

# Names that pass the filter, one per line, in `LC_ALL=C sort -n` order.
list_names() {
    for path in "$1"/*; do
        [ -e "$path" ] || continue
        name=${path##*/}
        if [ "$2" = env ]; then
            case "$name" in *[!0-9A-Za-z_.-]*) continue ;; esac
            [ -f "$path" ] || continue
        else
            [ -f "$path" ] || continue
            if [ -n "${RUN_PARTS_REGEX:-}" ]; then
                printf '%s\n' "$name" | grep -Eq -- "$RUN_PARTS_REGEX" || continue
            else
                case "$name" in *[!0-9A-Za-z_-]*) continue ;; esac
            fi
            if [ ! -x "$path" ]; then
                [ "$trace" -gt 0 ] && echo "dib-run-parts: skipping non-executable $path" >&2
                continue
            fi
        fi
        printf '%s\n' "$name"
    done | LC_ALL=C sort -n
}

if [ "$list_only" = 1 ]; then
    [ -d "$dir" ] && list_names "$dir" run
    exit 0
fi
[ -d "$dir" ] || exit 0
env_dir="$dir/../environment.d"
if [ -d "$env_dir" ]; then
    for name in $(list_names "$env_dir" env); do
        [ "$trace" -gt 0 ] && echo "dib-run-parts Sourcing environment file $env_dir/$name" >&2
        # shellcheck disable=SC1090 # the elements' environment files, named at run time
        . "$env_dir/$name"
    done
fi
for name in $(list_names "$dir" run); do
    echo "@@stamp@@ start $phase $name"
    status=0
    "$dir/$name" </dev/null || status=$?
    echo "@@stamp@@ end $phase $name $status"
    if [ "$status" -ne 0 ]; then exit "$status"; fi
done
exit 0
