#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a shell script inside a chroot of a root tree, with nothing outliving it.
///
/// The child is `[setpriv --pdeathsig KILL] unshare --mount --propagation private --pid --fork
/// --kill-child`, so every mount made for the chroot lives in a private mount namespace held
/// only by processes of a new PID namespace: when the script ends, or when stamp is killed
/// (even with SIGKILL: the death signal reaches unshare, whose --kill-child reaches the
/// namespace's PID 1), the namespace and its mounts disappear (DESIGN.md principle 4).
/// Inside it, before `chroot`:
///
/// ```
///  TREE/dev   <- a small tmpfs with only null zero full random urandom bound in
///                (no host block devices, so nothing can probe the builder's disks)
///  TREE/proc  <- a fresh proc of the new PID namespace
///  TREE/tmp   <- the host work directory: the script, its inputs, its outputs
///  TREE/<f>   <- each `overlays` file bound over an existing file (e.g. grub-probe)
/// ```
///
/// The tree itself is only changed by what the script writes outside `/tmp`; the mount
/// points `/dev`, `/proc`, `/tmp` are created (empty, as in any Linux root) if missing.
/// The environment is built from scratch: no host variable leaks into the chroot.
struct TreeChroot {
    /// The root tree, an absolute path.
    let tree: String

    /// The host-side script that sets up the mounts and enters the chroot. Its arguments:
    /// `TREE WORK [HOSTFILE TREEPATH]...`; it runs `/bin/sh /tmp/run.sh` in the chroot.
    static let enterScript = """
        set -eu
        tree=$1; work=$2; shift 2
        mount -t tmpfs -o mode=0755,size=256k,nosuid stamp-dev "$tree/dev"
        for n in null zero full random urandom; do
            : > "$tree/dev/$n"
            mount --bind "/dev/$n" "$tree/dev/$n"
        done
        # In a container whose /proc has masked paths a new proc cannot be mounted: bind it.
        mount -t proc -o nosuid,nodev,noexec proc "$tree/proc" 2>/dev/null || mount --rbind /proc "$tree/proc"
        mount --bind "$work" "$tree/tmp"
        while [ $# -ge 2 ]; do
            if [ -L "$tree$2" ] || [ ! -f "$tree$2" ]; then
                echo "stamp: $2: not a regular file in the tree, cannot overlay it" >&2; exit 97
            fi
            mount --bind "$1" "$tree$2"
            shift 2
        done
        exec chroot "$tree" /bin/sh /tmp/run.sh
        """

    /// The environment the chroot sees.
    static let environment = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=/tmp", "DEBIAN_FRONTEND=noninteractive",
    ]

    /// Runs `script` in the chroot with the host directory `work` as its `/tmp`.
    /// - Parameters:
    ///   - script: POSIX shell, run with `/bin/sh` of the tree (written to `work/run.sh`).
    ///   - work: a host directory for inputs and outputs; survives the call.
    ///   - overlays: `(host file, absolute path in the tree)` pairs bound over tree files.
    /// - Returns: what the script printed (stdout and stderr).
    /// - Throws: ``BootError/commandFailed(command:status:output:)`` on a non-zero exit.
    func run(script: String, work: String, overlays: [(host: String, tree: String)] = []) throws(BootError) -> String {
        for directory in ["/dev", "/proc", "/tmp"] {
            let path = tree + directory
            if access(path, F_OK) != 0 && mkdir(path, directory == "/tmp" ? 0o1777 : 0o755) != 0 {
                throw .io(path: path, operation: "mkdir", errno: errno)
            }
        }
        try HostFiles.write(Array(script.utf8), to: work + "/run.sh", mode: 0o755)
        guard let unshare = Subprocess.locate("unshare"), let sh = Subprocess.locate("sh") else {
            throw .spawnFailed(command: "unshare", errno: ENOENT)
        }
        var arguments = [
            unshare, "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
            sh, "-c", Self.enterScript, "stamp-chroot", tree, work,
        ]
        // If stamp itself is killed, take unshare (and so, via --kill-child, the whole PID
        // namespace) down with it instead of letting the chroot run on unattended.
        if let setpriv = Subprocess.locate("setpriv") {
            arguments = [setpriv, "--pdeathsig", "KILL"] + arguments
        }
        for overlay in overlays { arguments += [overlay.host, overlay.tree] }
        let hostEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
        let result = try Subprocess.run(arguments, environment: hostEnvironment)
        guard result.status == 0 else {
            throw .commandFailed(command: "chroot \(tree)", status: result.status, output: result.output)
        }
        return result.output
    }
}

/// Small host-side file helpers (outside the tree or at fixed tree paths).
enum HostFiles {
    /// Writes `bytes` to `path` (created or truncated) with `mode`.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(BootError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                raw.baseAddress.map { Glibc.write(fd, $0 + done, raw.count - done) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += n
        }
        if fchmod(fd, mode) != 0 { throw .io(path: path, operation: "chmod", errno: errno) }
    }

    /// Reads the whole file at `path`.
    static func read(_ path: String) throws(BootError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    /// True when `path` exists (following symlinks).
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The names in a directory (without `.` and `..`), or [] if it cannot be read.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A new private directory under `$TMPDIR` (or /tmp).
    static func temporaryDirectory(prefix: String) throws(BootError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/" + prefix + ".XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw .io(path: base, operation: "mkdtemp", errno: errno)
        }
        return String(cString: made)
    }

    /// Removes `path` and everything below it (a work directory stamp made).
    static func removeTree(_ path: String) {
        if let rm = Subprocess.locate("rm") {
            _ = try? Subprocess.run([rm, "-rf", "--one-file-system", path], environment: [])
        }
    }
}
