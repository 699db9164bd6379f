/// The stage driver: the shell program that runs as PID 1 of a private PID and mount
/// namespace and performs one stage of the build (the build phases, or the finalise phases).
///
/// Why a shell program in a child: a mount namespace disappears only when its last process
/// exits, and `unshare(CLONE_NEWNS)` in a multithreaded Swift process moves one thread only.
/// So stamp starts
///
/// ```
/// setpriv --pdeathsig KILL -- unshare --mount --propagation private --pid --fork --kill-child -- sh stage.sh
/// ```
///
/// from a dedicated thread (the parent-death signal follows the spawning thread). If stamp is
/// killed, even with SIGKILL, `unshare` receives SIGKILL, `--kill-child` kills the driver,
/// and because the driver is PID 1 of its PID namespace the kernel kills every process in it;
/// the mount namespace, with `/proc`, `/sys`, `/dev`, `/dev/pts`, the hooks bind and any mount an
/// element made, goes with them. Nothing is ever mounted in the host's namespace.
///
/// Inputs come from the environment, so the script itself is constant:
/// `STAMP_ROOT` (the tree, `TMP_MOUNT_PATH`), `STAMP_HOOKS` (`TMP_HOOKS_PATH`), `STAMP_WORK`
/// (the work directory), `STAMP_STEPS` (space-separated steps, below), `STAMP_BREAK` (normalised
/// break points), `STAMP_INSTALLTYPE`, `STAMP_EXTRA_PACKAGES`, `STAMP_CHROOT_PATH`, and DIB's
/// `break_cmd` / `break_outside_target`.
///
/// A tree from a container image (`STAMP_SANDBOX` set, see ``Sandbox``) is never entered
/// with `chroot` and never edited from the host: each program of the chroot phases, and the
/// driver's own edits (`tweaks-on`/`tweaks-off`, `initramfs`, `finalise-base`), start through
/// stamp's sandbox, where the tree is `/` of a user namespace whose root is not the host's.
///
/// Steps: `phase:<dir>:in|out`, `check-root`, `installtype`, `mount`, `umount`, `tweaks-on`,
/// `tweaks-off`, `kill-chroot`, `packages`, `defer-initramfs`, `initramfs`, `finalise-base`.
/// Progress is reported on stdout as `@@stamp@@ …` lines, read by ``StageProcess``.
///
/// Build-time speed-ups, none of which reaches the image:
/// - `tweaks-on` adds dpkg's `force-unsafe-io` (no fsync per unpacked file: a killed build is
///   thrown away anyway, and the image is written from the finished tree); `tweaks-off`
///   removes it with the other tweaks.
/// - `defer-initramfs` exports `INITRD=No` to the chroot phases, so a kernel's postinst does
///   not build an initramfs that the initramfs-tools trigger then rebuilds (each build costs
///   ~17 s of mkinitramfs here); `initramfs` then makes, once, the initramfs of every kernel
///   that has none, before anything that needs it (`finalise.d`, the boot loader). While it
///   runs, the host's `pigz` is the tree's `/usr/bin/pigz` (mkinitramfs prefers pigz to gzip:
///   the same format, compressed on every core), behind a wrapper that falls back to gzip.
enum StageScript {
    static let text = EmbeddedShell.stageDriver
}
