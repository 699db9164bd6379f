/*
 * Linux's new mount API by syscall number (glibc 2.36 wraps it, older ones do not), shared by
 * the chroot mounts (chroot_proc_sys.c) and the image sandbox (sandbox.c). Private to
 * CStampSupport: Swift never sees these.
 *
 *   fsopen ─► fsconfig(name=value …) ─► fsconfig(CMD_CREATE) ─► fsmount ─┐
 *   open_tree(path, OPEN_TREE_CLONE [| AT_RECURSIVE]) ───────────────────┤ a detached mount
 *                                        mount_setattr(ro, nosuid, …) ◄──┤
 *                                        move_mount(onto a directory) ◄──┘
 *
 * A detached mount is reachable by nothing until move_mount puts it somewhere, and the
 * directory it goes onto is opened first, beneath the tree (openat2 RESOLVE_IN_ROOT), so no
 * link of the tree leads a mount out of it.
 */
#ifndef STAMP_MOUNT_API_H
#define STAMP_MOUNT_API_H
#include <stdint.h>

#define STAMP_ATTR_RDONLY 0x1ull
#define STAMP_ATTR_NOSUID 0x2ull
#define STAMP_ATTR_NODEV 0x4ull
#define STAMP_ATTR_NOEXEC 0x8ull
#define STAMP_ATTR_IDMAP 0x100000ull

/// open_tree(path, OPEN_TREE_CLONE): a detached copy of the mount at `path` (with its
/// submounts when `recursive`); -1/errno.
int stamp_mount_clone(const char *path, int recursive);

/// mount_setattr(2) on a detached or attached mount: `set` attributes added (and the ID
/// mapping of user namespace `userns_fd` when it is not negative); -1/errno.
int stamp_mount_set(int mount_fd, uint64_t set, int userns_fd, int recursive);

/// A new detached mount of file system `type`, string options as name, value pairs ending
/// in NULL (an empty value sets a flag option), mount attributes `attributes`; -1/errno.
int stamp_mount_new(const char *type, const char *const *options, uint64_t attributes);

/// move_mount(2) of `mount_fd` onto the directory `target_fd` (an O_PATH descriptor).
int stamp_mount_attach(int mount_fd, int target_fd);

/// The directory `relative` below `rootfd`, symlinks resolved as if `rootfd` were `/` (the
/// tree's own view), made (mode 0755) where missing; an O_PATH descriptor or -1/errno.
int stamp_directory_in_root(int rootfd, const char *relative);

#endif
