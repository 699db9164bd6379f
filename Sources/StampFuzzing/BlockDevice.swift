import StampDIB
import StampDisk
import StampElements

/// The block-device YAML (`DIB_BLOCK_DEVICE_CONFIG`), through its one parser (StampDisk's):
///
/// - StampDIB's selection, which derives the labels and mount points DIB exports from it;
/// - the full parse and validation, then planning on disks of several sizes (DIB's size
///   arithmetic) and on the smallest disk for a root of several sizes, then encoding the
///   planned partition table (GPT or MBR with logical partitions) and the fstab lines.
///
/// The input is the YAML text (bytes that are not UTF-8 become U+FFFD).
public func fuzzBlockDevice(_ data: UnsafeRawBufferPointer) {
    let yaml = String(decoding: data, as: UTF8.self)
    do {
        let settings = try BlockDeviceSelection.settings(yaml: yaml, source: "fuzz", environment: ["FS_TYPE": "ext4"])
        _ = "\(settings)"
    } catch {
        _ = "\(error)"
    }
    let config: BlockDeviceConfig
    do {
        config = try BlockDeviceConfig.parse(yaml: yaml)
    } catch {
        _ = "\(error)"
        return
    }
    _ = config.partitionRequests
    _ = config.fstabLines
    var plans: [DiskPlan] = []
    let diskSizes: [UInt64] = [config.image.size, 0, 512, 1 << 20, 3 << 20, 1 << 30, 2 << 40].compactMap { $0 }
    for size in diskSizes {
        do { plans.append(try config.plan(diskSize: size, seed: [1, 2, 3])) } catch { _ = "\(error)" }
    }
    for size: UInt64 in [0, 1, 1 << 20, 1 << 30] {
        do { plans.append(try config.plan(rootSize: size, seed: [4, 5, 6])) } catch { _ = "\(error)" }
    }
    for plan in plans {
        _ = plan.root
        _ = plan.fstabLines
        do {
            for block in try plan.layout.tableBlocks() { _ = block.bytes.count }
        } catch {
            _ = "\(error)"
        }
    }
}
