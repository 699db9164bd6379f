# shellcheck shell=bash
# stamp: defaults element scripts may expect after sourcing $_LIB/common-defaults.
: "${ARCH:=$(dpkg --print-architecture 2>/dev/null || uname -m)}"
case "$ARCH" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; esac
export ARCH
export DIB_NO_TMPFS=${DIB_NO_TMPFS:-0}
export DIB_MIN_TMPFS=${DIB_MIN_TMPFS:-2}
export DIB_IMAGE_CACHE=${DIB_IMAGE_CACHE:-$HOME/.cache/image-create}
export DIB_DEBUG_TRACE=${DIB_DEBUG_TRACE:-0}
