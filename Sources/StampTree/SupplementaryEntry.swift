/// An entry a scan records although the tree does not hold it (``ScanOptions/supplements``).
///
/// Why: a build in a user namespace (an unprivileged `disk-image-create`, or any build inside
/// a rootless container) runs as uid 0 of that namespace, which may create files, directories
/// and symlinks but not device nodes: `mknod` is refused there. A root build's base system
/// has the few nodes debootstrap and mmdebstrap make in `/dev`; with these supplements the
/// unprivileged build's image holds the same entries, so the two images do not differ.
/// (At boot the kernel mounts devtmpfs over `/dev`: the nodes matter for a chroot of the
/// image, or a boot without an initramfs that opens `/dev/console` before devtmpfs.)
public struct SupplementaryEntry: Sendable, Equatable {
    /// The directory it goes in, relative to the root (`dev`).
    public var directory: String
    public var name: String
    public var kind: FileKind
    /// Permission bits (and setuid/setgid/sticky).
    public var permissions: UInt32
    public var major: UInt32 = 0
    public var minor: UInt32 = 0
    public var symlinkTarget: String?

    public init(
        directory: String, name: String, kind: FileKind, permissions: UInt32,
        major: UInt32 = 0, minor: UInt32 = 0, symlinkTarget: String? = nil
    ) {
        self.directory = directory
        self.name = name
        self.kind = kind
        self.permissions = permissions
        self.major = major
        self.minor = minor
        self.symlinkTarget = symlinkTarget
    }

    /// The `st_mode` type bits of ``kind``.
    var fileTypeBits: UInt32 {
        switch kind {
        case .regular: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .characterDevice: return 0o020000
        case .blockDevice: return 0o060000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        }
    }

    /// What mmdebstrap (and debootstrap's minimal set) puts in `/dev` of a base system, all
    /// owned by root: the character devices console (5,1), full (1,7), null (1,3), ptmx (5,2),
    /// random (1,8), tty (5,0), urandom (1,9), zero (1,5), mode 0666; the directories pts and
    /// shm; the symlinks fd, stdin, stdout, stderr into /proc/self/fd.
    public static let baseSystemDevices: [SupplementaryEntry] = {
        let chars: [(String, UInt32, UInt32)] = [
            ("console", 5, 1), ("full", 1, 7), ("null", 1, 3), ("ptmx", 5, 2),
            ("random", 1, 8), ("tty", 5, 0), ("urandom", 1, 9), ("zero", 1, 5),
        ]
        return chars.map {
            SupplementaryEntry(directory: "dev", name: $0.0, kind: .characterDevice, permissions: 0o666, major: $0.1, minor: $0.2)
        }
            + ["pts", "shm"].map { SupplementaryEntry(directory: "dev", name: $0, kind: .directory, permissions: 0o755) }
            + [
                ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                ("stderr", "/proc/self/fd/2"),
            ]
            .map { SupplementaryEntry(directory: "dev", name: $0.0, kind: .symlink, permissions: 0o777, symlinkTarget: $0.1) }
    }()
}
