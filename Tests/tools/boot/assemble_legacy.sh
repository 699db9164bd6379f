#!/bin/sh
# assemble_legacy.sh LAYOUT TREE DISK UUID ESPDIR [SIZE]
#
# Stop-gap disk assembly for boot tests until stamp's own partition/ext4/FAT writers are
# integrated (reference/ext4.md Appendix B): no loop device, no mount. Writes DISK with
#   mbr: dos label, p1 = root at LBA 2048 (boot flag); core.img goes in the post-MBR gap
#   gpt: p1 = BIOS boot 2048-4095, p2 = root from 4096
#   efi: p1 = BIOS boot 2048-4095, p2 = ESP 4096-135167 (FAT32), p3 = root from 135168
# The root is `mke2fs -t ext4 -d TREE` at its partition offset with UUID and label "root";
# the ESP is a side file (mkfs.vfat + mcopy of ESPDIR/*) copied in with dd. The boot code
# (MBR, core.img) is NOT written here: the caller patches it in with StampBoot.
# Prints ROOT_LBA=<n> ROOT_PART=<n>.
set -eu
layout=$1 tree=$2 disk=$3 uuid=$4 espdir=$5 size=${6:-2G}
rm -f "$disk"
truncate -s "$size" "$disk"
case "$layout" in
    mbr)
        printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$disk"
        root_lba=2048 root_part=1 ;;
    gpt)
        sgdisk -n1:2048:4095 -t1:EF02 -n2:4096:0 -t2:8304 "$disk" > /dev/null
        root_lba=4096 root_part=2 ;;
    efi)
        sgdisk -n1:2048:4095 -t1:EF02 -n2:4096:135167 -t2:EF00 -n3:135168:0 -t3:8304 "$disk" > /dev/null
        root_lba=135168 root_part=3 ;;
    *) echo "assemble_legacy.sh: unknown layout $layout" >&2; exit 2 ;;
esac
# root partition size, from the table itself
sectors=$(sfdisk -d "$disk" | grep "^$disk$root_part :" | sed -n 's/.*size= *\([0-9]*\).*/\1/p')
root_kib=$((sectors / 2))
mke2fs -q -F -t ext4 -b 4096 -U "$uuid" -L root -E offset=$((root_lba * 512)) -d "$tree" "$disk" "${root_kib}k"
if [ "$layout" = efi ]; then
    esp=$disk.esp
    rm -f "$esp"
    mkfs.vfat -F 32 -n ESP -C "$esp" 65536 > /dev/null
    mcopy -s -i "$esp" "$espdir"/* ::/
    dd if="$esp" of="$disk" bs=512 seek=4096 conv=notrunc,sparse status=none
    rm -f "$esp"
fi
e2fsck -fn "$disk?offset=$((root_lba * 512))" > /dev/null
echo "ROOT_LBA=$root_lba ROOT_PART=$root_part"
