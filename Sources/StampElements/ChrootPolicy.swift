import CStampSupport
import Foundation

/// What each kind of chroot stamp makes sees of `/proc`, `/sys` and `/dev`: one policy.
///
/// ```
/// kind                        /proc                      /sys                 /dev
/// element chroot, as root     new proc                   sysfs, read-only     the table, mknod
/// element chroot, user ns     new proc (else the         host's, bound        the table, the host's
///                             container's, bound)        read-only            nodes bound
/// image sandbox (sandbox.c)   new proc of its PID ns     host's, bound        the table, the host's
///                             (else bound)               read-only            nodes bound
/// every one of them           nosuid, nodev, noexec      nosuid, nodev,       nosuid, noexec
///                                                        noexec
/// boot loader step            none: it runs no program (StampBoot reads GRUB's files as data)
/// ```
///
/// `/proc` and `/sys` are mounted by one C function, `stamp_chroot_mount_proc_sys`
/// (`Sources/CStampSupport/chroot_proc_sys.c`): the sandbox calls it, and the element chroots'
/// shell reaches it by running stamp again (`stamp_mount_proc_sys` of `Shell/lib-chroot-dev.sh`
/// runs `$STAMP_EXEC --stamp-chroot-mounts ROOT host|userns`, ``Sandbox/runIfRequested()``).
/// The `/dev` table (its nodes, links and tmpfs size) is `Sources/CStampSupport/chroot_dev.c`:
/// the sandbox reads it there, and the element chroots through the variables of
/// ``environment`` that `stamp_mount_dev` reads, both for the stage driver's chroot and for
/// `mount_proc_dev_sys` of `$_LIB/common-functions`. The host's own `/dev` is never a
/// chroot's: maintainer scripts would chmod and chown its nodes.
public enum ChrootPolicy {
    public struct DeviceNode: Sendable, Equatable {
        public var name: String
        public var major: UInt32
        public var minor: UInt32
    }

    /// The device nodes of every chroot's `/dev`.
    public static var deviceNodes: [DeviceNode] {
        var nodes: [DeviceNode] = []
        var index: Int32 = 0
        while let node = stamp_dev_node_at(index) {
            nodes.append(
                DeviceNode(name: String(cString: node.pointee.name), major: node.pointee.major, minor: node.pointee.minor))
            index += 1
        }
        return nodes
    }

    /// The symbolic links of every chroot's `/dev`: (target, name).
    public static var deviceLinks: [(target: String, name: String)] {
        var links: [(target: String, name: String)] = []
        var index: Int32 = 0
        while let link = stamp_dev_link_at(index) {
            links.append((String(cString: link.pointee.target), String(cString: link.pointee.name)))
            index += 1
        }
        return links
    }

    /// The size option of the `/dev` tmpfs (`1m`).
    public static var tmpfsSize: String { String(cString: stamp_dev_tmpfs_size) }

    /// stamp's own executable (stamp or disk-image-create), which the shell runs for the
    /// sandbox and for the chroot mounts.
    public static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The variables `stamp_mount_dev` and `stamp_mount_proc_sys` read: `STAMP_DEV_NODES`
    /// (`NAME:MAJOR:MINOR …`), `STAMP_DEV_LINKS` (`TARGET:NAME …`), `STAMP_DEV_SIZE`, and
    /// `STAMP_EXEC` (``executable``).
    public static var environment: [String: String] {
        [
            "STAMP_EXEC": executable,
            "STAMP_DEV_NODES": deviceNodes.map { "\($0.name):\($0.major):\($0.minor)" }.joined(separator: " "),
            "STAMP_DEV_LINKS": deviceLinks.map { "\($0.target):\($0.name)" }.joined(separator: " "),
            "STAMP_DEV_SIZE": tmpfsSize,
        ]
    }
}
