/*
 * The /proc and /sys of every chroot stamp makes, carried out here once: by the image sandbox
 * (sandbox.c, in C) and by the element chroots, whose shell reaches it by running stamp again
 * as `stamp --stamp-chroot-mounts ROOT host|userns` (`stamp_mount_proc_sys` in
 * Shell/lib-chroot-dev.sh), as their /dev comes from the one table of chroot_dev.c.
 *
 *   ROOT/proc   a new proc (of the caller's PID namespace)       nosuid, nodev, noexec
 *               userns: else the host's /proc, bound with its submounts: a container's
 *               /proc with masked paths (podman, Kubernetes) makes the kernel refuse a new
 *               proc to a user namespace, and the masks stay over the bound one
 *   ROOT/sys    host: a new sysfs                                ro, nosuid, nodev, noexec
 *               userns: the host's /sys bound with its submounts (a user namespace may not
 *               mount sysfs, and the submounts are locked to it), then made read-only
 *
 * Mode `host` is an element chroot of a root build; `userns` is a build in stamp's own user
 * namespace (UserNamespace.swift) and the image sandbox, which always runs in one. Each mount
 * is made detached, given its attributes, and only then moved onto its directory, which is
 * opened beneath ROOT as the tree itself resolves it (RESOLVE_IN_ROOT): no link of the tree
 * leads a mount outside it, and nothing is ever mounted writable and remounted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "CStampSupport.h"
#include "mount_api.h"

static const uint64_t proc_attributes = STAMP_ATTR_NOSUID | STAMP_ATTR_NODEV | STAMP_ATTR_NOEXEC;
static const uint64_t sys_attributes = STAMP_ATTR_RDONLY | STAMP_ATTR_NOSUID | STAMP_ATTR_NODEV | STAMP_ATTR_NOEXEC;

/* A detached mount moved onto `relative` beneath `rootfd`; closes `mount_fd`. */
static int attach_beneath(int rootfd, const char *relative, int mount_fd) {
    int target = stamp_directory_in_root(rootfd, relative);
    int status = target < 0 ? -1 : stamp_mount_attach(mount_fd, target);
    int saved = errno;
    if (target >= 0) close(target);
    close(mount_fd);
    errno = saved;
    return status;
}

/* The host's mount at `path` with its submounts, detached, every one given `attributes`. */
static int bound_copy(const char *path, uint64_t attributes) {
    int fd = stamp_mount_clone(path, 1);
    if (fd >= 0 && stamp_mount_set(fd, attributes, -1, 1) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        fd = -1;
    }
    return fd;
}

int stamp_chroot_mount_proc_sys(int rootfd, int userns, const char **failed) {
    static const char *const no_options[] = { NULL };
    int proc = stamp_mount_new("proc", no_options, proc_attributes);
    if (proc < 0 && userns) proc = bound_copy("/proc", proc_attributes);
    if (proc < 0 || attach_beneath(rootfd, "proc", proc) != 0) {
        *failed = "mounting /proc";
        return -1;
    }
    int sys = userns ? bound_copy("/sys", sys_attributes) : stamp_mount_new("sysfs", no_options, sys_attributes);
    if (sys < 0 || attach_beneath(rootfd, "sys", sys) != 0) {
        *failed = "mounting /sys";
        return -1;
    }
    return 0;
}

int stamp_chroot_mounts_main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[3], "host") != 0 && strcmp(argv[3], "userns") != 0)) {
        fprintf(stderr, "stamp: chroot mounts: usage: --stamp-chroot-mounts ROOT host|userns\n");
        return 125;
    }
    const char *failed = "opening the root";
    int rootfd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || stamp_chroot_mount_proc_sys(rootfd, strcmp(argv[3], "userns") == 0, &failed) != 0) {
        fprintf(stderr, "stamp: chroot mounts: %s: %s: %s\n", argv[2], failed, strerror(errno));
        return 125;
    }
    close(rootfd);
    return 0;
}
