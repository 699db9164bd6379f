#!/bin/sh
# stamp: stamp-tree-plain PATH... (see HostHelpers.swift)
root=${TARGET_ROOT:-$TMP_MOUNT_PATH}
for rel in "$@"; do
    p=$root rest=$rel
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        if [ "$part" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
        if [ -z "$part" ] || [ "$part" = . ]; then continue; fi
        p=$p/$part
        if [ "$part" = .. ] || [ -L "$p" ]; then
            echo "stamp-tree-plain: $rel: /${p#"$root"/} is a symbolic link or '..' in the tree" >&2
            exit 1
        fi
        [ -e "$p" ] || break
    done
done
exit 0
