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

void stamp_start_writeback(int fd, int64_t offset, int64_t length) {
    (void)sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

void stamp_advise_sequential(int fd) { (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); }
void stamp_advise_willneed(int fd, int64_t offset, int64_t length) {
    (void)posix_fadvise(fd, offset, length, POSIX_FADV_WILLNEED);
}

#include <sys/stat.h>
#include <string.h>

static int stamp_statx(int dirfd, const char *name, int flags, struct stamp_stat *out) {
    struct statx sx;
    memset(out, 0, sizeof *out);
    if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
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

int stamp_lstat(int dirfd, const char *name, struct stamp_stat *out) { return stamp_statx(dirfd, name, 0, out); }
int stamp_fstat(int fd, struct stamp_stat *out) { return stamp_statx(fd, "", AT_EMPTY_PATH, out); }

#include <sys/xattr.h>
ssize_t stamp_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t stamp_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

// listxattrat(2) and getxattrat(2) (Linux 6.13; the same numbers on every architecture).
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
/// Set once the kernel has said ENOSYS; from then on the /proc path is used (a benign race).
static volatile int stamp_xattrat_missing;

void stamp_use_xattrat(int use) { stamp_xattrat_missing = !use; }

/// "/proc/self/fd/DIRFD/LEAF" into `buf`: the l* calls then act on `leaf` in `dirfd`.
static int stamp_proc_leaf(char *buf, size_t n, int dirfd, const char *leaf) {
    int len = snprintf(buf, n, "/proc/self/fd/%d/%s", dirfd, leaf);
    if (len < 0 || (size_t)len >= n) { errno = ENAMETOOLONG; return -1; }
    return 0;
}

ssize_t stamp_listxattr_at(int dirfd, const char *leaf, char *list, size_t size) {
    if (!stamp_xattrat_missing) {
        long r = syscall(SYS_listxattrat, dirfd, leaf, AT_SYMLINK_NOFOLLOW, list, size);
        if (r >= 0 || errno != ENOSYS) return (ssize_t)r;
        stamp_xattrat_missing = 1;
    }
    char path[PATH_MAX];
    if (stamp_proc_leaf(path, sizeof path, dirfd, leaf) != 0) return -1;
    return llistxattr(path, list, size);
}

ssize_t stamp_getxattr_at(int dirfd, const char *leaf, const char *name, void *value, size_t size) {
    if (!stamp_xattrat_missing) {
        struct { uint64_t value; uint32_t size; uint32_t flags; } args = {(uint64_t)(uintptr_t)value, (uint32_t)size, 0};
        if (size > UINT32_MAX) args.size = UINT32_MAX;
        long r = syscall(SYS_getxattrat, dirfd, leaf, AT_SYMLINK_NOFOLLOW, name, &args, sizeof args);
        if (r >= 0 || errno != ENOSYS) return (ssize_t)r;
        stamp_xattrat_missing = 1;
    }
    char path[PATH_MAX];
    if (stamp_proc_leaf(path, sizeof path, dirfd, leaf) != 0) return -1;
    return lgetxattr(path, name, value, size);
}

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

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/mman.h>

/// Opens `relative` (a path below the directory `rootfd`; "" or "." is the root itself)
/// without leaving the root and without following any symlink, in any component:
/// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). On kernels without
/// openat2 (before 5.6) the same is done one component at a time with O_NOFOLLOW, refusing
/// "..". `flags` are open(2) flags (O_CLOEXEC and O_NOFOLLOW are added); O_NOATIME is
/// dropped again when the caller does not own the file. -1 with errno set (ELOOP for a
/// symlink, EXDEV for an escape).
const int stamp_o_noatime = O_NOATIME;

int stamp_open_beneath(int rootfd, const char *relative, int flags) {
    flags |= O_CLOEXEC | O_NOFOLLOW;
    if (relative[0] == 0) relative = ".";
    struct open_how how = {0};
    how.flags = (unsigned long long)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, rootfd, relative, &how, sizeof how);
    if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) {
        how.flags = (unsigned long long)(flags & ~O_NOATIME);
        fd = syscall(SYS_openat2, rootfd, relative, &how, sizeof how);
    }
    if (fd >= 0 || errno != ENOSYS) return (int)fd;
    // Component walk for kernels without openat2.
    int dir = dup(rootfd);
    if (dir < 0) return -1;
    const char *p = relative;
    char name[256];
    for (;;) {
        while (*p == '/') p++;
        const char *end = p;
        while (*end && *end != '/') end++;
        size_t n = (size_t)(end - p);
        if (n >= sizeof name) { close(dir); errno = ENAMETOOLONG; return -1; }
        memcpy(name, p, n);
        name[n] = 0;
        while (*end == '/') end++;
        int last = *end == 0;
        if (n == 2 && name[0] == '.' && name[1] == '.') { close(dir); errno = EXDEV; return -1; }
        if (n == 0 || (n == 1 && name[0] == '.')) {
            if (last) return dir;
            p = end;
            continue;
        }
        int next = openat(dir, name, last ? flags : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (next < 0 && last && errno == EPERM && (flags & O_NOATIME)) next = openat(dir, name, flags & ~O_NOATIME);
        int saved = errno;
        close(dir);
        if (next < 0) { errno = saved; return -1; }
        if (last) return next;
        dir = next;
        p = end;
    }
}

/// An anonymous in-memory file holding `size` bytes of `bytes`, positioned at 0: content
/// stamp generated, read through the same descriptor calls as files of the tree.
int stamp_memfd_with(const void *bytes, size_t size) {
    int fd = (int)syscall(SYS_memfd_create, "stamp-generated", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const unsigned char *p = bytes;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, p + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { int saved = errno; close(fd); errno = saved; return -1; }
    return fd;
}

/// Opens `relative` as the tree below `rootfd` would see it from inside: symlinks (absolute
/// ones too) resolve within the tree, `..` stops at its top (openat2 RESOLVE_IN_ROOT). For
/// stamp's own edits of a built tree (its fstab): a link in the tree never leads to the host.
/// Needs openat2 (Linux 5.6); -1 with errno set.
int stamp_open_in_root(int rootfd, const char *relative, int flags, unsigned mode) {
    struct open_how how = {0};
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, rootfd, relative, &how, sizeof how);
}

/// `mkdir -p relative` inside the tree below `rootfd`, each component resolved as
/// stamp_open_in_root does; 0 or -1 with errno set.
int stamp_mkdirs_in_root(int rootfd, const char *relative, unsigned mode) {
    char prefix[4096];
    size_t length = strlen(relative);
    if (length >= sizeof prefix) { errno = ENAMETOOLONG; return -1; }
    for (size_t end = 0; end <= length; end++) {
        if (end < length && relative[end] != '/') continue;
        if (end == 0 || relative[end - 1] == '/') continue;
        memcpy(prefix, relative, end);
        prefix[end] = 0;
        int fd = stamp_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0) { close(fd); continue; }
        if (errno != ENOENT) return -1;
        char *slash = strrchr(prefix, '/');
        int parent = rootfd;
        const char *name = prefix;
        if (slash) {
            *slash = 0;
            parent = stamp_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
            if (parent < 0) return -1;
            name = slash + 1;
        }
        int made = mkdirat(parent, name, mode);
        int saved = errno;
        if (parent != rootfd) close(parent);
        if (made != 0 && saved != EEXIST) { errno = saved; return -1; }
    }
    return 0;
}
