// posix_spawn with what stamp's one spawner (StampIO's Spawn) needs: a working directory and
// closing every inherited descriptor are GNU extensions that Swift's Glibc module hides.
#define _GNU_SOURCE
#include "CStampSupport.h"
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;

int stamp_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                int in_fd, int out_fd, int err_fd, int new_group) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) return error;
    error = posix_spawnattr_init(&attributes);
    if (error != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    /* The three standard descriptors: dup2 clears close-on-exec, also when a descriptor is
     * already the one it goes to (glibc 2.29 and later). -1 keeps this process's own. */
    const int wanted[3] = { in_fd, out_fd, err_fd };
    for (int target = 0; target < 3 && error == 0; target++) {
        if (wanted[target] >= 0) error = posix_spawn_file_actions_adddup2(&actions, wanted[target], target);
    }
    /* Nothing else of this process reaches the program, close-on-exec or not. */
    if (error == 0) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (error == 0 && directory != NULL) error = posix_spawn_file_actions_addchdir_np(&actions, directory);
    /* Every signal at its default disposition and none blocked, whatever this process set. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (new_group ? POSIX_SPAWN_SETPGROUP : 0);
    if (error == 0) error = posix_spawnattr_setsigdefault(&attributes, &all);
    if (error == 0) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (error == 0 && new_group) error = posix_spawnattr_setpgroup(&attributes, 0);
    if (error == 0) error = posix_spawnattr_setflags(&attributes, flags);
    if (error == 0) error = posix_spawn(pid, path, &actions, &attributes, argv, envp != NULL ? envp : environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

int stamp_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
