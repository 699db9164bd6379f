# shellcheck shell=bash
# stamp: image defaults.
# shellcheck source=lib-common-defaults.sh
. "$(dirname "${BASH_SOURCE[0]:-$0}")/common-defaults"
export IMAGE_TYPE=${IMAGE_TYPE:-qcow2}
export FS_TYPE=${FS_TYPE:-ext4}
export DIB_ROOT_LABEL=${DIB_ROOT_LABEL:-@STAMP_DEFAULT_ROOT_LABEL@}
