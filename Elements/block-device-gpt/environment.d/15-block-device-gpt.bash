case "${ARCH:-}" in
    arm64|aarch64)
        echo "block-device-gpt is not supported on $ARCH" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
export DIB_BLOCK_DEVICE=gpt
