#!/usr/bin/env bash
# Regenerates the fuzzers' seed corpus, Fuzz/corpus/<target>/: small real inputs for each
# target of StampFuzzing (see Fuzz/README.md). Container images come from three writers
# (stamp's own, qemu-img, and Fuzz/tiny-images.py for geometries the others cannot make);
# partition tables from sgdisk and sfdisk; the text formats from the shipped elements and
# hand-written samples. Needs a release stamp (swift build -c release --product stamp),
# qemu-img, sgdisk, sfdisk, mke2fs, mkfs.vfat and python3.
#
# Every image is a few KiB to ~130 KiB; the whole corpus stays well under 5 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stamp=${STAMP_BIN:-$root/.build/release/stamp}
out=$root/Fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"/{qcow2,vmdk,vhd,partition-table,block-device,package-installs,element-deps,dib-command-line,ovf-config,grub-files}

# A 128 KiB raw disk with a few patterned sectors (a GPT plus data), the source of the images.
disk=$work/disk.raw
truncate -s 128K "$disk"
sgdisk -q -n 1:40:+40K -t 1:8300 -c 1:root "$disk" >/dev/null
for sector in 100 101 180 255; do
    python3 -c "import sys; sys.stdout.buffer.write(bytes((i * $sector) & 255 for i in range(512)))" |
        dd of="$disk" bs=512 seek=$sector conv=notrunc status=none
done

# qcow2: qemu-img with 512-byte and 4 KiB clusters (v2, v3, compressed), and stamp's writer
# (64 KiB clusters: its header, L1 and refcount clusters make ~450 KiB, cut to the first 64 KiB).
q=$out/qcow2
qemu-img convert -q -O qcow2 -o cluster_size=512 "$disk" "$q/qemu-v3-c512.qcow2"
qemu-img convert -q -O qcow2 -c -o cluster_size=512 "$disk" "$q/qemu-v3-c512-compressed.qcow2"
qemu-img convert -q -O qcow2 -o compat=0.10,cluster_size=4096 "$disk" "$q/qemu-v2-c4k.qcow2"
qemu-img convert -q -O qcow2 -c -o compat=0.10,cluster_size=1024 "$disk" "$q/qemu-v2-c1k-compressed.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512 "$q/qemu-empty-c512.qcow2" 64K
"$stamp" convert "$disk" -O qcow2 "$work/stamp.qcow2"
head -c 65536 "$work/stamp.qcow2" >"$q/stamp-v3-head.qcow2"

# VMDK: both subformats, from tiny-images.py (1 and 8 sector grains), stamp and qemu-img.
v=$out/vmdk
python3 "$root/Fuzz/tiny-images.py" "$work/tiny"
cp "$work"/tiny/*.vmdk "$v/"
"$stamp" convert "$disk" -O vmdk "$v/stamp-stream.vmdk"
qemu-img convert -q -O vmdk -o subformat=streamOptimized "$disk" "$v/qemu-stream.vmdk"

# VHD: dynamic with 512-byte and 4 KiB blocks and fixed (tiny-images.py), stamp's fixed
# writer on a 4 KiB disk (dynamic VHDs from stamp and qemu-img have 2 MiB blocks: too big).
h=$out/vhd
cp "$work"/tiny/*.vhd "$h/"
head -c 4096 "$disk" >"$work/small.raw"
"$stamp" convert "$work/small.raw" -O vhd-fixed "$h/stamp-fixed.vhd"

# Partition tables on 64-128 KiB raw disks: GPT (sgdisk), MBR with primaries and with an
# extended partition holding logicals (sfdisk), a bare ext4 and a FAT partition.
p=$out/partition-table
truncate -s 64K "$p/gpt-two.raw"
sgdisk -q -n 1:34:+10K -t 1:ef00 -c 1:ESP -n 2:0:0 -t 2:8300 -c 2:root "$p/gpt-two.raw" >/dev/null
truncate -s 64K "$p/mbr-primary.raw"
printf 'label: dos\nlabel-id: 0x12345678\nstart=2, size=40, type=83, bootable\nstart=42, size=60, type=ef\n' |
    sfdisk -q "$p/mbr-primary.raw" >/dev/null
truncate -s 128K "$p/mbr-logical.raw"
printf 'label: dos\nstart=4, size=40, type=83\nstart=48, size=200, type=5\nstart=52, size=60, type=83\nstart=116, size=100, type=82\n' |
    sfdisk -q "$p/mbr-logical.raw" >/dev/null
truncate -s 128K "$p/gpt-fat.raw"
sgdisk -q -n 1:64:+60K -t 1:0700 -c 1:data "$p/gpt-fat.raw" >/dev/null
truncate -s 60K "$work/fat.img"
mkfs.vfat -n FUZZ "$work/fat.img" >/dev/null
dd if="$work/fat.img" of="$p/gpt-fat.raw" bs=512 seek=64 conv=notrunc status=none
# A partitionless ext4 (the whole-disk probe); only its first 16 KiB: the superblock region.
truncate -s 1M "$work/ext4.img"
mke2fs -q -t ext4 -L fuzzroot -F "$work/ext4.img" >/dev/null 2>&1
head -c 16384 "$work/ext4.img" >"$p/ext4-bare.raw"

# Block-device YAML: the shipped element configs, DIB's documented shapes, and edge cases.
b=$out/block-device
for f in Elements/block-device-*/block-device-*.yaml; do
    cp "$f" "$b/$(basename "$(dirname "$f")").yaml"
done
cat >"$b/dib-fallback.yaml" <<'YAML'
- local_loop:
    name: image0
- mkfs:
    name: mkfs_root
    base: image0
    mount:
      mount_point: /
      fstab:
        options: "defaults"
        fsck-passno: 1
YAML
cat >"$b/mbr-logicals-graph.yaml" <<'YAML'
- local_loop:
    name: image0
    size: 2GiB
- partitioning:
    base: image0
    label: mbr
    align: 1MiB
    partitions:
      - name: boot
        flags: [boot, primary]
        type: '0x41'
        size: 8MiB
      - name: swap
        type: '0x82'
        size: 512MB
      - name: root
        size: 100%
- mkfs:
    name: fs_root
    base: root
    type: ext4
    label: rootfs
    opts: "-i 4096"
- mkfs:
    name: fs_boot
    base: boot
    type: vfat
- mount:
    name: mount_root
    base: fs_root
    mount_point: /
- mount:
    name: mount_boot
    base: fs_boot
    mount_point: /boot
- fstab:
    base: mount_root
    options: "rw,relatime"
    dump-freq: 1
    fsck-passno: 1
YAML
cat >"$b/efi-4k.yaml" <<'YAML'
- local_loop:
    name: image0
    block_size: 4096
- partitioning:
    base: image0
    label: gpt
    partitions:
      - name: ESP
        type: 'EF00'
        size: 500MiB
        mkfs:
          type: vfat
          mount:
            mount_point: /boot/efi
            fstab: {options: "defaults", fsck-passno: 2}
      - name: root
        type: '8300'
        size: 2.5GiB
        mkfs: {type: ext4, uuid: 01234567-89ab-cdef-0123-456789abcdef, mount: {mount_point: /, fstab: {}}}
YAML
printf -- '- local_loop: {name: image0}\n- partitioning: {base: image0, label: gpt, partitions: [{name: a, size: 50%%}, {name: b, size: 50%%, flags: [primary]}]}\n' >"$b/gpt-primary-error.yaml"
printf -- '- lvm: {name: lvm, base: [root], pvs: [{name: pv, base: root}]}\n- bogus: {}\n- [1, 2]\n' >"$b/unsupported.yaml"

# package-installs (YAML and JSON) and pkg-map (JSON), from the shipped elements and samples.
k=$out/package-installs
for f in Elements/*/package-installs.yaml; do
    cp "$f" "$k/$(basename "$(dirname "$f")").yaml"
done
cat >"$k/every-key.yaml" <<'YAML'
grub-pc:
  arch: amd64, i386
  phase: pre-install.d
efibootmgr:
  not-arch: ppc64el
  installtype: package
  build-only: true
python3-dev:
  - dib_python_version: 3
    uninstall: yes
  - when:
      - DIB_RELEASE = bookworm
      - DIB_INIT_SYSTEM != systemd
vim:
curl: null
YAML
printf '{"openssh-server": null, "cron": {"phase": "install.d", "uninstall": "true"}, "x": [{"when": "A = b"}]}\n' >"$k/package-installs.json"
printf '{"release": {"debian": {"bookworm": {"grub": "grub-pc"}}}, "distro": {"ubuntu": {"ssh": "openssh-server"}}, "family": {"redhat": {"grub": "grub2"}}, "default": {"grub": "grub", "x": 1}}\n' >"$k/pkg-map.json"
printf 'a:\n  phase: no-such.d\n' >"$k/bad-phase.yaml"

# element-deps: NUL-separated sections: the requested names, then one element per section
# (name line, element-deps lines, optionally "--" and element-provides lines).
e=$out/element-deps
section() { printf '%s\0' "$@"; }
{ section $'ubuntu-minimal\nvm' $'base\ndpkg' $'dpkg' $'ubuntu-minimal\nbase\ndpkg\n--\noperating-system' \
    $'vm\nblock-device\nbootloader' $'block-device-mbr\n--\nblock-device' $'bootloader\n  base  \n'; } >"$e/ubuntu-vm.bin"
{ section $'a' $'a\nb' $'b\nc' $'c\na\n--\noperating-system'; } >"$e/cycle.bin"
{ section $'x\ny\nblock-device-gpt' $'x\n--\noperating-system\nthing' $'y\n--\nthing' $'block-device-gpt\nmissing'; } >"$e/conflicts.bin"
{ section $'base' $'base\n\n\n'; } >"$e/no-os.bin"

# DIB command lines: NUL-separated arguments, as nodepool and people write them.
d=$out/dib-command-line
args() { printf '%s\0' "$@"; }
args -x -t qcow2,vhd -o /opt/nodepool/images/ubuntu-noble-0000000001 --checksum --no-tmpfs \
    --qemu-img-options compat=0.10 ubuntu-minimal vm simple-init growroot >"$d/nodepool.bin"
args disk-image-create DIB_RELEASE=bookworm -a amd64 -xu -oimage.vmdk -t vmdk \
    --qemu-img-options=subformat=streamOptimized,foo=bar debian-minimal vm >"$d/dib-cmd.bin"
args --image-size 3.5 --image-extra-size 100 --mkfs-journal-size 32 --max-online-resize 1000000 \
    --root-label root --install-type source --min-tmpfs 2 --image-cache /var/cache -p vim,curl \
    --mkfs-options "-O ^has_journal" --logfile /tmp/log --offline -n -c -- -weird-element >"$d/every-option.bin"
args --che --qemu -t iso --image-size=-1 -k --help >"$d/errors.bin"
args --version >"$d/version.bin"

# OVF configs: the every-key fixture, and small ova-compose shapes (shorthands, !param,
# configurations, environment).
o=$out/ovf-config
cp Tests/Fixtures/ova/all-keys.yaml "$o/all-keys.yaml"
cat >"$o/minimal.yaml" <<'YAML'
system: {name: vm, type: vmx-20, os_vmw: !param os=other4xLinux64Guest, firmware: efi}
networks: {n: {name: VM Network}}
hardware:
  cpus: !param x=2
  memory: 2048
  s: {type: scsi_controller}
  d: {type: hard_disk, parent: s}
  e: {type: ethernet, subtype: VmxNet3, network: n}
YAML
cat >"$o/configurations.yaml" <<'YAML'
system: {name: c, default_configuration: big}
hardware:
  cpus_small: {type: cpus, number: 2, configuration: small}
  cpus_big: {type: cpus, number: 8, configuration: big}
  sata: {type: sata_controller}
  root: {type: hard_disk, parent: sata, config: {virtualDiskFormat: null}, sector_size: 4096}
  extra: {type: hard_disk, parent: sata, disk_capacity: 10, units: GB, configuration: big}
configurations:
  small: {label: Small, description: two}
  big: {label: Big, description: eight}
environment:
  transports: [com.vmware.guestInfo]
  categories: {sys: System}
  properties:
    hostname: {type: string, value: vm, user_configurable: true, category: sys}
    mem: {type: uint32, value: {default: 2048, configurations: {small: 1024, big: 8192}}}
YAML
cat >"$o/errors.yaml" <<'YAML'
system: {name: e, firmware: uefi}
hardware: {cpus: two, d: {type: hard_disk, parent: nowhere}}
product: {properties: {p: {type: uint8, value: 300, category: none}}}
YAML

du -sh "$out"

# GRUB files of an untrusted tree (issue 18): synthetic module lists (a cycle, deep chains,
# names that try to leave the directory), ELF32 kernel images made here (a valid shape, one
# below the link address, one whose section data lies past the end), a PE with a GRUB module
# area and its prefix, and os-release / default-grub texts. Nothing is copied from GRUB.
python3 Fuzz/grub-seeds.py "$out/grub-files"
