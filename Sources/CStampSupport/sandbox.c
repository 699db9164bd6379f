/*
 * The sandbox that runs a program of an untrusted tree (a container image's apt, dpkg and
 * maintainer scripts in the element phases of `stamp build --from`, the oci-image element).
 * stamp re-executes itself as
 *
 *     stamp --stamp-sandbox ROOT HOOKS IDS -- COMMAND [ARG...]
 *
 * from the stage driver (StageScript.swift), single-threaded, before Swift starts anything.
 *
 *   host (root)                          sandbox
 *   ───────────                          ───────
 *   uid 0 … 65535 of the tree's files ─► uid 0 … 65535 (an ID-mapped mount: disk ids unchanged)
 *   the process                       ─► uid 0 of a user namespace whose ids are
 *                                        BASE … BASE+COUNT-1 on the host: no host privilege
 *   ROOT (the tree, recursively)      ─► /          nosuid, nodev
 *   HOOKS                             ─► /tmp/in_target.d   read-only
 *   -                                 ─► /proc      a new proc of a new PID namespace (else
 *                                        the host's, bound): chroot_proc_sys.c, as every chroot's
 *   /dev/{null,zero,full,random,urandom,tty} ─► /dev (a 1 MiB tmpfs), + devpts, shm: the
 *                                        table of chroot_dev.c, which element chroots share
 *   /sys                              ─► /sys       bound read-only (chroot_proc_sys.c)
 *   everything else of the host       ─► unreachable (pivot_root, old root detached)
 *
 * IDS is `BASE:COUNT` (as root: a new user namespace, every mount of the tree ID-mapped into
 * it) or `-` (stamp already runs in its own user namespace, UserNamespace.swift: the ids are
 * the build's, no new namespace and no mapping). The program runs as PID 2 of a new PID
 * namespace whose PID 1 (this code) reaps and, on the program's exit, ends: every process the
 * program left dies with the namespace. PR_SET_NO_NEW_PRIVS is set. The network is the host's
 * (apt needs it). Errors: one line `stamp: sandbox: WHAT: REASON`, exit status 125.
 *
 * Kernel interfaces: user_namespaces(7), mount_setattr(2) (MOUNT_ATTR_IDMAP, Linux 5.12; tmpfs
 * since 6.3), open_tree(2)/move_mount(2)/fsopen(2) (the new mount API, 5.2, mount_api.c),
 * pivot_root(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CStampSupport.h"
#include "mount_api.h"

static const char *failed_what = "";

static int fail(const char *what) {
    failed_what = what;
    return -1;
}

/* A user namespace mapping 0 … count-1 to base …, held by a child only while the maps are
 * written and its descriptor opened (the caller must hold CAP_SETUID/CAP_SETGID: host root). */
static int make_user_namespace(unsigned long base, unsigned long count) {
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) return fail("pipe");
    pid_t child = fork();
    if (child < 0) return fail("fork");
    if (child == 0) {
        char byte = 0;
        close(ready[0]);
        close(done[1]);
        if (unshare(CLONE_NEWUSER) != 0) _exit(1);
        if (write(ready[1], &byte, 1) != 1) _exit(1);
        if (read(done[0], &byte, 1) < 0) _exit(1);
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    char byte, path[64], map[64];
    int fd = -1;
    if (read(ready[0], &byte, 1) != 1) {
        errno = EPERM;
        fail("unshare(CLONE_NEWUSER)");
        goto out;
    }
    snprintf(map, sizeof map, "0 %lu %lu\n", base, count);
    const char *files[] = { "uid_map", "gid_map" };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", (int)child, files[i]);
        int map_fd = open(path, O_WRONLY | O_CLOEXEC);
        if (map_fd < 0 || write(map_fd, map, strlen(map)) != (ssize_t)strlen(map)) {
            if (map_fd >= 0) close(map_fd);
            fail(i == 0 ? "writing the uid map" : "writing the gid map");
            goto out;
        }
        close(map_fd);
    }
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("opening the user namespace");
out:
    close(ready[0]);
    close(done[1]); /* the child reads EOF and exits */
    waitpid(child, NULL, 0);
    return fd;
}

/* /dev: the table of chroot_dev.c, the host's pseudo devices bound onto empty files. */
static int populate_dev(int rootfd, const int nodes[], int count) {
    const char *const tmpfs_options[] = { "mode", "0755", "size", stamp_dev_tmpfs_size, NULL };
    int dev = stamp_mount_new("tmpfs", tmpfs_options, STAMP_ATTR_NOSUID | STAMP_ATTR_NOEXEC);
    int target = stamp_directory_in_root(rootfd, "dev");
    if (dev < 0 || target < 0 || stamp_mount_attach(dev, target) != 0) return fail("mounting /dev");
    close(dev);
    close(target);
    int devfd = stamp_directory_in_root(rootfd, "dev");
    if (devfd < 0) return fail("opening /dev");
    for (int i = 0; i < count; i++) {
        const char *name = stamp_dev_node_at(i)->name;
        int file = openat(devfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (file < 0) return fail("creating a /dev node");
        close(file);
        int node_target = openat(devfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (node_target < 0 || stamp_mount_attach(nodes[i], node_target) != 0) return fail("binding a /dev node");
        close(node_target);
    }
    if (mkdirat(devfd, "pts", 0755) != 0 || mkdirat(devfd, "shm", 0755) != 0 || fchmodat(devfd, "shm", 01777, 0) != 0)
        return fail("making /dev/pts and /dev/shm");
    static const char *const pts_options[] = { "newinstance", "", "ptmxmode", "0666", "mode", "0620", NULL };
    static const char *const pts_fallback[] = { "ptmxmode", "0666", "mode", "0620", NULL };
    int pts = stamp_mount_new("devpts", pts_options, STAMP_ATTR_NOSUID | STAMP_ATTR_NOEXEC);
    if (pts < 0) pts = stamp_mount_new("devpts", pts_fallback, STAMP_ATTR_NOSUID | STAMP_ATTR_NOEXEC);
    int pts_target = openat(devfd, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (pts < 0 || pts_target < 0 || stamp_mount_attach(pts, pts_target) != 0) return fail("mounting /dev/pts");
    static const char *const shm_options[] = { "mode", "1777", NULL };
    int shm = stamp_mount_new("tmpfs", shm_options, STAMP_ATTR_NOSUID | STAMP_ATTR_NODEV);
    int shm_target = openat(devfd, "shm", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (shm < 0 || shm_target < 0 || stamp_mount_attach(shm, shm_target) != 0) return fail("mounting /dev/shm");
    for (int i = 0; stamp_dev_link_at(i) != NULL; i++)
        if (symlinkat(stamp_dev_link_at(i)->target, devfd, stamp_dev_link_at(i)->name) != 0) return fail("linking in /dev");
    close(devfd);
    return 0;
}

/* PID 1 of the sandbox's PID namespace: builds the root, starts the program, reaps. */
static int sandbox_init(int tree, int hooks, char **command) {
    enum { MAX_NODES = 16 };
    int nodes[MAX_NODES];
    int node_count = 0;
    char path[32];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 0; i < MAX_NODES && stamp_dev_node_at(i) != NULL; i++, node_count++) {
        snprintf(path, sizeof path, "/dev/%s", stamp_dev_node_at(i)->name);
        nodes[i] = stamp_mount_clone(path, 0);
        if (nodes[i] < 0) return fail("cloning a /dev node");
    }
    /* The tree goes over /tmp of this mount namespace (any directory would do). */
    int over = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (over < 0 || stamp_mount_attach(tree, over) != 0) return fail("attaching the tree");
    close(over);
    int rootfd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return fail("opening the tree");
    /* /proc and /sys as every chroot's (chroot_proc_sys.c): a user namespace's fallbacks. */
    if (stamp_chroot_mount_proc_sys(rootfd, 1, &failed_what) != 0) return -1;
    if (populate_dev(rootfd, nodes, node_count) != 0) return -1;
    int target;
    if (hooks >= 0) {
        target = stamp_directory_in_root(rootfd, "tmp/in_target.d");
        if (target < 0 || stamp_mount_attach(hooks, target) != 0) return fail("mounting the hooks");
        close(target);
    }
    if (fchdir(rootfd) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) return fail("pivot_root");
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) return fail("detaching the host's root");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS");
    pid_t program = fork();
    if (program < 0) return fail("fork");
    if (program == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(command[0], command);
        fprintf(stderr, "stamp: sandbox: %s: %s\n", command[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) return 125;
        if (pid == program) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}

static int usage(void) {
    fprintf(stderr, "stamp: sandbox: usage: --stamp-sandbox ROOT HOOKS|- BASE:COUNT|- -- COMMAND [ARG...]\n");
    return 125;
}

int stamp_sandbox_main(int argc, char **argv) {
    if (argc < 7 || strcmp(argv[5], "--") != 0) return usage();
    const char *root = argv[2], *hooks_path = argv[3], *ids = argv[4];
    unsigned long base = 0, count = 0;
    int mapped = strcmp(ids, "-") != 0;
    if (mapped) {
        char *end;
        base = strtoul(ids, &end, 10);
        if (*end != ':') return usage();
        count = strtoul(end + 1, &end, 10);
        if (*end || count == 0 || count > 65536 * 16 || base == 0 || base + count > 4294967295ul) return usage();
    }
    int status = 125;
    int userns = -1, tree = -1, hooks = -1;
    if (mapped && (userns = make_user_namespace(base, count)) < 0) goto report;
    tree = stamp_mount_clone(root, 1);
    if (tree < 0) { fail("cloning the tree"); goto report; }
    if (stamp_mount_set(tree, STAMP_ATTR_NOSUID | STAMP_ATTR_NODEV, userns, 1) != 0) {
        fail(mapped ? "ID-mapping the tree (its file system needs ID-mapped mounts)" : "restricting the tree");
        goto report;
    }
    if (strcmp(hooks_path, "-") != 0) {
        hooks = stamp_mount_clone(hooks_path, 1);
        if (hooks < 0 || stamp_mount_set(hooks, STAMP_ATTR_RDONLY | STAMP_ATTR_NOSUID | STAMP_ATTR_NODEV, userns, 1) != 0) {
            fail("cloning the hooks");
            goto report;
        }
    }
    if (mapped) {
        if (setns(userns, CLONE_NEWUSER) != 0) { fail("setns"); goto report; }
        close(userns);
        if (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
            fail("becoming root of the user namespace");
            goto report;
        }
    }
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) { fail("unshare(CLONE_NEWNS|CLONE_NEWPID)"); goto report; }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { fail("making the mounts private"); goto report; }
    pid_t init = fork();
    if (init < 0) { fail("fork"); goto report; }
    if (init == 0) {
        int code = sandbox_init(tree, hooks, argv + 6);
        if (code < 0) {
            fprintf(stderr, "stamp: sandbox: %s: %s\n", failed_what, strerror(errno));
            _exit(125);
        }
        _exit(code);
    }
    /* A signal that ends this process ends PID 1 too (PR_SET_PDEATHSIG), and with it the
     * namespace's every process. */
    for (;;) {
        int wstatus;
        pid_t pid = waitpid(init, &wstatus, 0);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) return 125;
        return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    }
report:
    fprintf(stderr, "stamp: sandbox: %s: %s\n", failed_what, strerror(errno));
    return status;
}
