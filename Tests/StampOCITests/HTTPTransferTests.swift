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
            let direct = try Self.get(a, "/echo")
            let sameOrigin = try Self.get(a, "/here")
            let otherOrigin = try Self.get(a, "/away")
            #expect(String(decoding: direct.body, as: UTF8.self) == "Bearer secret")
            #expect(String(decoding: sameOrigin.body, as: UTF8.self) == "Bearer secret")
            #expect(String(decoding: otherOrigin.body, as: UTF8.self) == "none")
            // The registry client answers a 401's challenge only when it is not crossOrigin.
            #expect(!direct.crossOrigin && !sameOrigin.crossOrigin && otherOrigin.crossOrigin)
        }
    }

    /// A refused redirect is reported without the URL's query (a presigned URL's signature).
    @Test func messagesLeaveOutQueries() throws {
        try Self.withServer { a, _ in
            do {
                _ = try Self.get(a, "/ftp")
                Issue.record("a redirect to ftp:// was followed")
            } catch let error as OCIError {
                #expect(error.description.contains("redirect to 'ftp://127.0.0.1/blob' refused"), "\(error)")
                #expect(!error.description.contains("topsecret"), "\(error)")
            }
        }
        #expect(HTTPTransfer.display("https://u:p@s3.example/b/c?X-Amz-Credential=k#f") == "https://s3.example/b/c")
    }

    @Test func bodiesOverTheLimitAreRefused() throws {
        try Self.withServer { a, _ in
            #expect(throws: OCIError.sizeOutOfBounds(what: "/echo", size: 13, limit: 5)) { try Self.get(a, "/echo", limit: 5) }
        }
    }
}
