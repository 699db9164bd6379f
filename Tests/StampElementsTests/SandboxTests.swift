import Foundation
import Testing

@testable import StampElements
import StampTestSupport

/// The pieces of the image sandbox that need no root: the id range it maps (Sandbox.ids) and
/// `stamp-tree-plain`, the check built-in elements make before editing a tree from outside.
struct SandboxTests {
    @Test func theRangeIsSystemdsForeignRangeUnlessMovedAndNeverAUsersIds() throws {
        let passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
        #expect(try Sandbox.ids(environment: [:], insideUserNamespace: false, passwd: passwd).get() == "2147352576:65536")
        #expect(try Sandbox.ids(environment: [:], insideUserNamespace: true, passwd: passwd).get() == "-")
        #expect(
            try Sandbox.ids(environment: ["STAMP_SANDBOX_IDS": "3000000"], insideUserNamespace: false, passwd: passwd).get()
                == "3000000:65536")
        // A range over a user of /etc/passwd, or no number: one line naming the variable.
        for (value, needle) in [("1", "include user alice (1000)"), ("x", "not a uid"), ("4294967295", "not a uid")] {
            switch Sandbox.ids(environment: ["STAMP_SANDBOX_IDS": value], insideUserNamespace: false, passwd: passwd) {
            case .success(let ids): Issue.record("\(value) gave \(ids)")
            case .failure(let problem):
                #expect("\(problem)".contains("STAMP_SANDBOX_IDS") && "\(problem)".contains(needle), "\(problem)")
                #expect(!"\(problem)".contains("\n"))
            }
        }
    }

    @Test func treePlainRefusesALinkOnTheWayAndAcceptsPlainOrMissingPaths() throws {
        let dir = try TemporaryDirectory("tree-plain")
        defer { dir.cleanup() }
        let script = dir.file("stamp-tree-plain")
        try HostHelpers.treePlain.write(toFile: script, atomically: true, encoding: .utf8)
        let made = try sh(
            """
            set -e; cd '\(dir.path)'; mkdir -p root/etc/apt/apt.conf.d root/var host
            ln -s '\(dir.file("host"))' root/var/cache; ln -s usr/lib root/lib
            """)
        try #require(made.status == 0, "\(made.output)")
        func check(_ paths: String...) throws -> CommandResult {
            try run(["/bin/sh", script] + paths, environment: ["TARGET_ROOT": dir.file("root")])
        }
        #expect(try check("etc/apt/apt.conf.d", "etc/missing/deeper").status == 0)
        let link = try check("etc/apt/apt.conf.d", "var/cache/apt/archives")
        #expect(
            link.status == 1 && link.stderr.contains("var/cache/apt/archives: /var/cache is a symbolic link"), "\(link.output)")
        #expect(try check("lib/modules").status == 1)  // even a link that stays inside: the check is strict
        #expect(try check("etc/../../host").status == 1)
    }
}
