import Foundation
import Testing

import StampContainers

/// Images crafted to make a reader work far beyond their size (issue 18, item 9).
@Suite struct HostileImageTests {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz").path

    /// A 320 KiB qcow2 whose 8,192 L2 entries all point at one compressed 64 KiB cluster
    /// (512 MiB of output; the 8 MiB version of it kept `stamp inspect` busy 14 minutes):
    /// refused once the output passes 1032 bytes per byte of the file (+ 64 MiB).
    @Test func aQcow2WhoseClustersAllPointAtOneCompressedClusterIsRefused() throws {
        let path = Self.fuzz + "/corpus/qcow2/hostile-one-compressed-cluster-8192x.qcow2"
        let reader = try Qcow2Reader(path: path)
        #expect(reader.virtualSize == 512 << 20)
        var produced: UInt64 = 0
        do {
            try reader.forEachExtent { extent in
                if case .data(_, let bytes) = extent { produced += UInt64(bytes.count) }
            }
            Issue.record("read to the end: \(produced) bytes of data")
        } catch let error as ContainerError {
            #expect("\(error)".contains("tables make more than 1032 bytes of data per byte of the file"), "\(error)")
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64)
        #expect(produced <= size * 1032 + (64 << 20))
    }
}
