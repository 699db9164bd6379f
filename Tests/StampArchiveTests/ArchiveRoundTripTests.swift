import Foundation
import StampTestSupport
import Testing

@testable import StampArchive

/// ArchiveWriter's bytes (checked field by field and by GNU tar), read back by ArchiveReader,
/// created on disk by DiskWriter; and the one-line errors for damaged input.
@Suite struct ArchiveRoundTripTests {
    /// One member to write: its name, st_mode, data and link targets.
    struct Member {
        var name: [UInt8]
        var mode: UInt32
        var data: [UInt8] = []
        var symlink: [UInt8]? = nil
        var hardLink: [UInt8]? = nil
    }

    static let members: [Member] = [
        Member(name: Array("./".utf8), mode: 0o040755),
        Member(name: Array("./hello".utf8), mode: 0o100644, data: Array("hello, archive\n".utf8)),
        Member(name: Array("./link".utf8), mode: 0o120777, symlink: Array("hello".utf8)),
        Member(name: Array("./again".utf8), mode: 0o100644, hardLink: Array("./hello".utf8)),
        // Not UTF-8 (Latin-1 "café"): stored as raw bytes with hdrcharset=BINARY.
        Member(name: [0x2E, 0x2F, 0x63, 0x61, 0x66, 0xE9], mode: 0o100600, data: [1, 2, 3]),
    ]

    /// Writes `members` to `path` (owner 0:0, mtime 1 700 000 000 s), as the tarball writer does.
    static func writeTar(_ members: [Member], to path: String, format: ArchiveWriter.Format = .paxRestricted)
        throws
    {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let writer = try ArchiveWriter(path: path, descriptor: fd, format: format)
        let entry = try ArchiveEntry()
        for member in members {
            entry.clear()
            entry.setPath(member.name)
            entry.setMode(member.mode)
            entry.setOwner(uid: 0, gid: 0)
            entry.setModificationTime(seconds: 1_700_000_000, nanoseconds: 0)
            if let target = member.symlink { entry.setSymlink(target) }
            if let target = member.hardLink { entry.setHardLink(target) }
            entry.setSize(UInt64(member.data.count))
            try writer.writeHeader(entry)
            try member.data.withUnsafeBytes { try writer.writeData($0, entryName: "member") }
        }
        try writer.finish()
    }

    /// Reads every member of `path`: name, type bits, hard-link target and data.
    static func readTar(_ path: String) throws -> [(name: [UInt8], fileType: UInt32, hardLink: [UInt8]?, data: [UInt8])] {
        let reader = try ArchiveReader(path: path)
        defer { reader.close() }
        var result: [(name: [UInt8], fileType: UInt32, hardLink: [UInt8]?, data: [UInt8])] = []
        while let member = try reader.next() {
            var data: [UInt8] = []
            try reader.readData { data.append(contentsOf: $0) }
            result.append((member.path, member.fileType, member.hardLink, data))
        }
        return result
    }

    /// The header of the first regular file, field by field (POSIX ustar, octal numbers), and
    /// the archive's length: headers, data padded to 512, two zero blocks, no padding after.
    @Test func ustarHeaderFieldsAreTheGoldenOnes() throws {
        let dir = try TemporaryDirectory("archive-golden")
        let tar = dir.file("one.tar")
        try Self.writeTar([Self.members[1]], to: tar)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: tar)))
        #expect(bytes.count == 512 + 512 + 1024)
        func field(_ offset: Int, _ length: Int) -> String {
            String(decoding: bytes[offset..<offset + length].prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        #expect(field(0, 100) == "./hello")
        #expect(field(100, 8) == "000644 ")
        #expect(field(108, 8) == "000000 ")
        #expect(field(116, 8) == "000000 ")
        #expect(field(124, 12) == "00000000017 ")
        #expect(field(136, 12) == String(1_700_000_000, radix: 8) + " ")
        #expect(bytes[156] == UInt8(ascii: "0"))
        #expect(field(257, 6) == "ustar")
        #expect(field(263, 2) == "00")
        // The checksum: the sum of the header's bytes with the checksum field read as spaces.
        let sum = bytes[0..<512].enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        #expect(Int(field(148, 6), radix: 8) == sum)
        #expect(String(decoding: bytes[512..<527], as: UTF8.self) == "hello, archive\n")
        #expect(bytes[1024...].allSatisfy { $0 == 0 })
    }

    @Test(arguments: [ArchiveWriter.Format.paxRestricted, .pax])
    func writtenMembersReadBack(_ format: ArchiveWriter.Format) throws {
        let dir = try TemporaryDirectory("archive-roundtrip")
        let tar = dir.file("all.tar")
        try Self.writeTar(Self.members, to: tar, format: format)
        let read = try Self.readTar(tar)
        #expect(read.map(\.name) == Self.members.map(\.name))
        // A hard-link member has no file type of its own: it is whatever its target is.
        #expect(read.map(\.fileType) == [0o040000, 0o100000, 0o120000, 0, 0o100000])
        #expect(read.map(\.hardLink) == [nil, nil, nil, Array("./hello".utf8), nil])
        #expect(read.map(\.data) == [[], Self.members[1].data, [], [], [1, 2, 3]])
    }

    /// GNU tar reads what ArchiveWriter wrote: the symlink's and the hard link's targets. A
    /// host without tar records a skip (which fails CI), never a pass.
    @Test(.enabled(if: toolAvailable("tar"), "needs GNU tar"), arguments: [ArchiveWriter.Format.paxRestricted, .pax])
    func gnuTarListsWrittenMembers(_ format: ArchiveWriter.Format) throws {
        let dir = try TemporaryDirectory("archive-gnu-tar")
        let tar = dir.file("all.tar")
        try Self.writeTar(Self.members, to: tar, format: format)
        let listing = try run(["tar", "-tvf", tar])
        #expect(listing.status == 0, "\(listing.stderr)")
        #expect(listing.stdout.contains("./link -> hello"), "\(listing.stdout)")
        #expect(listing.stdout.contains("./again link to ./hello"), "\(listing.stdout)")
        // GNU tar's default quoting (`escape`) prints a byte outside printable ASCII as \ooo.
        let names = try run(["tar", "-tf", tar]).stdout.split(separator: "\n").map(String.init)
        let escaped = Self.members.map { member in
            member.name.map {
                (0x20..<0x7f).contains($0) && $0 != 0x5c ? String(UnicodeScalar($0)) : String(format: "\\%03o", $0)
            }.joined()
        }
        #expect(names == escaped, "\(names)")
    }

    /// A gzip-compressed tar, read and created on disk: data, symlink, hard link, mode, mtime.
    @Test func diskWriterCreatesWhatTheReaderHandsIt() throws {
        let dir = try TemporaryDirectory("archive-extract")
        let tar = dir.file("all.tar")
        try Self.writeTar(Array(Self.members.prefix(4)), to: tar)
        try #require(try sh("gzip -n '\(tar)'").status == 0)
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)

        let reader = try ArchiveReader(path: tar + ".gz")
        defer { reader.close() }
        let writer = try DiskWriter(path: "test layer")
        while let member = try reader.next() {
            let name = String(decoding: member.path.dropFirst(2), as: UTF8.self)
            member.setPath(bytes: Array((root + "/" + name).utf8))
            if let link = member.hardLink {
                member.setHardLink(bytes: Array((root + "/" + String(decoding: link.dropFirst(2), as: UTF8.self)).utf8))
            }
            member.defaultAccessTimeToModificationTime()
            try reader.extract(to: writer, member: name)
        }
        try writer.close()

        // Times first: reading the file would move its atime.
        var hello = stat()
        var again = stat()
        #expect(stat(root + "/hello", &hello) == 0 && stat(root + "/again", &again) == 0)
        #expect(hello.st_ino == again.st_ino)
        #expect(hello.st_mode & 0o7777 == 0o644)
        #expect(hello.st_mtim.tv_sec == 1_700_000_000 && hello.st_atim.tv_sec == 1_700_000_000)
        #expect(try String(contentsOfFile: root + "/hello", encoding: .utf8) == "hello, archive\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/link") == "hello")
    }

    /// A gzip tar cut short: one line, `PATH: OPERATION: libarchive's message`. (The archive is
    /// larger than the 1 MiB libarchive reads when it opens the file, so the damage is met while
    /// reading data; a shorter one fails at `open`, with the same message.)
    @Test func aTruncatedGzipTarIsOneLineNamingTheFile() throws {
        let dir = try TemporaryDirectory("archive-truncated")
        let tar = dir.file("big.tar")
        var members = Self.members
        var random = SplitMix(7)
        members[1].data = (0..<3_000_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try Self.writeTar(members, to: tar)
        try #require(try sh("gzip -n '\(tar)' && truncate -s 2000000 '\(tar).gz'").status == 0)
        do {
            _ = try Self.readTar(tar + ".gz")
            Issue.record("a truncated archive was read to the end")
        } catch let error as ArchiveError {
            guard case .library(let path, let operation, let message) = error else {
                Issue.record("not libarchive's error: \(error)")
                return
            }
            #expect(path == tar + ".gz")
            #expect(operation == "read data")
            #expect(!message.isEmpty && message.first?.isUppercase == false && !message.hasSuffix("."))
            #expect(error.description == "\(tar).gz: read data: \(message)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aMissingFileAndAClosedReaderAreErrors() throws {
        let dir = try TemporaryDirectory("archive-closed")
        #expect(throws: ArchiveError.self) { try ArchiveReader(path: dir.file("absent.tar")) }
        let tar = dir.file("one.tar")
        try Self.writeTar([Self.members[1]], to: tar)
        let reader = try ArchiveReader(path: tar)
        reader.close()
        #expect(throws: ArchiveError.closed(path: tar, operation: "read")) { try reader.next() }
    }
}
