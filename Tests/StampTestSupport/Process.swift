import Foundation

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// stdout and stderr together, for messages.
    public var output: String { stdout + stderr }

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The open-files limit a user's login shell gets (Debian's default soft limit, 1024).
///
/// `swift test` raises its own soft limit (to 2048 on this machine) and every process it starts
/// inherits that, so a test that just runs `stamp` runs it with more open files than the user
/// it is written for has. ``run(_:environment:input:openFiles:)`` puts stamp back under this
/// limit, soft and hard, with `prlimit --nofile=1024:1024`.
public let loginOpenFilesLimit = 1024

/// The open-files limit ``run(_:environment:input:openFiles:)`` gives a command.
public enum OpenFilesLimit: Sendable, Equatable {
    /// ``loginOpenFilesLimit`` when the command starts stamp (see ``startsStamp(_:)``), else
    /// whatever the test process has.
    case automatic
    /// Whatever the test process has (`swift test`'s raised limit).
    case inherited
    /// Exactly this many, soft and hard.
    case limit(Int)
}

/// Whether a command line starts one of stamp's binaries, directly or through a wrapper
/// (`setpriv … stamp`, `bash -c "… disk-image-create …"`, `timeout 60 stamp …`): some
/// word of some argument is `stamp` or `disk-image-create`, bare or as a path's last part.
public func startsStamp(_ arguments: [String]) -> Bool {
    let names: Set<Substring> = ["stamp", "disk-image-create"]
    for argument in arguments {
        for word in argument.split(whereSeparator: { " \t\n;&|()'\"".contains($0) }) {
            let last = word.split(separator: "/").last ?? word
            if names.contains(last) { return true }
        }
    }
    return false
}

/// `arguments`, prefixed by `prlimit` when `openFiles` asks for a limit.
public func withOpenFilesLimit(_ arguments: [String], _ openFiles: OpenFilesLimit) -> [String] {
    switch openFiles {
    case .inherited: return arguments
    case .limit(let n): return ["prlimit", "--nofile=\(n):\(n)", "--"] + arguments
    case .automatic: return startsStamp(arguments) ? withOpenFilesLimit(arguments, .limit(loginOpenFilesLimit)) : arguments
    }
}

/// Makes `process` run `arguments` as ``run`` would: through `/usr/bin/env`, so `arguments`
/// may start with env's own options and assignments (`-i`, `-u NAME`, `NAME=value`) before
/// the command (a path or a name on PATH), and stamp under ``loginOpenFilesLimit`` (`prlimit`
/// goes after env's part). For tests that must start a build and watch or kill it
/// themselves: `env` and `prlimit` exec the command, so the PID is the command's.
public func setCommand(of process: Process, to arguments: [String], openFiles: OpenFilesLimit = .automatic) {
    var envPart: [String] = []
    var command = arguments[...]
    while let first = command.first {
        if first == "-u" || first == "--unset" {
            envPart += command.prefix(2)
            command = command.dropFirst(2)
        } else if first.hasPrefix("-") || (first.contains("=") && !first.hasPrefix("/")) {
            envPart.append(first)
            command = command.dropFirst()
        } else {
            break
        }
    }
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = envPart + withOpenFilesLimit(Array(command), openFiles)
}

/// Runs `arguments[0]` (looked up on PATH) with the rest as arguments, waiting for it.
///
/// A command that starts stamp (``startsStamp(_:)``) runs with the open-files limit of a
/// login shell, ``loginOpenFilesLimit``, unless `openFiles` says otherwise: stamp must work
/// with what its users have, not with what the test runner has.
@discardableResult
public func run(
    _ arguments: [String], environment: [String: String]? = nil, input: String? = nil, openFiles: OpenFilesLimit = .automatic
) throws -> CommandResult {
    let process = Process()
    setCommand(of: process, to: arguments, openFiles: openFiles)
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let inPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    try process.run()
    if let input {
        inPipe.fileHandleForWriting.write(input.data(using: .utf8)!)
        try inPipe.fileHandleForWriting.close()
    }
    // Read both pipes concurrently so a chatty command cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs a shell command line with bash (under ``loginOpenFilesLimit`` when it starts stamp).
@discardableResult
public func sh(_ script: String, environment: [String: String]? = nil, openFiles: OpenFilesLimit = .automatic) throws
    -> CommandResult
{
    try run(["bash", "-c", script], environment: environment, openFiles: openFiles)
}

/// Whether `tool` is on PATH.
public func toolAvailable(_ tool: String) -> Bool {
    (try? run(["bash", "-c", "command -v \(tool)"]).status) == 0
}

/// True when running as root (device nodes, ownership, chroot tests need it).
public var isRoot: Bool { getuid() == 0 }

/// A fresh temporary directory, removed by `cleanup()`.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    /// A fresh directory under `base` (default: `STAMP_TEST_TMP`, else the temporary
    /// directory); `/dev/shm` for trees only tmpfs can hold (huge sparse files, > 65000 links).
    public init(_ label: String = "stamp-test", in base: String? = nil) throws {
        let base = base ?? ProcessInfo.processInfo.environment["STAMP_TEST_TMP"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }

    deinit { cleanup() }
}

/// The repository root (for Tests/tools and Elements/).
public var repositoryRoot: String {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    return FileManager.default.currentDirectoryPath
}

/// The `stamp` binary under test: `STAMP_BIN`, else the debug build.
public var stampBinary: String {
    if let bin = ProcessInfo.processInfo.environment["STAMP_BIN"], !bin.isEmpty { return bin }
    let release = repositoryRoot + "/.build/release/stamp"
    let debug = repositoryRoot + "/.build/debug/stamp"
    let releaseDate = (try? FileManager.default.attributesOfItem(atPath: release)[.modificationDate] as? Date) ?? .distantPast
    let debugDate = (try? FileManager.default.attributesOfItem(atPath: debug)[.modificationDate] as? Date) ?? .distantPast
    return releaseDate > debugDate ? release : debug
}

/// `arguments` as an ordinary user would run them: as `nobody` (65534, no groups) through
/// `setpriv` when the tests run as root, unchanged otherwise. What needs no privilege must work
/// without it; the command's outputs need a directory that user may write (chmod 1777).
public func asOrdinaryUser(_ arguments: [String]) -> [String] {
    isRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments : arguments
}

/// stamp's `disk-image-create`, built beside ``stampBinary``.
public var dibBinary: String { (stampBinary as NSString).deletingLastPathComponent + "/disk-image-create" }

/// Whether scripts/test's boot phase (or network phase) asked for QEMU boots.
public var bootTestsEnabled: Bool { ProcessInfo.processInfo.environment["STAMP_BOOT_TESTS"] != nil }

/// Whether scripts/test's network phase asked for builds that reach the Debian mirror.
public var networkTestsEnabled: Bool { ProcessInfo.processInfo.environment["STAMP_NETWORK_TESTS"] != nil }

/// The image cache (`DIB_IMAGE_CACHE`, `--image-cache`) a network test uses: `directory`,
/// whose base-system cache (`debootstrap/`, the bootstrapped tarballs) is the run's shared one
/// when `STAMP_TEST_IMAGE_CACHE` is set (scripts/test sets it), so the Debian base is
/// bootstrapped once per run, not once per suite. Only the tarballs are shared: the element
/// writes each one under a temporary name and renames it, so builds running in parallel can
/// share them; apt's `.deb` directory stays the suite's own, because apt locks it while it
/// runs and a second build would fail on the lock.
public func sharedImageCache(fallback directory: String) -> String {
    guard let shared = ProcessInfo.processInfo.environment["STAMP_TEST_IMAGE_CACHE"], !shared.isEmpty else { return directory }
    let fm = FileManager.default
    try? fm.createDirectory(atPath: shared + "/debootstrap", withIntermediateDirectories: true)
    try? fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let link = directory + "/debootstrap"
    if (try? fm.destinationOfSymbolicLink(atPath: link)) != shared + "/debootstrap" {
        try? fm.removeItem(atPath: link)
        try? fm.createSymbolicLink(atPath: link, withDestinationPath: shared + "/debootstrap")
    }
    return directory
}

/// One test run's identity: `STAMP_TEST_RUN_ID` (scripts/test sets one for all its phases),
/// else this process's PID. Builds shared by suites are reused within one run only.
public var testRunID: String {
    ProcessInfo.processInfo.environment["STAMP_TEST_RUN_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(getpid())"
}

/// Boots `image` under QEMU with Tests/tools/boot/boot_test.sh (`options`: its flags, e.g.
/// `--format qcow2 --snapshot`). boot_test.sh holds the machine's QEMU lock while its guest
/// runs, so the guests of suites running in parallel take turns (each TCG guest wants both
/// cores; two at once stall past their timeouts).
public func bootImage(_ image: String, _ options: [String]) throws -> CommandResult {
    try run(["bash", repositoryRoot + "/Tests/tools/boot/boot_test.sh", image] + options)
}

/// e2fsck -fn with the strict reading: exit 0 and no line beyond the pass lines, the
/// version banner and the summary. Returns the unexpected lines (empty when clean).
public func strictFsck(_ image: String) throws -> [String] {
    let r = try run(["e2fsck", "-fn", image])
    var unexpected: [String] = []
    for line in r.output.split(separator: "\n", omittingEmptySubsequences: true) {
        let l = String(line)
        if l.hasPrefix("e2fsck ") || l.hasPrefix("Pass ")
            || l.range(of: #"^\S+: \d+/\d+ files \(.*\), \d+/\d+ blocks$"#, options: .regularExpression) != nil
        {
            continue
        }
        unexpected.append(l)
    }
    if r.status != 0 { unexpected.append("exit status \(r.status)") }
    return unexpected
}
