import ArgumentParser
import StampBytes
import StampConfig
import StampPipeline

/// `stamp inspect IMAGE [--json]`.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an image's container format, virtual size, partition table and filesystems.")

    @Argument(help: "A raw, qcow2, VMDK or VHD image.", completion: .file()) var image: String
    @Flag(name: .setting(.json, .inspect), help: .setting(.json, .inspect)) var json = false
    @Flag(name: .setting(.quiet, .inspect), help: .setting(.quiet, .inspect)) var quiet = false
    @Flag(name: .setting(.verbose, .inspect), help: .setting(.verbose, .inspect)) var verbose = false

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.inspect)
        raw.flag(.json, json)
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        return raw
    }

    func validate() throws {
        _ = try rawSettings.resolved()
        if let problem = emptyInputProblem(image) { throw ValidationError(problem) }
    }

    func run() throws {
        if OVAInspector.isOVA(path: image) {
            let r = try OVAInspector.inspect(path: image)
            if json {
                print(r.document.rendered())
                return
            }
            print("\(image): ova, \(r.members.count) members, \(r.disks.count) disk(s)")
            print(
                "ovf: name \(r.name ?? "-"), os \(r.osType ?? "-"), cpus \(r.cpus ?? "-"), memory \(r.memoryMiB.map { "\($0) MiB" } ?? "-")"
            )
            for m in r.members { print("  member \(m.name)  \(m.size) bytes") }
            for (i, d) in r.disks.enumerated() {
                print(
                    "  disk \(i + 1): \(d.member): \(d.format) (\(d.variant)), virtual size \(formatBytes(d.virtualSize)) (\(d.virtualSize) bytes), file size \(formatBytes(d.fileSize)) (\(d.fileSize) bytes)"
                )
            }
            return
        }
        let r = try Inspector.inspect(path: image)
        if quiet { return }
        if json {
            print(r.json)
            return
        }
        print(
            "\(r.path): \(r.format) (\(r.variant)), virtual size \(formatBytes(r.virtualSize)) (\(r.virtualSize) bytes), allocated \(formatBytes(r.info.actualSize))"
        )
        if let backing = r.info.backingFilename {
            print("backing file: \(JSONValue.quoted(backing))\(r.info.backingFormat.map { " (\($0))" } ?? "")")
        }
        if verbose {
            print("cluster size: \(r.info.clusterSize.map(String.init) ?? "-"), dirty: \(r.info.dirty)")
            if let specific = r.info.formatSpecific { print("format-specific: \(specific.rendered())") }
        }
        if let unread = r.contentsUnread { print("contents not read: \(unread)") }
        if let table = r.partitionTable { print("partition table: \(table)") }
        for p in r.partitions {
            let fs = p.filesystem.map { "\($0.type) label=\($0.label) uuid=\($0.uuid)" } ?? "-"
            print(
                "  \(p.number)  start \(p.start)  size \(formatBytes(p.size))  type \(p.type)  name \(p.name.isEmpty ? "-" : p.name)  \(fs)"
            )
        }
        if let f = r.filesystem { print("filesystem: \(f.type) label=\(f.label) uuid=\(f.uuid)") }
    }
}
