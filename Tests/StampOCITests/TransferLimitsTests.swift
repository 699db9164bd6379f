import Foundation
import Testing

@testable import StampOCI
import StampTestSupport

/// Every registry transfer has a minimum rate and a deadline (issue 18, item 9), against
/// Tests/tools/oci/slow_server.py on 127.0.0.1: a server dripping one byte every 0.9 s and
/// one that sends steadily but never ends are both given up on, in one line.
@Suite(.serialized, .enabled(if: toolAvailable("python3")))
struct TransferLimitsTests {
    static func withServer(_ body: (Int) throws -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/Tests/tools/oci/slow_server.py"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var line = [UInt8]()
        while let byte = try out.fileHandleForReading.read(upToCount: 1)?.first, byte != 0x0A { line.append(byte) }
        let port = try #require(
            Int(String(decoding: line, as: UTF8.self)), "server said '\(String(decoding: line, as: UTF8.self))'")
        try body(port)
    }

    static func get(_ port: Int, _ path: String, _ limits: TransferLimits) throws -> HTTPTransfer.Response {
        try HTTPTransfer.get(
            try #require(URL(string: "http://127.0.0.1:\(port)\(path)")), headers: [:], limit: 1 << 40, what: path, limits: limits
        )
    }

    /// One byte every 0.9 s is below 1 KiB/s: given up after the window (3 s here).
    @Test func aDrippingServerIsGivenUpOn() throws {
        var limits = TransferLimits()
        limits.rateWindowSeconds = 3
        try Self.withServer { port in
            let started = Date()
            do {
                _ = try Self.get(port, "/v2/x/blobs/sha256:00", limits)
                Issue.record("the transfer finished")
            } catch let error as OCIError {
                #expect(error.description.contains("Less than 1024 bytes/sec"), "\(error)")
                #expect(error.description.contains("STAMP_REGISTRY_MIN_RATE"), "\(error)")
                #expect(!error.description.contains("\n"))
            }
            #expect(Date().timeIntervalSince(started) < 20)
        }
    }

    /// 8 KiB/s passes the rate, but the transfer never ends: stopped at the deadline.
    @Test func aTransferThatNeverEndsMeetsTheDeadline() throws {
        var limits = TransferLimits()
        limits.deadlineSeconds = 3
        limits.rateWindowSeconds = 2
        try Self.withServer { port in
            let started = Date()
            do {
                _ = try Self.get(port, "/steady", limits)
                Issue.record("the transfer finished")
            } catch let error as OCIError {
                #expect(error.description.contains("timed out after"), "\(error)")
                #expect(error.description.contains("STAMP_REGISTRY_TIMEOUT"), "\(error)")
            }
            #expect(Date().timeIntervalSince(started) < 20)
        }
    }

    /// The defaults, and the environment's settings.
    @Test func settingsComeFromTheEnvironment() {
        let defaults = TransferLimits(environment: [:])
        #expect(defaults.deadlineSeconds == 3600 && defaults.minimumRate == 1024 && defaults.rateWindowSeconds == 60)
        let set = TransferLimits(environment: [
            "STAMP_REGISTRY_TIMEOUT": "10", "STAMP_REGISTRY_MIN_RATE": "5", "STAMP_REGISTRY_RATE_WINDOW": "7",
        ])
        #expect(set.deadlineSeconds == 10 && set.minimumRate == 5 && set.rateWindowSeconds == 7 && set.problem == nil)
        #expect(
            TransferLimits(environment: ["STAMP_REGISTRY_TIMEOUT": "soon"]).problem
                == "STAMP_REGISTRY_TIMEOUT=soon: not a positive whole number")
    }
}
