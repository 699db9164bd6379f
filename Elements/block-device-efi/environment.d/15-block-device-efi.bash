case "${ARCH:-}" in
    ppc64el|ppc64le|ppc64)
        echo "block-device-efi is not supported on $ARCH" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
export DIB_BLOCK_DEVICE=efi
