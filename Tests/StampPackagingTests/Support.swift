import Foundation
import StampTestSupport
import Testing

/// The DMTF OVF 1.1 schema set, kept beside the repository: `<repo>/../shared/ovf-schema`.
let ovfSchemaDirectory: String = {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return repo.deletingLastPathComponent().appendingPathComponent("shared/ovf-schema").standardizedFileURL.path
}()

let hasOVFSchema = FileManager.default.fileExists(atPath: ovfSchemaDirectory + "/dsp8023_1.1.1.xsd")

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
