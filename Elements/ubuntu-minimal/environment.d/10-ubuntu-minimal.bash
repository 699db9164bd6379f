export DISTRO_NAME=ubuntu
export DIB_RELEASE=${DIB_RELEASE:-noble}
export DIB_INIT_SYSTEM=systemd
export EFI_BOOT_DIR=EFI/ubuntu
case "$ARCH" in
    amd64|i386) _stamp_mirror=http://archive.ubuntu.com/ubuntu ;;
    *) _stamp_mirror=http://ports.ubuntu.com/ubuntu-ports ;;
esac
export DIB_DEFAULT_MIRROR=${DIB_DISTRIBUTION_MIRROR:-$_stamp_mirror}
unset _stamp_mirror
export DIB_DEBIAN_COMPONENTS=${DIB_DEBIAN_COMPONENTS:-main,universe}
export DIB_UBUNTU_KERNEL=${DIB_UBUNTU_KERNEL:-linux-image-generic}
export DIB_DEBOOTSTRAP_BASE_PACKAGES=${DIB_DEBOOTSTRAP_BASE_PACKAGES:-ca-certificates,gnupg}
_stamp_components=${DIB_DEBIAN_COMPONENTS//,/ }
STAMP_APT_SOURCES="deb $DIB_DEFAULT_MIRROR $DIB_RELEASE $_stamp_components
deb $DIB_DEFAULT_MIRROR $DIB_RELEASE-updates $_stamp_components
deb $DIB_DEFAULT_MIRROR $DIB_RELEASE-security $_stamp_components"
export STAMP_APT_SOURCES
unset _stamp_components
