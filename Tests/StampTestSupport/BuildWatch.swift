import Foundation

/// What a killed build leaves behind, seen from outside it: the processes it started and the
/// mount namespaces they ran in.
///
/// A build's mounts (`/proc`, `/dev`, the hooks bind, anything an element mounts) live in a
/// private mount namespace (see StageScript), so the test's own `/proc/self/mountinfo` cannot
/// show them, leaked or not. A mount namespace disappears exactly when no process is in it any
/// more. So, while the build runs, ``sample()`` records every descendant of the build's PID
/// (with its start time, so a reused PID is not mistaken for it) and every mount namespace
/// those descendants are in other than the test's own; after the kill, ``survivors(touching:)``
/// lists any process that is one of those descendants, is in one of those namespaces, or has
/// its command line, working directory or root inside the build's work directory. Zombies
/// (exited, not yet reaped) hold no namespace and are not counted.
///
/// A namespace's number (its nsfs inode) is free again once the namespace is gone, and the
/// kernel hands it to the next namespace made: after the kill, a build running beside this
/// one (the network phase runs suites in parallel) may unshare a mount namespace with the
/// dead build's number. So the namespace rule counts only processes that had started by the
/// last sample: a real leftover was alive then (whatever it forks later has it as an ancestor,
/// which is counted), a stranger in a reused namespace started after it.
public final class BuildWatch: @unchecked Sendable {
    /// One process, told apart from a later process with the same PID by its start time.
    public struct ProcessID: Hashable, Sendable, CustomStringConvertible {
        public var pid: Int32
        /// `/proc/PID/stat` field 22, in clock ticks since boot.
        public var startTime: UInt64
        public var description: String { "\(pid)@\(startTime)" }
    }

    /// What `/proc` says about one live process.
    struct Entry {
        var id: ProcessID
        var parent: Int32
        var state: Character
        var mountNamespace: String?
    }

    /// The PID of the build (the process the test started).
    public let root: Int32
    /// Every descendant of ``root`` seen by ``sample()`` (``root`` itself excluded).
    public private(set) var descendants: Set<ProcessID> = []
    /// Every mount namespace a descendant was seen in, other than the test's own
    /// (`readlink /proc/PID/ns/mnt`, e.g. `mnt:[4026532283]`).
    public private(set) var namespaces: Set<String> = []
    private let hostNamespace = BuildWatch.link("/proc/self/ns/mnt")
    /// The clock (ticks since boot, as `/proc/PID/stat` field 22 counts) at the last
    /// ``sample()``, rounded up.
    public private(set) var sampledUntil: UInt64 = 0
    private let lock = NSLock()

    public init(pid: Int32) { root = pid }

    /// Records the build's current descendants and their mount namespaces.
    public func sample() {
        let now = BuildWatch.ticksSinceBoot()
        let table = BuildWatch.processTable()
        var children: [Int32: [Entry]] = [:]
        for entry in table { children[entry.parent, default: []].append(entry) }
        var found: [Entry] = []
        var queue = [root]
        while let pid = queue.popLast() {
            for child in children[pid] ?? [] where child.id.pid != root {
                found.append(child)
                queue.append(child.id.pid)
            }
        }
        lock.lock()
        defer { lock.unlock() }
        sampledUntil = max(sampledUntil, now)
        for entry in found {
            descendants.insert(entry.id)
            if let ns = entry.mountNamespace, ns != hostNamespace { namespaces.insert(ns) }
        }
    }

    /// Live processes that belong to the build: recorded descendants, processes in a recorded
    /// mount namespace, and (with `directory`) processes whose command line, working directory
    /// or root lies in it. One line each: `PID: why: command line`.
    public func survivors(touching directory: String? = nil) -> [String] {
        lock.lock()
        let (known, spaces, until) = (descendants, namespaces, sampledUntil)
        lock.unlock()
        var lines: [String] = []
        for entry in BuildWatch.processTable() where entry.state != "Z" && entry.id.pid != getpid() {
            let pid = entry.id.pid
            var why: [String] = []
            if known.contains(entry.id) { why.append("a process of the build") }
            if let ns = entry.mountNamespace, spaces.contains(ns), entry.id.startTime <= until {
                why.append("in the build's mount namespace \(ns)")
            }
            let command = BuildWatch.commandLine(pid)
            if let directory {
                if command.contains(directory) { why.append("command line names \(directory)") }
                for link in ["cwd", "root"] {
                    if let target = BuildWatch.link("/proc/\(pid)/\(link)"), target.hasPrefix(directory) {
                        why.append("\(link) \(target)")
                    }
                }
            }
            if !why.isEmpty { lines.append("\(pid): \(why.joined(separator: ", ")): \(command)") }
        }
        return lines
    }

    /// ``survivors(touching:)`` once it is empty, or after `seconds` (a killed process takes a
    /// moment to be torn down and reaped).
    public func survivorsAfterWaiting(touching directory: String? = nil, seconds: Double = 10) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var left = survivors(touching: directory)
        while !left.isEmpty && Date() < deadline {
            usleep(100_000)
            left = survivors(touching: directory)
        }
        return left
    }

    /// SIGKILL to every survivor (clean-up after a failed expectation, so one failure does not
    /// leave processes holding mounts for the rest of the run).
    public func killSurvivors() {
        for line in survivors() {
            if let pid = Int32(line.prefix { $0 != ":" }) { kill(pid, SIGKILL) }
        }
    }

    // MARK: /proc

    static func processTable() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name in
            guard let pid = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8)
            else { return nil }
            // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses; fields follow the last ')'.
            guard let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
                let start = UInt64(fields[19])
            else { return nil }
            return Entry(
                id: ProcessID(pid: pid, startTime: start), parent: parent, state: state,
                mountNamespace: link("/proc/\(name)/ns/mnt"))
        }
    }

    /// Now, in the clock ticks of `/proc/PID/stat`'s start time (`/proc/uptime` is in
    /// hundredths of a second), rounded up.
    static func ticksSinceBoot() -> UInt64 {
        let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first
        let seconds = uptime.flatMap { Double($0) } ?? 0
        return UInt64((seconds * Double(sysconf(Int32(_SC_CLK_TCK)))).rounded(.up)) + 1
    }

    static func link(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    static func commandLine(_ pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}

extension BuildWatch {
    /// Starts `arguments` (an absolute executable and its arguments; stamp under
    /// ``loginOpenFilesLimit``), reads its stdout until
    /// `marker` appears, and kills it with SIGKILL then, without warning; meanwhile samples
    /// its processes and mount namespaces (at most every 0.2 s). Waits for it to end.
    /// - Returns: the watch (for ``survivorsAfterWaiting(touching:seconds:)``), whether the
    ///   marker appeared and the kill was sent, and the end of what the build printed.
    public static func killAtMarker(
        _ arguments: [String], environment: [String: String]? = nil, marker: String
    ) throws -> (watch: BuildWatch, killed: Bool, output: String) {
        // Under a login shell's open-files limit when it is stamp (env and prlimit exec the
        // command: the PID watched is the build's).
        let process = Process()
        setCommand(of: process, to: arguments)
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watch = BuildWatch(pid: process.processIdentifier)
        var seen = ""
        var killed = false
        var sampled = Date.distantPast
        let handle = pipe.fileHandleForReading
        while !killed {
            let data = handle.availableData
            if data.isEmpty { break }
            if Date().timeIntervalSince(sampled) > 0.2 {
                watch.sample()
                sampled = Date()
            }
            seen += String(decoding: data, as: UTF8.self)
            if seen.contains(marker) {
                watch.sample()
                kill(process.processIdentifier, SIGKILL)
                killed = true
            }
            if seen.count > 4_000_000 { seen = String(seen.suffix(100_000)) }
        }
        process.waitUntilExit()
        try? handle.close()
        return (watch, killed, String(seen.suffix(4000)))
    }
}
