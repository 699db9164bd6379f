import Foundation
import Testing

@testable import StampOCI
import StampTestSupport

/// The registry client's HTTP layer against Tests/tools/oci/redirect_server.py: a redirect to
/// another origin (a registry sending a blob to its storage) must not carry the bearer token;
/// one to the same origin keeps it; a body over the limit is cut off with the size error.
@Suite(.serialized, .enabled(if: toolAvailable("python3")))
struct HTTPTransferTests {
    static func withServer(_ body: (Int, Int) throws -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/Tests/tools/oci/redirect_server.py"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var line = [UInt8]()
        while let byte = try out.fileHandleForReading.read(upToCount: 1)?.first, byte != 0x0A { line.append(byte) }
        let ports = String(decoding: line, as: UTF8.self).split(separator: " ").compactMap { Int($0) }
        try #require(ports.count == 2, "server said '\(String(decoding: line, as: UTF8.self))'")
        try body(ports[0], ports[1])
    }

    static func get(_ port: Int, _ path: String, limit: Int64 = 1 << 20) throws -> HTTPTransfer.Response {
        try HTTPTransfer.get(
            try #require(URL(string: "http://127.0.0.1:\(port)\(path)")), headers: ["Authorization": "Bearer secret"],
            limit: limit, what: path)
    }

    @Test func tokensStayWithTheirOrigin() throws {
        try Self.withServer { a, _ in
            let direct = String(decoding: try Self.get(a, "/echo").body, as: UTF8.self)
            let sameOrigin = String(decoding: try Self.get(a, "/here").body, as: UTF8.self)
            let otherOrigin = String(decoding: try Self.get(a, "/away").body, as: UTF8.self)
            #expect(direct == "Bearer secret")
            #expect(sameOrigin == "Bearer secret")
            #expect(otherOrigin == "none")
        }
    }

    @Test func bodiesOverTheLimitAreRefused() throws {
        try Self.withServer { a, _ in
            #expect(throws: OCIError.sizeOutOfBounds(what: "/echo", size: 13, limit: 5)) { try Self.get(a, "/echo", limit: 5) }
        }
    }
}
