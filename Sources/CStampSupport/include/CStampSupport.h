#ifndef STAMP_SUPPORT_H
#define STAMP_SUPPORT_H
/*
 * The small amount of C that stamp carries: checksums that want CPU instructions Swift does
 * not expose, and thin wrappers for Linux calls that glibc hides behind _GNU_SOURCE.
 * Every function is prefixed `stamp_` and documented where it is defined.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// CRC-32C (Castagnoli), no pre/post inversion: `crc` is the running register value.
/// ext4's `ext4_chksum` is `stamp_crc32c(seed, data, len)` with the seed used as is.
uint32_t stamp_crc32c(uint32_t crc, const void *data, size_t length);

/// CRC-32 (IEEE 802.3, as zlib and GPT use it), with the usual inversion: start with 0.
uint32_t stamp_crc32(uint32_t crc, const void *data, size_t length);

/// copy_file_range(2); returns bytes copied or -1 with errno set.
ssize_t stamp_copy_file_range(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len);

/// lseek(fd, offset, SEEK_DATA / SEEK_HOLE); -1 with errno set (ENXIO past the last data).
int64_t stamp_seek_data(int fd, int64_t offset);
int64_t stamp_seek_hole(int fd, int64_t offset);

/// fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, ...)
int stamp_punch_hole(int fd, int64_t offset, int64_t length);

/// posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) and WILLNEED on a range (hints only).
void stamp_advise_sequential(int fd);
void stamp_advise_willneed(int fd, int64_t offset, int64_t length);

/// sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): starts writeback of the range's
/// dirty pages without waiting for it (a hint; errors are ignored).
void stamp_start_writeback(int fd, int64_t offset, int64_t length);

/// 1 when the CPU has the SSE4.2 CRC32 instruction (used by stamp_crc32c).
int stamp_has_hw_crc32c(void);

/// The /dev of every chroot (chroot_dev.c): its device nodes, its symbolic links, the size of
/// its tmpfs. `stamp_dev_node_at` / `stamp_dev_link_at` return NULL past the last entry.
struct stamp_dev_node {
    const char *name;
    unsigned int major, minor;
};
struct stamp_dev_link {
    const char *target, *name;
};
const struct stamp_dev_node *stamp_dev_node_at(int index);
const struct stamp_dev_link *stamp_dev_link_at(int index);
extern const char *const stamp_dev_tmpfs_size;

/// posix_spawn(3) of `path` with `argv` and `envp` (NULL: this process's environment), in
/// `directory` (NULL: this one's), `in_fd`/`out_fd`/`err_fd` as its descriptors 0, 1, 2 (-1:
/// this process's own), no other descriptor, every signal default and unblocked, and with
/// `new_group` a process group of its own. 0 and `*pid`, or an errno (spawn.c).
int stamp_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                int in_fd, int out_fd, int err_fd, int new_group);

/// pipe2(fds, O_CLOEXEC); 0 or -1/errno.
int stamp_pipe(int fds[2]);

/// sigaction(2): `sig` is caught and its number written to `fd` (see syscalls.c).
int stamp_catch_signal(int sig, int fd);

/// What stamp needs of an inode, read with statx(2) (AT_SYMLINK_NOFOLLOW) relative to `dirfd`.
struct stamp_stat {
    uint32_t mode, uid, gid, nlink;
    uint64_t ino, size, blocks;
    uint32_t dev_major, dev_minor, rdev_major, rdev_minor;
    int64_t atime_sec, mtime_sec, ctime_sec, btime_sec;
    uint32_t atime_nsec, mtime_nsec, ctime_nsec, btime_nsec;
    int has_btime;
};

/// statx of `name` in directory `dirfd` without following a final symlink; 0 or -1/errno.
int stamp_lstat(int dirfd, const char *name, struct stamp_stat *out);

/// statx of the open descriptor `fd` itself; 0 or -1/errno.
int stamp_fstat(int fd, struct stamp_stat *out);

/// llistxattr(2) / lgetxattr(2): attributes of a path without following a final symlink.
ssize_t stamp_llistxattr(const char *path, char *list, size_t size);
ssize_t stamp_lgetxattr(const char *path, const char *name, void *value, size_t size);
/// The attributes of `leaf` (one name) in the directory `dirfd`, without following it if it is
/// a symlink: listxattrat(2)/getxattrat(2) with AT_SYMLINK_NOFOLLOW, or, on kernels without
/// them (before 6.13), llistxattr/lgetxattr of "/proc/self/fd/DIRFD/LEAF".
ssize_t stamp_listxattr_at(int dirfd, const char *leaf, char *list, size_t size);
ssize_t stamp_getxattr_at(int dirfd, const char *leaf, const char *name, void *value, size_t size);
/// Tests: 0 makes the two calls above take the /proc path, as on kernels before 6.13; 1 tries
/// the *xattrat calls again.
void stamp_use_xattrat(int use);

/// open(path, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOATIME), retrying without O_NOATIME when the
/// caller does not own the file; -1 with errno set.
int stamp_open_source(const char *path);

/// Opens `relative` below the directory `rootfd` without leaving it and without following
/// any symlink (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component walk); -1/errno.
int stamp_open_beneath(int rootfd, const char *relative, int flags);

/// O_NOATIME, which Swift's Glibc module does not declare (it needs _GNU_SOURCE).
extern const int stamp_o_noatime;

/// A memfd holding a copy of `bytes`, positioned at 0; -1/errno.
int stamp_memfd_with(const void *bytes, size_t size);

/// open(path, O_WRONLY|O_DIRECT|O_CLOEXEC), for page-cache-free output writes.
int stamp_open_direct(const char *path);

/// openat2 RESOLVE_IN_ROOT: `relative` as the tree below `rootfd` sees it (syscalls.c).
int stamp_open_in_root(int rootfd, const char *relative, int flags, unsigned mode);

/// `mkdir -p` inside the tree below `rootfd`, each component resolved within it.
int stamp_mkdirs_in_root(int rootfd, const char *relative, unsigned mode);

/// The /proc and /sys of every chroot (chroot_proc_sys.c), mounted beneath `rootfd`: a new
/// proc and a read-only sysfs, or with `userns` the bound fallbacks a user namespace needs.
/// 0, or -1/errno with `*failed` naming the step.
int stamp_chroot_mount_proc_sys(int rootfd, int userns, const char **failed);

/// `stamp --stamp-chroot-mounts ROOT host|userns`: the same, for the element chroots' shell;
/// returns the exit status (0, or 125 after one line on standard error).
int stamp_chroot_mounts_main(int argc, char **argv);

/// `stamp --stamp-sandbox ROOT HOOKS IDS -- COMMAND…` (sandbox.c): runs COMMAND confined to
/// the tree ROOT; returns the exit status. Call it before anything starts a thread.
int stamp_sandbox_main(int argc, char **argv);

#endif
