#!/bin/sh
# add_signed_efi.sh TREE CACHE_DIR
#
# Puts Debian's signed shim and grub into TREE the way their packages install them
# (shim-signed, shim-helpers-amd64-signed, shim-unsigned's BOOTX64.CSV, grub-efi-amd64-signed),
# by unpacking the .debs (downloaded once into CACHE_DIR with the host's apt, which must
# point at the same release). Maintainer scripts are not run: they would call grub-install.
set -eu
tree=${1:?usage: add_signed_efi.sh TREE CACHE_DIR} cache=${2:?usage: add_signed_efi.sh TREE CACHE_DIR}
debs=$cache/signed-efi-debs
if [ ! -d "$debs" ]; then
    mkdir -p "$debs.new"
    (cd "$debs.new" && apt-get download shim-signed shim-helpers-amd64-signed shim-unsigned grub-efi-amd64-signed > /dev/null)
    mv "$debs.new" "$debs"
fi
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$tree"; done
ls "$tree/usr/lib/shim/shimx64.efi.signed" "$tree/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
