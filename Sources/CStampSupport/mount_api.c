/*
 * The new mount API by number (see mount_api.h for the diagram): the numbers are the same on
 * every architecture (asm-generic/unistd.h), so no header of the C library is needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mount_api.h"

enum {
    SYS_OPEN_TREE = 428, SYS_MOVE_MOUNT = 429, SYS_FSOPEN = 430, SYS_FSCONFIG = 431,
    SYS_FSMOUNT = 432, SYS_OPENAT2_ = 437, SYS_MOUNT_SETATTR = 442
};
#define S_OPEN_TREE_CLONE 1u
#define S_AT_RECURSIVE 0x8000
#define S_MOVE_MOUNT_F_EMPTY_PATH 0x4u
#define S_MOVE_MOUNT_T_EMPTY_PATH 0x40u
#define S_FSCONFIG_SET_FLAG 0u
#define S_FSCONFIG_SET_STRING 1u
#define S_FSCONFIG_CMD_CREATE 6u
#define S_RESOLVE_NO_MAGICLINKS 0x02ull
#define S_RESOLVE_IN_ROOT 0x10ull

struct s_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
struct s_open_how { uint64_t flags, mode, resolve; };

int stamp_mount_clone(const char *path, int recursive) {
    return (int)syscall(SYS_OPEN_TREE, AT_FDCWD, path,
                        S_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? S_AT_RECURSIVE : 0));
}

int stamp_mount_set(int mount_fd, uint64_t set, int userns_fd, int recursive) {
    struct s_mount_attr attr = { set, 0, 0, (uint64_t)(userns_fd < 0 ? 0 : userns_fd) };
    if (userns_fd >= 0) attr.attr_set |= STAMP_ATTR_IDMAP;
    return (int)syscall(SYS_MOUNT_SETATTR, mount_fd, "", AT_EMPTY_PATH | (recursive ? S_AT_RECURSIVE : 0),
                        &attr, sizeof attr);
}

int stamp_mount_new(const char *type, const char *const *options, uint64_t attributes) {
    int context = (int)syscall(SYS_FSOPEN, type, 1u /* FSOPEN_CLOEXEC */);
    if (context < 0) return -1;
    for (int i = 0; options[i]; i += 2) {
        int flag = options[i + 1][0] == 0;
        if (syscall(SYS_FSCONFIG, context, flag ? S_FSCONFIG_SET_FLAG : S_FSCONFIG_SET_STRING, options[i],
                    flag ? NULL : options[i + 1], 0) != 0) {
            int saved = errno;
            close(context);
            errno = saved;
            return -1;
        }
    }
    int fd = -1;
    if (syscall(SYS_FSCONFIG, context, S_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        fd = (int)syscall(SYS_FSMOUNT, context, 1u /* FSMOUNT_CLOEXEC */, attributes);
    int saved = errno;
    close(context);
    errno = saved;
    return fd;
}

int stamp_mount_attach(int mount_fd, int target_fd) {
    return (int)syscall(SYS_MOVE_MOUNT, mount_fd, "", target_fd, "",
                        S_MOVE_MOUNT_F_EMPTY_PATH | S_MOVE_MOUNT_T_EMPTY_PATH);
}

int stamp_directory_in_root(int rootfd, const char *relative) {
    struct s_open_how how = { O_PATH | O_DIRECTORY | O_CLOEXEC, 0, S_RESOLVE_IN_ROOT | S_RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_OPENAT2_, rootfd, relative, &how, sizeof how);
    if (fd >= 0 || errno != ENOENT) return fd;
    char parent[256];
    const char *slash = strrchr(relative, '/');
    int parentfd = rootfd;
    const char *name = relative;
    if (slash) {
        size_t length = (size_t)(slash - relative);
        if (length >= sizeof parent) { errno = ENAMETOOLONG; return -1; }
        memcpy(parent, relative, length);
        parent[length] = 0;
        parentfd = stamp_directory_in_root(rootfd, parent);
        if (parentfd < 0) return -1;
        name = slash + 1;
    }
    int made = mkdirat(parentfd, name, 0755);
    int saved = errno;
    if (parentfd != rootfd) close(parentfd);
    if (made != 0 && saved != EEXIST) { errno = saved; return -1; }
    return (int)syscall(SYS_OPENAT2_, rootfd, relative, &how, sizeof how);
}
