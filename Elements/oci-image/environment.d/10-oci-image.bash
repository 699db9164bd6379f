# The distribution of the image's tree (stamp unpacks DIB_OCI_IMAGE before root.d), for the
# elements that map package names by distribution. Only the image's os-release is read: at
# TMP_MOUNT_PATH outside the chroot, at /etc inside it (where the hooks are mounted at
# /tmp/in_target.d); the host's own file is never consulted.
if [ -d /tmp/in_target.d ] && [ -r /etc/os-release ]; then
    _stamp_os_release=/etc/os-release
elif [ -n "${TMP_MOUNT_PATH:-}" ] && [ -r "$TMP_MOUNT_PATH/etc/os-release" ]; then
    _stamp_os_release=$TMP_MOUNT_PATH/etc/os-release
else
    _stamp_os_release=
fi
if [ -n "$_stamp_os_release" ]; then
    _stamp_os_id=$(. "$_stamp_os_release" && echo "${ID:-}")
    _stamp_os_codename=$(. "$_stamp_os_release" && echo "${VERSION_CODENAME:-}")
    export DISTRO_NAME=${DISTRO_NAME:-$_stamp_os_id}
    if [ -n "$_stamp_os_codename" ]; then export DIB_RELEASE=${DIB_RELEASE:-$_stamp_os_codename}; fi
    unset _stamp_os_id _stamp_os_codename
fi
unset _stamp_os_release
