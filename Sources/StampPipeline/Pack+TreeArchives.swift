import Foundation
import StampElements
import StampIO
import StampPackaging
import StampTree

#if canImport(Glibc)
    import Glibc
#endif

/// The outputs made of the tree itself rather than of the disk: `-t squashfs` and `-t docker`
/// (`tar` and `tgz` are written by ``TreeTarball`` in ``Packer/writeOutputs``).
///
/// ```
/// root tree ─► mksquashfs -comp xz ─► .OUT.squash.stamp-PID-N-partial ─rename─► OUT.squash
///           ─► DockerArchive (layer, config, manifest.json) ─────────────────► OUT.docker.tar
///                                                  └─► docker load -i (--docker-target, a docker CLI on PATH)
/// ```
///
/// diskimage-builder runs `mksquashfs TREE NAME.squash -comp xz -noappend -wildcards
/// -e "proc/*" -e "sys/*" -no-recovery` (its disk-image-create) and writes no checksum for it;
/// stamp runs the same (squashfs-tools reads the tree as data, nothing of it runs). For
/// `docker` DIB pipes a tarball of the tree into `docker import - TARGET` and keeps no file;
/// stamp writes the archive, which needs no Docker engine, and imports it only where asked.
extension Packer {
    /// Problems with the tree outputs, found before any work: a missing `mksquashfs`, an
    /// invalid `--docker-target`.
    func treeArchiveProblems() -> [String] {
        var problems: [String] = []
        if request.formats.contains(.squashfs), Spawn.which("mksquashfs") == nil {
            problems.append("-t squashfs needs mksquashfs on PATH (Debian package squashfs-tools)")
        }
        if request.formats.contains(.docker), let target = request.dockerTarget,
            let reason = DockerArchive.referenceProblem(target)
        {
            problems.append("invalid --docker-target '\(target)': \(reason)")
        }
        return problems
    }

    /// Writes `OUT.squash` from the root directory with DIB's mksquashfs options.
    func writeSquashfs(to path: String) throws {
        guard let mksquashfs = Spawn.which("mksquashfs") else {
            throw PackProblems(problems: ["-t squashfs needs mksquashfs on PATH (Debian package squashfs-tools)"])
        }
        let output = try OutputFile(path: path)
        var arguments = [
            request.root, output.temporaryPath, "-comp", "xz", "-noappend", "-wildcards", "-e", "proc/*", "-e", "sys/*",
            "-no-recovery", "-no-progress",
        ]
        // An ordinary user's tree becomes root's, as in the disk (callerOwnsAsRoot).
        if request.callerOwnsAsRoot != nil { arguments.append("-all-root") }
        if let epoch = request.sourceDateEpoch { arguments += ["-mkfs-time", String(epoch)] }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SOURCE_DATE_EPOCH")  // squashfs-tools would also reset every file's time
        let result = try Self.runTool(mksquashfs, arguments, environment: environment)
        guard result.status == 0 else {
            output.discard()
            throw PackProblems(problems: ["\(path): mksquashfs failed (exit \(result.status)): \(result.lastLine)"])
        }
        try output.commit()
    }

    /// Writes `OUT.docker.tar` from the scanned tree.
    func writeDockerArchive(_ tree: RootTree, to path: String) throws {
        let tag = request.dockerTarget.map(DockerArchive.tagged) ?? DockerArchive.defaultTag(outputBase: request.output)
        let created = request.sourceDateEpoch ?? Int64(time(nil))
        try DockerArchive(
            tag: tag, architecture: request.dockerArchitecture, created: created,
            clampTime: request.sourceDateEpoch.map { Timestamp(seconds: $0) }
        ).write(tree, to: path)
    }

    /// `docker load -i OUT.docker.tar` where `--docker-target` was given and a `docker` CLI
    /// is on PATH (Docker's, or podman-docker's); without one the archive is the result.
    func importDockerArchive(_ path: String) throws {
        guard let target = request.dockerTarget else { return }
        guard let docker = Spawn.which("docker") else {
            log("no docker CLI on PATH: \(path) not imported (docker load -i \(path) gives \(DockerArchive.tagged(target)))")
            return
        }
        log("importing \(path) as \(DockerArchive.tagged(target)) (docker load)")
        let result = try Self.runTool(docker, ["load", "-i", path], environment: ProcessInfo.processInfo.environment)
        guard result.status == 0 else {
            throw PackProblems(problems: [
                "docker load -i \(path) failed (exit \(result.status)): \(result.lastLine); the archive is kept"
            ])
        }
        for line in result.output.split(separator: "\n") { log(String(line)) }
    }

    /// Runs a host tool with no input, its output gathered (at most the last 64 KiB kept).
    static func runTool(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (
        status: Int32, output: String, lastLine: String
    ) {
        var command = Spawn.Command(executable, arguments, environment: environment)
        command.stdout = .pipe
        command.stderr = .toOutput
        let child: Spawn.Child
        do { child = try command.start() } catch { throw PackProblems(problems: ["\(executable): \(ErrorLine.describe(error))"]) }
        let output = String(decoding: child.output(keepingLast: 64 << 10), as: UTF8.self)
        let termination = child.wait()
        let last = output.split(separator: "\n").last.map(String.init) ?? "no output"
        return (termination.status, output, last)
    }
}
