import Foundation
import Logging
import StampElements
import StampTestSupport

/// Paths and small helpers shared by the element tests.
enum Fixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let elements = testsDirectory.appendingPathComponent("Fixtures/elements")
    static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let builtin = repository.appendingPathComponent("Elements")

    static var isRoot: Bool { getuid() == 0 }
    static var canChroot: Bool {
        isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stamp-elements-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A plan over the fixture elements only (no built-ins, no base).
    static func plan(_ elements: [String], work: URL, extra: [String: String] = [:]) -> ElementBuildPlan {
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = work.path
        env["DIB_IMAGE_CACHE"] = work.appendingPathComponent("cache").path
        env["STAMP_BREAK_NO_TTY"] = "1"
        env["DIB_IMAGE_NAME"] = "nodepool-name"
        env["STAMP_EXEC"] = stampBinary  // the chroot mounts and the sandbox: this process is the test runner
        env.merge(extra) { _, new in new }
        var plan = ElementBuildPlan(elements: elements, environment: env)
        plan.elementsPath = elements.isEmpty ? nil : Fixtures.elements.path
        plan.builtinElementsDirectory = nil
        plan.skipBase = true
        plan.workParent = work
        plan.imageName = work.appendingPathComponent("image").path
        return plan
    }
}

/// A log handler that keeps every line, for assertions.
final class LineCollector: @unchecked Sendable {
    // Guarded by `lock`.
    private var storage: [String] = []
    private let lock = NSLock()
    var lines: [String] { lock.withLock { storage } }
    func append(_ line: String) { lock.withLock { storage.append(line) } }

    var logger: Logger {
        Logger(label: "test") { _ in CollectingHandler(collector: self) }
    }
}

struct CollectingHandler: LogHandler {
    let collector: LineCollector
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { collector.append("\(event.message)") }
}
