export DISTRO_NAME=debian
export DIB_RELEASE=${DIB_RELEASE:-bookworm}
export DIB_INIT_SYSTEM=systemd
export EFI_BOOT_DIR=EFI/debian
export DIB_DEFAULT_MIRROR=${DIB_DISTRIBUTION_MIRROR:-http://deb.debian.org/debian}
export DIB_DEBIAN_COMPONENTS=${DIB_DEBIAN_COMPONENTS:-main}
export DIB_DEBIAN_SECURITY_MIRROR=${DIB_DEBIAN_SECURITY_MIRROR:-http://security.debian.org/debian-security}
case "$DIB_RELEASE" in
    buster|stretch|jessie) _stamp_security_subpath=/updates ;;
    *) _stamp_security_subpath=-security ;;
esac
export DIB_DEBIAN_SECURITY_SUBPATH=${DIB_DEBIAN_SECURITY_SUBPATH:-$_stamp_security_subpath}
unset _stamp_security_subpath
export DIB_DEBOOTSTRAP_BASE_PACKAGES=${DIB_DEBOOTSTRAP_BASE_PACKAGES:-ca-certificates,gnupg}
_stamp_components=${DIB_DEBIAN_COMPONENTS//,/ }
STAMP_APT_SOURCES="deb $DIB_DEFAULT_MIRROR $DIB_RELEASE $_stamp_components"
case "$DIB_RELEASE" in
    sid|unstable) ;;
    *)
        STAMP_APT_SOURCES="$STAMP_APT_SOURCES
deb $DIB_DEFAULT_MIRROR $DIB_RELEASE-updates $_stamp_components
deb $DIB_DEBIAN_SECURITY_MIRROR $DIB_RELEASE$DIB_DEBIAN_SECURITY_SUBPATH $_stamp_components"
        ;;
esac
export STAMP_APT_SOURCES
unset _stamp_components
