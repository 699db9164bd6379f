import Foundation

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// stdout and stderr together, for messages.
    public var output: String { stdout + stderr }
}

/// Runs `arguments[0]` (looked up on PATH) with the rest as arguments, waiting for it.
@discardableResult
public func run(_ arguments: [String], environment: [String: String]? = nil, input: String? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe()
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

/// Runs a shell command line with bash.
@discardableResult
public func sh(_ script: String, environment: [String: String]? = nil) throws -> CommandResult {
    try run(["bash", "-c", script], environment: environment)
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

/// e2fsck -fn with the strict reading: exit 0 and no line beyond the pass lines, the
/// version banner and the summary. Returns the unexpected lines (empty when clean).
public func strictFsck(_ image: String) throws -> [String] {
    let r = try run(["e2fsck", "-fn", image])
    var unexpected: [String] = []
    for line in r.output.split(separator: "\n", omittingEmptySubsequences: true) {
        let l = String(line)
        if l.hasPrefix("e2fsck ") || l.hasPrefix("Pass ") || l.range(of: #"^\S+: \d+/\d+ files \(.*\), \d+/\d+ blocks$"#, options: .regularExpression) != nil {
            continue
        }
        unexpected.append(l)
    }
    if r.status != 0 { unexpected.append("exit status \(r.status)") }
    return unexpected
}
