#!/bin/sh
# make_root.sh CACHE_DIR
#
# Prints the path of a tarball of a Debian bookworm root that boots (kernel, systemd, udev,
# GRUB BIOS + EFI modules, initramfs-tools, e2fsprogs, cloud-guest-utils), building it
# with debootstrap the first time (~3 min, needs network and root). Boot tests extract it.
set -eu
cache=${1:?usage: make_root.sh CACHE_DIR}
tar=$cache/bookworm-boot-root.tar
if [ ! -f "$tar" ]; then
    mkdir -p "$cache"
    rm -rf "$cache/root.new"
    debootstrap --variant=minbase \
        --include=linux-image-amd64,systemd-sysv,udev,grub-pc-bin,grub-efi-amd64-bin,grub2-common,initramfs-tools,e2fsprogs,cloud-guest-utils \
        bookworm "$cache/root.new" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" > "$cache/debootstrap.log" 2>&1
    tar --numeric-owner --xattrs --acls -cpf "$tar.new" -C "$cache/root.new" .
    mv "$tar.new" "$tar"
    rm -rf "$cache/root.new"
fi
echo "$tar"
