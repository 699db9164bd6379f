/*
 * The /dev of every chroot stamp makes: one table, read by the image sandbox (sandbox.c) and,
 * through the environment the element engine gives the stage driver (ChrootPolicy.swift), by
 * the element chroots (Shell/lib-chroot-dev.sh). Never the host's /dev: a package's
 * maintainer scripts would chmod and chown the host's device nodes through it.
 *
 *   /dev          tmpfs mode=0755,size=STAMP_DEV_TMPFS_SIZE, nosuid, noexec
 *     null zero full random urandom tty   made with mknod as root; the host's, bound onto
 *                                         empty files, in a user namespace (mknod refused)
 *     pts/        devpts newinstance,ptmxmode=0666,mode=0620
 *     shm/        tmpfs mode=1777, nosuid, nodev
 *     ptmx fd stdin stdout stderr         symbolic links (below)
 */
#include "CStampSupport.h"
#include <stddef.h>

static const struct stamp_dev_node nodes[] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct stamp_dev_link links[] = {
    { "pts/ptmx", "ptmx" }, { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
};

const struct stamp_dev_node *stamp_dev_node_at(int index) {
    return index >= 0 && (size_t)index < sizeof nodes / sizeof nodes[0] ? &nodes[index] : NULL;
}

const struct stamp_dev_link *stamp_dev_link_at(int index) {
    return index >= 0 && (size_t)index < sizeof links / sizeof links[0] ? &links[index] : NULL;
}

const char *const stamp_dev_tmpfs_size = "1m";
