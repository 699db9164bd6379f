#!/bin/sh
# shellcheck disable=SC2015,SC2016
# (A && B || C: C is the failure path of A or B alike; the texts in single quotes are programs
# that run inside the tree, expanded there.)
# Variable names are global in sh: each function uses its own prefix.
# stamp element stage driver (Sources/StampElements/Shell/stage-driver.sh, embedded at build time;
# see StageScript.swift). PID 1 of its namespaces.
set -u
ROOT=$STAMP_ROOT
# shellcheck disable=SC2153 # from the environment (StageScript.swift), not stamp_hooks
HOOKS=$STAMP_HOOKS
WORK=$STAMP_WORK
mark() { echo "@@stamp@@ $*"; }
# Our own /proc: process scans then see only this PID namespace. In a container whose
# /proc has masked paths (podman's and Kubernetes' default), the kernel refuses a new proc
# to a user namespace: the container's stays, and kill_chroot does not scan it (its PIDs
# are not this namespace's; the namespace's end kills what the chroot left anyway).
own_proc=1
if ! mount -t proc proc /proc 2>/dev/null; then
    if [ "${STAMP_USERNS:-}" = 1 ]; then own_proc=0
    else mark error "cannot mount /proc in the stage namespace"; exit 1; fi
fi
# helpers/ first: its sudo (the build is root already) must win over a real one, which
# would drop PYTHONPATH and other variables upstream scripts need.
PATH="$WORK/helpers:$PATH:$HOOKS/bin"; export PATH
# Host python scripts of upstream elements import diskimage_builder; when DIB_PYTHON_EXEC
# cannot, a stand-in from the work directory is put on PYTHONPATH (never into the chroot).
stamp_pythonpath=0
if [ -d "$WORK/python" ] && ! "${DIB_PYTHON_EXEC:-python3}" -c 'import diskimage_builder.logging_config' >/dev/null 2>&1; then
    PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$WORK/python"; export PYTHONPATH
    stamp_pythonpath=1
fi
mounted=0
tweaked=0

stamp_initrd=
# A tree from a container image (STAMP_SANDBOX set: `BASE:COUNT` as root, `-` in the
# build's user namespace) runs its programs in stamp's sandbox (Sandbox.swift,
# sandbox.c), never in a chroot with the host's privileges, and the driver edits it only
# from inside (tree_sh): a path of the tree is never followed from the host.
sandboxed() { [ -n "${STAMP_SANDBOX:-}" ]; }
in_chroot() {
    if sandboxed; then
        set -- "$STAMP_EXEC" --stamp-sandbox "$ROOT" "${stamp_hooks:-$HOOKS}" "$STAMP_SANDBOX" -- "$@"
    else
        set -- chroot "$ROOT" "$@"
    fi
    if [ "$stamp_pythonpath" = 1 ]; then
        env -u TMPDIR -u VIRTUAL_ENV -u TARGET_ROOT -u PYTHONPATH ${stamp_initrd:+INITRD=No} HOME=/root PATH="$STAMP_CHROOT_PATH" BASH_ENV=/tmp/in_target.d/stamp-functions.bash "$@"
    else
        env -u TMPDIR -u VIRTUAL_ENV -u TARGET_ROOT ${stamp_initrd:+INITRD=No} HOME=/root PATH="$STAMP_CHROOT_PATH" BASH_ENV=/tmp/in_target.d/stamp-functions.bash "$@"
    fi
}
# tree_sh SCRIPT: the driver's own edit of a sandboxed tree, run by the tree's /bin/sh in
# the sandbox without the hooks (so that no tmp/in_target.d is left behind); the tree's
# paths resolve inside it. STAMP_RESOLV_CONF carries the host's resolver for tweaks.
tree_sh() {
    [ -e "$ROOT/bin/sh" ] || [ -L "$ROOT/bin/sh" ] || return 0
    stamp_hooks=-
    ts_status=0
    in_chroot /bin/sh -c "$1" </dev/null || ts_status=$?
    stamp_hooks=
    return $ts_status
}

make_initramfs() { # the initramfs of every kernel in the tree that has none, once
    stamp_initrd=
    if sandboxed; then
        tree_sh '[ -x /usr/sbin/update-initramfs ] || exit 0
            for d in /lib/modules/*; do
                [ -d "$d" ] || continue; v=${d##*/}
                [ -e "/boot/vmlinuz-$v" ] && [ ! -e "/boot/initrd.img-$v" ] || continue
                echo "stamp: update-initramfs -c -k $v (deferred from the package phases)"
                update-initramfs -c -k "$v" || exit $?
            done'
        return $?
    fi
    [ -x "$ROOT/usr/sbin/update-initramfs" ] || return 0
    pigz_on
    mi_status=0
    for mi_dir in "$ROOT"/lib/modules/*; do
        [ -d "$mi_dir" ] || continue
        mi_version=${mi_dir##*/}
        [ -e "$ROOT/boot/vmlinuz-$mi_version" ] || continue
        [ -e "$ROOT/boot/initrd.img-$mi_version" ] && continue
        echo "stamp: update-initramfs -c -k $mi_version (deferred from the package phases)"
        in_chroot update-initramfs -c -k "$mi_version" </dev/null || { mi_status=$?; break; }
    done
    pigz_off
    return $mi_status
}

# mkinitramfs compresses a gzip initramfs with pigz (gzip on every core, the same format)
# when /usr/bin:/sbin:/bin has one. For this step only, the host's pigz stands in through a
# wrapper that falls back to the tree's own gzip where the host binary cannot run (an
# older C library, no libz). Not for reproducible builds: mkinitramfs then uses gzip -n.
pigz_on() {
    sandboxed && return 0 # the host's binary stays out of a sandboxed tree
    pz_host=$(command -v pigz 2>/dev/null) || return 0
    [ -z "${SOURCE_DATE_EPOCH:-}" ] && [ -d "$ROOT/usr/bin" ] || return 0
    [ -e "$ROOT/usr/bin/pigz" ] || [ -L "$ROOT/usr/bin/pigz" ] && return 0
    : >"$WORK/pigz.ours" || return 0
    cp "$pz_host" "$ROOT/usr/bin/.stamp-build-pigz" || { pigz_off; return 0; }
    printf '%s\n' '#!/bin/sh' '# written by stamp for the build; removed afterwards' \
        'if /usr/bin/.stamp-build-pigz -V >/dev/null 2>&1; then exec /usr/bin/.stamp-build-pigz "$@"; fi' \
        'exec gzip "$@"' >"$ROOT/usr/bin/pigz" && chmod 755 "$ROOT/usr/bin/pigz" || pigz_off
}

pigz_off() {
    [ -e "$WORK/pigz.ours" ] || return 0
    rm -f "$ROOT/usr/bin/pigz" "$ROOT/usr/bin/.stamp-build-pigz" "$WORK/pigz.ours"
}

break_at() { # <point> <1 = inside the chroot>
    case ",${STAMP_BREAK:-}," in *",$1,"*) ;; *) return 0 ;; esac
    mark break "$1"
    break_inside=$2
    [ "${break_outside_target:-0}" = 1 ] && break_inside=0
    [ "$mounted" = 1 ] || break_inside=0
    if [ -n "${break_cmd:-}" ]; then
        if [ "$break_inside" = 1 ]; then in_chroot /bin/sh -c "$break_cmd" || true
        else sh -c "$break_cmd" || true; fi
    elif [ -z "${STAMP_BREAK_NO_TTY:-}" ] && { : </dev/tty; } 2>/dev/null; then
        echo "break point $1: starting a shell, exit it to continue"
        if [ "$break_inside" = 1 ]; then
            in_chroot /bin/sh -c 'command -v bash >/dev/null && exec bash -i || exec sh -i' </dev/tty >/dev/tty 2>&1 || true
        else
            ${SHELL:-/bin/sh} -i </dev/tty >/dev/tty 2>&1 || true
        fi
    else
        echo "break point $1 reached; no terminal, continuing"
    fi
}

run_phase() { # <phase dir> <in|out>
    phase=$1
    phase_inside=0; [ "$2" = in ] && phase_inside=1
    break_at "before-${phase%.d}" "$phase_inside"
    mark phase-start "$phase"
    status=0
    if [ "$phase_inside" = 1 ]; then
        in_chroot /bin/sh /tmp/in_target.d/dib-run-parts "/tmp/in_target.d/$phase" </dev/null || status=$?
    else
        case "$phase" in
            root.d|cleanup.d) TARGET_ROOT=$ROOT; export TARGET_ROOT ;;
            *) unset TARGET_ROOT ;;
        esac
        sh "$HOOKS/dib-run-parts" "$HOOKS/$phase" </dev/null || status=$?
        unset TARGET_ROOT
    fi
    mark phase-end "$phase" "$status"
    if [ "$status" -ne 0 ]; then
        break_at after-error "$phase_inside"
        return "$status"
    fi
    break_at "after-${phase%.d}" "$phase_inside"
    return 0
}

# The chroot's /dev, /proc and /sys: the one policy every chroot of stamp's has
# (ChrootPolicy.swift); /dev a small tmpfs of its own, never the host's ($_LIB/chroot-dev,
# Shell/lib-chroot-dev.sh).
# shellcheck source=lib-chroot-dev.sh
. "$_LIB/chroot-dev"
mount_dev() { stamp_mount_dev "$ROOT"; }

mount_chroot() {
    # Sandboxed: each program gets its own /proc, /dev, /sys and hooks (sandbox.c).
    if sandboxed; then mounted=1; return 0; fi
    for d in dev tmp/in_target.d; do mkdir -p "$ROOT/$d"; done
    # /proc and /sys: the C the sandbox uses, with a user namespace's fallbacks
    # (stamp_mount_proc_sys, Shell/lib-chroot-dev.sh).
    stamp_mount_proc_sys "$ROOT" &&
    mount_dev &&
    mount --bind "$HOOKS" "$ROOT/tmp/in_target.d" &&
    mount -o remount,bind,ro "$ROOT/tmp/in_target.d" || { mark error "cannot mount the chroot file systems"; return 1; }
    mounted=1
}

umount_chroot() {
    # In a user namespace the submounts of the recursive binds are locked to their parent:
    # only the whole tree can go, detached at once.
    if [ "${STAMP_USERNS:-}" = 1 ]; then umount -l "$ROOT/sys" "$ROOT/proc" 2>/dev/null || true; fi
    awk -v root="$ROOT" '{ mp = $5; gsub(/\\040/, " ", mp); if (index(mp, root "/") == 1) print mp }' \
        /proc/self/mountinfo | LC_ALL=C sort -r | while IFS= read -r mp; do
        umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || echo "cannot unmount $mp"
    done
    if sandboxed; then tree_sh 'rmdir /tmp/in_target.d 2>/dev/null; exit 0'
    else rmdir "$ROOT/tmp/in_target.d" 2>/dev/null || true; fi
    mounted=0
}

kill_chroot() {
    # A sandboxed program's processes end with its PID namespace.
    sandboxed && return 0
    [ "$own_proc" = 1 ] || return 0
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = 1 ] && continue
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in
            "$ROOT"|"$ROOT"/*)
                echo "ending process $pid ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)) left in the chroot"
                kill -KILL "$pid" 2>/dev/null || true ;;
        esac
    done
}

tweaks_on() {
    if sandboxed; then
        STAMP_RESOLV_CONF=$(cat /etc/resolv.conf 2>/dev/null || echo "nameserver 8.8.8.8"); export STAMP_RESOLV_CONF
        tree_sh "$stamp_tweaks_on" || { mark error "cannot prepare the tree for its chroot phases"; return 1; }
        tweaked=1
        return 0
    fi
    [ -d "$ROOT/etc" ] || return 0
    r="$ROOT/etc/resolv.conf"
    if [ -e "$r" ] || [ -L "$r" ]; then mv "$r" "$r.stamp-orig"; fi
    if [ -r /etc/resolv.conf ]; then cat /etc/resolv.conf >"$r"; else echo "nameserver 8.8.8.8" >"$r"; fi
    cp "$r" "$WORK/resolv.conf.build"
    if [ -d "$ROOT/usr/sbin" ] && [ ! -e "$ROOT/usr/sbin/policy-rc.d" ]; then
        printf '#!/bin/sh\n# written by stamp for the build; removed afterwards\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
        chmod 755 "$ROOT/usr/sbin/policy-rc.d"
        : >"$WORK/policy-rc.d.ours"
    fi
    if [ -d "$ROOT/etc/dpkg/dpkg.cfg.d" ]; then
        printf '# written by stamp for the build; removed afterwards\nforce-unsafe-io\n' >"$ROOT/etc/dpkg/dpkg.cfg.d/00stamp-build-unsafe-io"
    fi
    if [ -d "$ROOT/etc/apt/apt.conf.d" ] && [ -n "${http_proxy:-}${https_proxy:-}" ]; then
        {
            [ -n "${http_proxy:-}" ] && echo "Acquire::http::Proxy \"$http_proxy\";"
            [ -n "${https_proxy:-}" ] && echo "Acquire::https::Proxy \"$https_proxy\";"
        } >"$ROOT/etc/apt/apt.conf.d/00stamp-build-proxy"
    fi
    tweaked=1
}

tweaks_off() {
    [ "$tweaked" = 1 ] || return 0
    if sandboxed; then
        tree_sh "$stamp_tweaks_off" || echo "stamp: the build's tweaks could not all be removed from the tree"
        tweaked=0
        return 0
    fi
    r="$ROOT/etc/resolv.conf"; o="$r.stamp-orig"
    if [ -f "$r" ] && [ ! -L "$r" ] && cmp -s "$r" "$WORK/resolv.conf.build"; then
        rm -f "$r"
        if [ -e "$o" ] || [ -L "$o" ]; then
            # A copy of the host's file left by root.d (debootstrap does that) is a leak, not the image's.
            if [ ! -L "$o" ] && [ -r /etc/resolv.conf ] && cmp -s "$o" /etc/resolv.conf; then rm -f "$o"
            else mv "$o" "$r"; fi
        fi
    else
        rm -f "$o" # the image now manages its own resolv.conf
    fi
    rm -f "$WORK/resolv.conf.build"
    if [ -e "$WORK/policy-rc.d.ours" ]; then rm -f "$ROOT/usr/sbin/policy-rc.d" "$WORK/policy-rc.d.ours"; fi
    rm -f "$ROOT/etc/apt/apt.conf.d/00stamp-build-proxy" "$ROOT/etc/dpkg/dpkg.cfg.d/00stamp-build-unsafe-io"
    pigz_off
    tweaked=0
}

own_caches() { # in a user namespace: what the build left in the image cache (apt's
    # partial/ chowned to _apt, a subordinate id outside) goes back to uid 0 here, the
    # calling user outside, so that no file of the user's cache belongs to another id.
    [ "${STAMP_USERNS:-}" = 1 ] && [ -n "${DIB_IMAGE_CACHE:-}" ] && [ -d "$DIB_IMAGE_CACHE" ] || return 0
    find "$DIB_IMAGE_CACHE" -xdev \( ! -uid 0 -o ! -gid 0 \) -exec chown -h 0:0 {} + 2>/dev/null || true
}

finish() { # <status>
    kill_chroot
    tweaks_off
    umount_chroot
    own_caches
    [ "$1" = 0 ] && mark stage-done
    exit "$1"
}

# The sandboxed forms of tweaks_on/tweaks_off, run inside the tree by tree_sh.
stamp_tweaks_on='set -u; written="# written by stamp for the build; removed afterwards"
    if [ -d /etc ]; then
        r=/etc/resolv.conf
        if [ -e "$r" ] || [ -L "$r" ]; then mv "$r" "$r.stamp-orig" || exit 1; fi
        printf "%s\n" "$STAMP_RESOLV_CONF" >"$r" || exit 1
    fi
    if [ -d /usr/sbin ] && [ ! -e /usr/sbin/policy-rc.d ] && [ ! -L /usr/sbin/policy-rc.d ]; then
        printf "#!/bin/sh\n%s\nexit 101\n" "$written" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d || exit 1
    fi
    if [ -d /etc/dpkg/dpkg.cfg.d ]; then
        printf "%s\nforce-unsafe-io\n" "$written" >/etc/dpkg/dpkg.cfg.d/00stamp-build-unsafe-io || exit 1
    fi
    if [ -d /etc/apt/apt.conf.d ] && [ -n "${http_proxy:-}${https_proxy:-}" ]; then
        { [ -n "${http_proxy:-}" ] && echo "Acquire::http::Proxy \"$http_proxy\";"
          [ -n "${https_proxy:-}" ] && echo "Acquire::https::Proxy \"$https_proxy\";"; } >/etc/apt/apt.conf.d/00stamp-build-proxy
    fi
    exit 0'
stamp_tweaks_off='r=/etc/resolv.conf; o=$r.stamp-orig
    if [ -f "$r" ] && [ ! -L "$r" ] && [ "$(cat "$r")" = "$STAMP_RESOLV_CONF" ]; then
        rm -f "$r"
        if [ -e "$o" ] || [ -L "$o" ]; then
            if [ ! -L "$o" ] && [ "$(cat "$o")" = "$STAMP_RESOLV_CONF" ]; then rm -f "$o"; else mv "$o" "$r"; fi
        fi
    else
        rm -f "$o"
    fi
    p=/usr/sbin/policy-rc.d
    if [ -f "$p" ] && [ ! -L "$p" ] && [ "$(sed -n 2p "$p")" = "# written by stamp for the build; removed afterwards" ]; then rm -f "$p"; fi
    rm -f /etc/apt/apt.conf.d/00stamp-build-proxy /etc/dpkg/dpkg.cfg.d/00stamp-build-unsafe-io
    exit 0'

for step in $STAMP_STEPS; do
    case "$step" in
        phase:*)
            rest=${step#phase:}
            run_phase "${rest%:*}" "${rest##*:}" || finish $?
            ;;
        check-root)
            # shellcheck disable=SC2010,SC2143 # any name but lost+found and tmp: not empty
            if [ -z "$(ls -A "$ROOT" | grep -v -x -e lost+found -e tmp)" ]; then
                mark error "failed to deploy the root element: $ROOT is empty after root.d"
                finish 1
            fi
            ;;
        installtype) DIB_DEFAULT_INSTALLTYPE=${STAMP_INSTALLTYPE:-source}; export DIB_DEFAULT_INSTALLTYPE ;;
        mount) mount_chroot || finish 1 ;;
        umount) umount_chroot ;;
        tweaks-on) tweaks_on ;;
        tweaks-off) tweaks_off ;;
        kill-chroot) kill_chroot ;;
        defer-initramfs) stamp_initrd=No ;;
        initramfs)
            mark phase-start initramfs
            mark start initramfs update-initramfs
            status=0
            make_initramfs || status=$?
            mark end initramfs update-initramfs "$status"
            mark phase-end initramfs "$status"
            [ "$status" = 0 ] || finish "$status"
            ;;
        packages)
            [ -n "${STAMP_EXTRA_PACKAGES:-}" ] || continue
            mark phase-start packages
            mark start packages install-packages
            status=0
            # shellcheck disable=SC2046 # the package list, split into words on purpose
            in_chroot install-packages $(echo "$STAMP_EXTRA_PACKAGES" | tr ',' ' ') </dev/null || status=$?
            mark end packages install-packages "$status"
            mark phase-end packages "$status"
            [ "$status" = 0 ] || finish "$status"
            ;;
        finalise-base)
            if sandboxed; then
                tree_sh '[ -d /tmp ] && find /tmp -xdev -mindepth 1 -delete 2>/dev/null
                    [ -d /var/log ] && find /var/log -xdev -type f -exec truncate -s 0 {} +
                    rm -f /root/*.log; exit 0'
                continue
            fi
            [ -d "$ROOT/tmp" ] && find "$ROOT/tmp" -xdev -mindepth 1 -delete 2>/dev/null
            [ -d "$ROOT/var/log" ] && find "$ROOT/var/log" -xdev -type f -exec truncate -s 0 {} +
            rm -f "$ROOT"/root/*.log
            ;;
        *) mark error "unknown stage step $step"; finish 1 ;;
    esac
done
finish 0
