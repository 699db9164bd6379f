import Foundation
import StampTestSupport
import Testing

/// The DMTF OVF 1.1 schema set, in the repository: `Tests/Fixtures/ovf-schema`.
let ovfSchemaDirectory = repositoryRoot + "/Tests/Fixtures/ovf-schema"

/// The schema checks need xmllint (libxml2-utils); without it they are skipped, and counted.
let hasXmllint = toolAvailable("xmllint")

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// Names in `directory`, for "nothing left behind" checks.
func listing(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// The first whitespace-separated field of a tool's output (md5sum, sha256sum).
func firstField(_ output: String) -> String {
    String(output.split(whereSeparator: { $0 == " " || $0 == "\n" }).first ?? "")
}
