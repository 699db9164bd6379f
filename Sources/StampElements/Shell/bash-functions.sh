# shellcheck shell=bash
# stamp: functions DIB exports to element scripts; read by bash through BASH_ENV.
# (HostHelpers puts the build's elements, one quoted word, in get_image_element_array.)
if [ -n "${BASH_VERSION:-}" ]; then
    get_image_element_array() {
        echo @STAMP_ELEMENT_PAIRS@
    }
    die() {
        echo "ERROR: $*" >&2
        exit 1
    }
    _ps4() {
        echo "${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]} "
    }
    export -f get_image_element_array die _ps4
fi
