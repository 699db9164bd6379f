#!/usr/bin/env bash
# arm64_layout.sh DIR: an OCI layout DIR/layout whose tag "multi" is an image index offering
# linux/arm64 (a bootable Debian bookworm arm64 root) and linux/amd64 (a one-file image), for
# stamp pack --platform linux/arm64. Nothing of arm64 runs on the host:
#   - mmdebstrap --variant=extract unpacks Debian's arm64 kernel, grub-efi-arm64-bin and
#     busybox-static from the mirror ($DEBOOTSTRAP_MIRROR, else deb.debian.org) without
#     running any maintainer script;
#   - the initramfs is made here: busybox, the modules the root needs (virtio PCI and block,
#     ext4 and what it depends on, as the kernel's modinfo lists them) and an /init that
#     mounts the root named by root=UUID= read-only and prints
#     "STAMP_ARM64_MARKER <contents of /etc/stamp-marker> uuid=<UUID>" on the console;
#   - umoci makes the two images, and the index is written here.
set -euo pipefail
dir=$1
mirror=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
cd "$dir"
mmdebstrap --variant=extract --arch=arm64 --include=grub-efi-arm64-bin,linux-image-arm64,base-files,busybox-static \
  bookworm root "$mirror" > mmdebstrap.log 2>&1
kver=$(ls root/lib/modules)
modules="crc16 mbcache crc32c_generic jbd2 ext4 virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
mkdir -p initramfs/bin initramfs/lib/modules initramfs/proc initramfs/sys initramfs/dev initramfs/mnt
cp root/bin/busybox initramfs/bin/
for m in $modules; do cp "$(find "root/lib/modules/$kver" -name "$m.ko")" initramfs/lib/modules/; done
cat > initramfs/init <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $modules; do insmod /lib/modules/\$m.ko || echo "insmod \$m failed"; done
uuid=
for x in \$(cat /proc/cmdline); do case \$x in root=UUID=*) uuid=\${x#root=UUID=};; esac; done
dev=
for i in \$(seq 60); do dev=\$(findfs UUID=\$uuid 2>/dev/null) && break; sleep 1; done
if [ -n "\$dev" ] && mount -t ext4 -o ro "\$dev" /mnt; then
  echo "STAMP_ARM64_MARKER \$(cat /mnt/etc/stamp-marker) uuid=\$uuid"
fi
poweroff -f
INIT
chmod 755 initramfs/init
(cd initramfs && find . | cpio -o -H newc --quiet | gzip -1) > "root/boot/initrd.img-$kver"
echo STAMP_BOOT_OK > root/etc/stamp-marker
umoci init --layout layout
umoci new --image layout:arm
umoci config --image layout:arm --architecture arm64 --os linux
umoci unpack --image layout:arm bundle > /dev/null
cp -a root/. bundle/rootfs/
umoci repack --image layout:arm bundle
rm -rf bundle
umoci new --image layout:amd
umoci unpack --image layout:amd bundle > /dev/null
echo amd64 > bundle/rootfs/platform
umoci repack --image layout:amd bundle
rm -rf bundle
python3 - layout <<'PY'
import hashlib, json, os, sys
layout = sys.argv[1]
with open(os.path.join(layout, "index.json")) as f:
    index = json.load(f)
tagged = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
entries = []
for tag, arch in (("arm", "arm64"), ("amd", "amd64")):
    m = {k: v for k, v in tagged[tag].items() if k != "annotations"}
    m["platform"] = {"os": "linux", "architecture": arch}
    entries.append(m)
blob = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": entries}).encode()
digest = hashlib.sha256(blob).hexdigest()
with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
    f.write(blob)
index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + digest,
                           "size": len(blob), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(index, f)
PY
