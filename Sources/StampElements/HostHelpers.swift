import Foundation
import StampConfig

/// What diskimage-builder's own elements expect from the host besides the build's
/// environment, written by stamp into the work directory (stamp's own implementations;
/// nothing here is DIB's code):
///
/// ```
/// stamp_build.XXXXXXXX/
///   lib/       _LIB: die, common-functions, img-functions, common-defaults, img-defaults
///   helpers/   first on PATH outside the chroot: sudo (stamp runs as root), chroot (into
///              the sandbox for a tree from an image), stamp-tree-plain
///   python/    a stand-in `diskimage_builder` package (logging_config.setup), put on
///              PYTHONPATH only when DIB_PYTHON_EXEC cannot import the real one
/// ```
///
/// Upstream element scripts run `sudo …` outside the chroot (debootstrap, dpkg, manifests…),
/// source `$_LIB/img-functions` or `$_LIB/common-functions` (select_boot_kernel_initrd,
/// mount_proc_dev_sys, unmount_dir, run_in_target, die), and run host python scripts such as
/// `package-installs-squash` that import `diskimage_builder.logging_config`.
enum HostHelpers {
    static func lib(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("lib") }
    static func helpers(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("helpers") }
    static func python(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("python") }

    static func write(into work: WorkDirectory) throws {
        let fm = FileManager.default
        func put(_ text: String, _ dir: URL, _ name: String, mode: Int = 0o644) throws {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            let file = dir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        }
        let lib = lib(work)
        try put(die, lib, "die")
        try put(commonDefaults, lib, "common-defaults")
        try put(imgDefaults, lib, "img-defaults")
        try put(commonFunctions, lib, "common-functions")
        try put(imgFunctions, lib, "img-functions")
        try put(sudo, helpers(work), "sudo", mode: 0o755)
        try put(treePlain, helpers(work), "stamp-tree-plain", mode: 0o755)
        try put(chroot, helpers(work), "chroot", mode: 0o755)
        let package = python(work).appendingPathComponent("diskimage_builder")
        try put("# stamp's stand-in for diskimage_builder (host python helpers of upstream elements)\n", package, "__init__.py")
        try put(loggingConfig, package, "logging_config.py")
    }

    /// The file, at the hooks root, that `BASH_ENV` names in and out of the chroot.
    static let bashFunctionsName = "stamp-functions.bash"

    /// DIB's exported shell functions (`get_image_element_array`, `die`, `_ps4`), defined again
    /// for every bash script through `BASH_ENV`.
    static func bashFunctions(elements: [(name: String, path: String)]) -> String {
        func quoted(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        let pairs = elements.map { "[\($0.name)]=\(quoted($0.path))" }.joined(separator: " ")
        return """
            # stamp: functions DIB exports to element scripts; read by bash through BASH_ENV.
            if [ -n "${BASH_VERSION:-}" ]; then
                get_image_element_array() {
                    echo \(quoted(pairs))
                }
                die() {
                    echo "ERROR: $*" >&2
                    exit 1
                }
                _ps4() {
                    echo "${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]} "
                }
                export -f get_image_element_array die _ps4
            fi

            """
    }

    static let die = #"""
        # stamp: die MESSAGE... — print to stderr and exit 1 (sourced by element scripts).
        die() {
            echo "ERROR: $*" >&2
            exit 1
        }
        """#

    static let commonDefaults = #"""
        # stamp: defaults element scripts may expect after sourcing $_LIB/common-defaults.
        : "${ARCH:=$(dpkg --print-architecture 2>/dev/null || uname -m)}"
        case "$ARCH" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; esac
        export ARCH
        export DIB_NO_TMPFS=${DIB_NO_TMPFS:-0}
        export DIB_MIN_TMPFS=${DIB_MIN_TMPFS:-2}
        export DIB_IMAGE_CACHE=${DIB_IMAGE_CACHE:-$HOME/.cache/image-create}
        export DIB_DEBUG_TRACE=${DIB_DEBUG_TRACE:-0}
        """#

    static let imgDefaults = #"""
        # stamp: image defaults.
        . "$(dirname "${BASH_SOURCE[0]:-$0}")/common-defaults"
        export IMAGE_TYPE=${IMAGE_TYPE:-qcow2}
        export FS_TYPE=${FS_TYPE:-ext4}
        export DIB_ROOT_LABEL=${DIB_ROOT_LABEL:-\#(Settings.defaultRootLabel)}
        """#

    static let commonFunctions = #"""
        # stamp: shell functions for element scripts that source $_LIB/common-functions.
        # stamp's stage driver does the work DIB's core functions do (hooks tree, mounts, phases);
        # these are the helpers element scripts themselves call.
        . "$_LIB/die"

        # Options for mounting a devpts like the host's /dev/pts.
        mount_dev_pts_options() {
            local opts
            opts=$(findmnt --first-only --noheadings --output OPTIONS /dev/pts 2>/dev/null || true)
            echo "-o ${opts:-gid=5,mode=620}"
        }

        # /proc, /dev, /dev/pts and a read-only /sys in $TMP_MOUNT_PATH. The mounts live in
        # stamp's private mount namespace and vanish with it.
        mount_proc_dev_sys() {
            local root=${TMP_MOUNT_PATH:?}
            mkdir -p "$root/proc" "$root/dev" "$root/sys"
            mount -t proc proc "$root/proc"
            mount --bind /dev "$root/dev"
            mkdir -p "$root/dev/pts"
            mount -t devpts $(mount_dev_pts_options) devpts "$root/dev/pts"
            mount -t sysfs -o ro sysfs "$root/sys"
        }

        # unmount_dir DIR: lazily unmounts everything below DIR, deepest first, except the
        # mount points of the block-device layer listed in DIB_MOUNTPOINTS.
        unmount_dir() {
            local dir=$1 real m skip mp
            [ -d "$dir" ] || { echo "*** $dir is not a directory"; return 0; }
            real=$(readlink -e "$dir")
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
        """#

    static let imgFunctions = #"""
        # stamp: image helpers for element scripts that source $_LIB/img-functions.
        . "$_LIB/common-functions"

        # select_boot_kernel_initrd ROOT: sets KERNEL and RAMDISK to the names (in ROOT/boot) of
        # the newest kernel and its initramfs. DIB_BAREMETAL_KERNEL_PATTERN and
        # DIB_BAREMETAL_INITRD_PATTERN (globs relative to boot/) override the search.
        select_boot_kernel_initrd() {
            local boot="$1/boot" k version
            if [ -n "${DIB_BAREMETAL_KERNEL_PATTERN:-}" ] && [ -n "${DIB_BAREMETAL_INITRD_PATTERN:-}" ]; then
                KERNEL=$(cd "$boot" && eval ls -1rv "${DIB_BAREMETAL_KERNEL_PATTERN}" | head -1)
                RAMDISK=$(cd "$boot" && eval ls -1rv "${DIB_BAREMETAL_INITRD_PATTERN}" | head -1)
                return 0
            fi
            k=$(cd "$boot" && ls -1rv vmlinu* 2>/dev/null | grep -v -e debug -e '\.efi\.signed$' | head -1)
            [ -n "$k" ] || { echo "No suitable kernel found."; exit 1; }
            version=${k#vmlinu?-}
            KERNEL=$k
            RAMDISK=""
            for candidate in "initrd.img-$version" "initramfs-$version.img" "initrd-$version"; do
                if [ -e "$boot/$candidate" ]; then RAMDISK=$candidate; break; fi
            done
            if [ -z "$RAMDISK" ]; then
                RAMDISK=$(cd "$boot" && ls -1rv initrd* initramfs* 2>/dev/null | head -1)
            fi
            [ -n "$RAMDISK" ] || { echo "Can't find an initramfs for kernel $KERNEL."; exit 1; }
            if [ -f "$1/dib-signed-kernel-version" ]; then . "$1/dib-signed-kernel-version"; fi
            if [ -n "${DIB_SIGNED_KERNEL_VERSION:-}" ]; then
                echo "Using signed kernel $DIB_SIGNED_KERNEL_VERSION"
                KERNEL=$(cd "$boot" && ls -1rv vmlinu*.efi.signed 2>/dev/null | head -1)
            fi
        }
        """#

    /// `sudo` for scripts outside the chroot: stamp already runs as root, so the command runs
    /// directly. Like sudo's default `env_reset`, the environment is reset unless `-E` /
    /// `--preserve-env` is given (upstream's `sudo chroot $TARGET_ROOT apt-get …` must not carry
    /// the build's TMPDIR, a host path, into the chroot).
    static let sudo = #"""
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
            set -- STAMP_SANDBOX="$STAMP_SANDBOX" STAMP_SANDBOX_EXEC="$STAMP_SANDBOX_EXEC" TMP_MOUNT_PATH="$TMP_MOUNT_PATH" "$@"
        fi
        set -- PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH" HOME=/root USER=root \
            LOGNAME=root SHELL=/bin/sh SUDO_USER=root SUDO_UID=0 SUDO_GID=0 "$@"
        for v in TERM LANG LANGUAGE LC_ALL LC_CTYPE LC_MESSAGES DISPLAY; do
            eval "[ -n \"\${$v+x}\" ]" && eval "set -- \"$v=\$$v\" \"\$@\""
        done
        exec env -i "$@"
        """#

    /// `stamp-tree-plain PATH…`: exits 0 when no existing component of any PATH (relative to
    /// the tree, `$TARGET_ROOT` or else `$TMP_MOUNT_PATH`) is a symbolic link or `..`. The
    /// built-in elements' scripts that edit the tree from outside the chroot check with it
    /// first: a tree from a container image may hold links to host paths, and those scripts
    /// run with the build's privileges on the host (docs/threat-model.md, rule 14). No
    /// program of the tree runs between the check and the edit.
    static let treePlain = #"""
        #!/bin/sh
        # stamp: stamp-tree-plain PATH... (see HostHelpers.swift)
        root=${TARGET_ROOT:-$TMP_MOUNT_PATH}
        for rel in "$@"; do
            p=$root rest=$rel
            while [ -n "$rest" ]; do
                part=${rest%%/*}
                if [ "$part" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
                [ -n "$part" ] && [ "$part" != . ] || continue
                p=$p/$part
                if [ "$part" = .. ] || [ -L "$p" ]; then
                    echo "stamp-tree-plain: $rel: /${p#"$root"/} is a symbolic link or '..' in the tree" >&2
                    exit 1
                fi
                [ -e "$p" ] || break
            done
        done
        exit 0
        """#

    /// `chroot` for scripts outside the chroot (`sudo chroot $TARGET_ROOT …`, as upstream
    /// elements write it): into a tree from a container image (`STAMP_SANDBOX` set) it enters
    /// stamp's sandbox instead (``Sandbox``), and into a directory inside that tree it is
    /// refused; anything else is the system's chroot.
    static let chroot = #"""
        #!/bin/sh
        # stamp: chroot for element scripts (see HostHelpers.swift).
        if [ -n "${STAMP_SANDBOX:-}" ] && [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
            target=$(cd "$1" 2>/dev/null && pwd -P) || target=
            root=$(cd "${TMP_MOUNT_PATH:-/nonexistent}" 2>/dev/null && pwd -P) || root=
            if [ -n "$root" ] && [ "$target" = "$root" ]; then
                shift
                [ $# -gt 0 ] || set -- /bin/sh -i
                exec "$STAMP_SANDBOX_EXEC" --stamp-sandbox "$root" - "$STAMP_SANDBOX" -- "$@"
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
        """#

    static let loggingConfig = #"""
        # stamp's stand-in for diskimage_builder.logging_config: log lines to stderr.
        import logging
        import os
        import sys


        def setup():
            level = logging.DEBUG if int(os.environ.get('DIB_DEBUG_TRACE', '0') or 0) > 0 else logging.INFO
            logging.basicConfig(stream=sys.stderr, level=level,
                                format='%(levelname)s %(name)s [-] %(message)s')
        """#
}
