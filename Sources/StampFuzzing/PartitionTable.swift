import StampContainers
import StampPipeline

/// The partition-table reader of `stamp inspect`: a raw disk holding a GPT or an MBR (with
/// extended partitions, or anything else libblkid recognises), probed by libblkid and turned
/// into an ``ImageReport`` by our code (sector arithmetic, names, types, the filesystem probe
/// of every partition found), then rendered as JSON.
///
/// stamp itself only writes partition tables (StampDisk's GPT and MBR encoders, exercised
/// from fuzzed layouts by ``fuzzBlockDevice(_:)``); reading them back is libblkid's job, and
/// this target checks that whatever libblkid reports from a hostile table cannot trap the
/// Swift side.
public func fuzzPartitionTable(_ data: UnsafeRawBufferPointer) {
    do {
        try Scratch.withFile(data) { path in
            let report = try Inspector.inspect(path: path, format: .raw)
            _ = report.json
        }
    } catch {
        _ = "\(error)"
    }
}
