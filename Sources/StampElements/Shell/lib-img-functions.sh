# shellcheck shell=bash disable=SC2010,SC2012
# (ls -v: kernel and initramfs names in /boot, newest version first, as DIB picks them.)
# stamp: image helpers for element scripts that source $_LIB/img-functions.
# shellcheck source=lib-common-functions.sh
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
