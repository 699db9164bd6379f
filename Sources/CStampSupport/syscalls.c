// Linux calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not set.
#define _GNU_SOURCE
#include "CStampSupport.h"
#include <fcntl.h>
#include <unistd.h>

ssize_t stamp_copy_file_range(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len) {
    loff_t in = off_in, out = off_out;
    return copy_file_range(fd_in, &in, fd_out, &out, len, 0);
}

int64_t stamp_seek_data(int fd, int64_t offset) { return lseek(fd, offset, SEEK_DATA); }
int64_t stamp_seek_hole(int fd, int64_t offset) { return lseek(fd, offset, SEEK_HOLE); }

int stamp_punch_hole(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, offset, length);
}

void stamp_advise_sequential(int fd) { (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); }
void stamp_advise_willneed(int fd, int64_t offset, int64_t length) {
    (void)posix_fadvise(fd, offset, length, POSIX_FADV_WILLNEED);
}

#include <sys/stat.h>
#include <string.h>

int stamp_lstat(int dirfd, const char *name, struct stamp_stat *out) {
    struct statx sx;
    memset(out, 0, sizeof *out);
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
              STATX_BASIC_STATS | STATX_BTIME, &sx) != 0) return -1;
    out->mode = sx.stx_mode; out->uid = sx.stx_uid; out->gid = sx.stx_gid; out->nlink = sx.stx_nlink;
    out->ino = sx.stx_ino; out->size = sx.stx_size; out->blocks = sx.stx_blocks;
    out->dev_major = sx.stx_dev_major; out->dev_minor = sx.stx_dev_minor;
    out->rdev_major = sx.stx_rdev_major; out->rdev_minor = sx.stx_rdev_minor;
    out->atime_sec = sx.stx_atime.tv_sec; out->atime_nsec = sx.stx_atime.tv_nsec;
    out->mtime_sec = sx.stx_mtime.tv_sec; out->mtime_nsec = sx.stx_mtime.tv_nsec;
    out->ctime_sec = sx.stx_ctime.tv_sec; out->ctime_nsec = sx.stx_ctime.tv_nsec;
    if (sx.stx_mask & STATX_BTIME) {
        out->has_btime = 1; out->btime_sec = sx.stx_btime.tv_sec; out->btime_nsec = sx.stx_btime.tv_nsec;
    }
    return 0;
}

#include <sys/xattr.h>
ssize_t stamp_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t stamp_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

#include <errno.h>
int stamp_open_source(const char *path) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

/// open(path, O_WRONLY|O_DIRECT|O_CLOEXEC): a second descriptor on an output file whose
/// writes bypass the page cache. -1 with errno (EINVAL where the filesystem has no O_DIRECT).
int stamp_open_direct(const char *path) {
    return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

#include <signal.h>
#include <string.h>

static volatile int stamp_signal_fd = -1;

static void stamp_signal_handler(int sig) {
    unsigned char number = (unsigned char)sig;
    int fd = stamp_signal_fd;
    if (fd >= 0) {
        ssize_t written = write(fd, &number, 1);  // async-signal-safe
        (void)written;
    }
}

/// Catches `sig` with a handler that writes its number (one byte) to `fd`, for a thread
/// reading the other end to act on outside the handler. A caught signal, unlike an ignored
/// one, is back to its default disposition in every program this process executes.
int stamp_catch_signal(int sig, int fd) {
    stamp_signal_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stamp_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(sig, &action, NULL);
}
