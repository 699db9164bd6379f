import Foundation
import Testing
@testable import StampElements

/// /etc/subuid and /etc/subgid parsing and the one-line error of a caller without a range
/// (``SubordinateIDs``), over fixture text.
@Suite struct SubordinateIDsTests {
    typealias Range = SubordinateIDs.Range

    static let file = """
        # a comment, then a blank line

        root:100000:65536
        alice:165536:65536
        1001:231072:65536
        bob:296608:1000
        bob:297608:70000
        carol:not-a-number:65536
        carol:400000
        dave:4294967000:65536
        erin:500000:0
        """

    @Test func matchesNameOrNumericUID() {
        #expect(SubordinateIDs.ranges(in: Self.file, name: "alice", uid: 1000) == [Range(start: 165536, count: 65536)])
        // Shadow matches the decimal uid as well as the name: bob's numeric line is his.
        #expect(SubordinateIDs.ranges(in: Self.file, name: "frank", uid: 1001) == [Range(start: 231072, count: 65536)])
        #expect(SubordinateIDs.ranges(in: Self.file, name: nil, uid: 1001) == [Range(start: 231072, count: 65536)])
        // A name is not a prefix match, and nobody has no line.
        #expect(SubordinateIDs.ranges(in: Self.file, name: "ali", uid: 2000).isEmpty)
        #expect(SubordinateIDs.ranges(in: Self.file, name: "nobody", uid: 65534).isEmpty)
    }

    @Test func multipleRangesFirstLargeEnoughIsUsed() {
        let bob = SubordinateIDs.ranges(in: Self.file, name: "bob", uid: 1002)
        #expect(bob == [Range(start: 296608, count: 1000), Range(start: 297608, count: 70000)])
        #expect(SubordinateIDs.usable(bob) == Range(start: 297608, count: 70000))
        #expect(SubordinateIDs.usable([Range(start: 296608, count: 65534)]) == nil)
        #expect(SubordinateIDs.usable([Range(start: 296608, count: 65535)]) == Range(start: 296608, count: 65535))
        #expect(SubordinateIDs.usable([Range(start: 296608, count: 65536)]) == Range(start: 296608, count: 65536))
    }

    @Test func malformedLinesAreSkipped() {
        // A bad number, a missing field, a range past 2^32 - 1, a count of 0.
        for name in ["carol", "dave", "erin"] {
            #expect(SubordinateIDs.ranges(in: Self.file, name: name, uid: 3000).isEmpty, "\(name)")
        }
        #expect(
            SubordinateIDs.ranges(in: "dave:4294901760:65536", name: "dave", uid: 1) == [
                Range(start: 4_294_901_760, count: 65536)
            ])
        #expect(SubordinateIDs.ranges(in: "dave:4294901761:65536", name: "dave", uid: 1).isEmpty)
    }

    @Test func suggestionOverlapsNoRange() {
        #expect(SubordinateIDs.suggestedStart(in: "") == 100000)
        #expect(SubordinateIDs.suggestedStart(in: "x:1000:10") == 100000)
        #expect(SubordinateIDs.suggestedStart(in: Self.file) == 367608)  // bob's 297608 + 70000
    }

    @Test func noRangeGivesTheOneLine() throws {
        let problem = try #require(failure(SubordinateIDs.check(uid: 1000, name: "alice", gid: 1000, subuid: "", subgid: nil)))
        #expect(
            problem.description
                == "user alice (uid 1000) has no subordinate uid range in /etc/subuid: add a line such as 'alice:100000:65536' (and the same to /etc/subgid), or run as root"
        )
    }

    @Test func rangeTooSmallIsNamed() throws {
        let text = "alice:100000:1000\nalice:300000:5"
        let problem = try #require(failure(SubordinateIDs.check(uid: 1000, name: "alice", gid: 1000, subuid: text, subgid: text)))
        #expect(
            problem.description
                == "user alice (uid 1000) has no subordinate uid range of at least 65535 ids in /etc/subuid (only 100000:1000, 300000:5): add a line such as 'alice:300005:65536' (and the same to /etc/subgid), or run as root"
        )
    }

    @Test func onlyTheGroupFileMissing() throws {
        let problem = try #require(
            failure(
                SubordinateIDs.check(
                    uid: 1000, name: "alice", gid: 1000, subuid: "alice:100000:65536", subgid: "root:100000:65536")))
        #expect(
            problem.description
                == "user alice (uid 1000) has no subordinate gid range in /etc/subgid: add a line such as 'alice:165536:65536', or run as root"
        )
    }

    @Test func uidWithoutAName() throws {
        let problem = try #require(failure(SubordinateIDs.check(uid: 54321, name: nil, gid: 54321, subuid: nil, subgid: nil)))
        #expect(
            problem.description
                == "uid 54321 (no user name) has no subordinate uid range in /etc/subuid: add a line such as '54321:100000:65536' (and the same to /etc/subgid), or run as root"
        )
    }

    @Test func mappingForNewuidmap() throws {
        let mapping = try SubordinateIDs.check(
            uid: 1000, name: "alice", gid: 1001, subuid: Self.file, subgid: "alice:600000:65536"
        ).get()
        #expect(mapping.mapArguments(.uid) == ["0", "1000", "1", "1", "165536", "65536"])
        #expect(mapping.mapArguments(.gid) == ["0", "1001", "1", "1", "600000", "65536"])
    }

    func failure(_ result: Result<SubordinateIDs.Mapping, ElementError>) -> ElementError? {
        if case .failure(let problem) = result { return problem }
        return nil
    }

    /// A container's root without CAP_SYS_ADMIN and without a line: the identity map of the
    /// ids a container has is what to add, not a range past 100000 it does not have.
    @Test func aContainersRootIsToldTheIdentityRange() throws {
        let problem = try #require(failure(SubordinateIDs.check(uid: 0, name: "root", gid: 0, subuid: nil, subgid: nil)))
        #expect(
            problem.description
                == "user root (uid 0) without CAP_SYS_ADMIN (a container's root) has no subordinate uid range in /etc/subuid: add a line such as 'root:1:65535' (and the same to /etc/subgid), or run as root"
        )
        let mapping = try SubordinateIDs.check(uid: 0, name: "root", gid: 0, subuid: "root:1:65535", subgid: "root:1:65536").get()
        #expect(mapping.mapArguments(.uid) == ["0", "0", "1", "1", "1", "65535"])
        #expect(mapping.mapArguments(.gid) == ["0", "0", "1", "1", "1", "65536"])
    }
}
