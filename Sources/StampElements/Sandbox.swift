import CStampSupport
import Foundation

/// The sandbox in which the programs of a tree that came from a container image run (the
/// element phases inside the chroot of `stamp build --from`, the `oci-image` element).
///
/// The stage driver (``StageScript``) starts them as
///
/// ```
/// $STAMP_EXEC --stamp-sandbox ROOT HOOKS IDS -- COMMAND [ARG…]
/// ```
///
/// where `STAMP_EXEC` is stamp's own binary (stamp or disk-image-create) and the C
/// code in `Sources/CStampSupport/sandbox.c` does the rest before Swift starts a thread:
/// a user namespace whose root is not the host's, the tree ID-mapped into it (its files keep
/// their ids on disk), a new PID and mount namespace, a `/dev` of pseudo devices only, nosuid
/// and nodev everywhere, a read-only `/sys`, and `pivot_root` into the tree so that nothing
/// else of the host's file system is reachable. docs/threat-model.md lists what it withholds.
public enum Sandbox {
    /// The hidden first argument that selects the sandbox.
    public static let flag = "--stamp-sandbox"

    /// The host ids of the sandbox's uid/gid 0 … 65535 when stamp runs as root: systemd's
    /// "foreign" range (0x7FFE0000, 65536 ids), which no login or system user is given
    /// (systemd's UIDS-GIDS.md); `STAMP_SANDBOX_IDS=BASE` moves it.
    public static let defaultBase: UInt32 = 0x7FFE_0000
    /// How many ids the sandbox maps: 0 … 65535, as a build's user namespace does.
    public static let count: UInt32 = 65536

    /// The hidden first argument of `stamp_mount_proc_sys` (`Shell/lib-chroot-dev.sh`): an
    /// element chroot's `/proc` and `/sys`, mounted by the C the sandbox uses
    /// (`CStampSupport/chroot_proc_sys.c`), as `--stamp-chroot-mounts ROOT host|userns`.
    public static let chrootMountsFlag = "--stamp-chroot-mounts"

    /// Runs the sandbox (or the chroot mounts) and exits when this process was started as
    /// one; returns otherwise. The first statement of each executable's `main`.
    public static func runIfRequested() {
        guard CommandLine.argc > 1, let first = CommandLine.unsafeArgv[1] else { return }
        switch String(cString: first) {
        case flag: exit(stamp_sandbox_main(CommandLine.argc, CommandLine.unsafeArgv))
        case chrootMountsFlag: exit(stamp_chroot_mounts_main(CommandLine.argc, CommandLine.unsafeArgv))
        default: return
        }
    }

    /// The `IDS` argument for a build as `uid`: `BASE:COUNT` for root (a new user namespace),
    /// `-` inside stamp's own user namespace (an ordinary user's build, ``UserNamespace``),
    /// where the ids are already the build's. Nil with the problem when `STAMP_SANDBOX_IDS`
    /// is not a number or its range would include an id of /etc/passwd.
    public static func ids(
        environment: [String: String], insideUserNamespace: Bool,
        passwd: String? = try? String(
            contentsOfFile: "/etc/passwd", encoding: .utf8)
    ) -> Result<String, ElementError> {
        if insideUserNamespace { return .success("-") }
        var base = defaultBase
        if let text = environment["STAMP_SANDBOX_IDS"], !text.isEmpty {
            guard let value = UInt32(text), value > 0, UInt64(value) + UInt64(count) <= UInt64(UInt32.max) else {
                return .failure(
                    .invalidVariable(name: "STAMP_SANDBOX_IDS", value: text, reason: "not a uid from 1 to \(UInt32.max - count)"))
            }
            base = value
        }
        for line in (passwd ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count > 2, let uid = UInt32(fields[2]) else { continue }
            if uid >= base && UInt64(uid) < UInt64(base) + UInt64(count) {
                return .failure(
                    .invalidVariable(
                        name: "STAMP_SANDBOX_IDS", value: String(base),
                        reason:
                            "the sandbox's ids \(base)…\(UInt64(base) + UInt64(count) - 1) include user \(fields[0]) (\(uid)) of /etc/passwd; set it to a free range"
                    ))
            }
        }
        return .success("\(base):\(count)")
    }
}
