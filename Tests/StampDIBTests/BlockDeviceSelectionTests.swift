import Foundation
import StampElements
import StampTestSupport
import Testing

@testable import StampDIB

/// Which block-device configuration a build gets, read by StampDisk's parser (the one that
/// lays out the disk), and the labels and mount points DIB exports from it.
@Suite struct BlockDeviceSelectionTests {
    static let builtin = URL(fileURLWithPath: repositoryRoot).appendingPathComponent("Elements")

    @Test(arguments: [
        ("block-device-mbr", "cloudimg-rootfs", ["/"]),
        ("block-device-gpt", "cloudimg-rootfs", ["/"]),
        ("block-device-efi", "cloudimg-rootfs", ["/", "/boot/efi"]),
    ])
    func blockDeviceDefaults(element: String, label: String, mounts: [String]) throws {
        let index = try ElementIndex(elementsPath: nil, builtinDirectory: Self.builtin)
        let elements = try #require(index.elements[element])
        let settings = try BlockDeviceSelection.select(elements: [elements], arch: "amd64", environment: [:])
        #expect(settings.source == "\(element)/block-device-default.yaml")
        #expect(settings.rootLabel == label && settings.rootFSType == "ext4")
        #expect(settings.mountPoints == mounts)
        #expect(!settings.fromEnvironment)
        let relabelled = try BlockDeviceSelection.select(
            elements: [elements], arch: "amd64", environment: ["ROOT_LABEL": "gate-rootfs"])
        #expect(relabelled.rootLabel == "gate-rootfs")  // the root mkfs is `mkfs_root` in all three
    }

    @Test func blockDeviceFallbackAndInline() throws {
        let fallback = try BlockDeviceSelection.select(elements: [], arch: "amd64", environment: [:])
        #expect(fallback.rootLabel == "cloudimg-rootfs" && fallback.rootFSType == "ext4" && fallback.mountPoints == ["/"])
        let inline = try BlockDeviceSelection.select(
            elements: [], arch: "amd64",
            environment: [
                "DIB_BLOCK_DEVICE_CONFIG": """
                - local_loop: {name: image0}
                - mkfs: {name: root_fs, base: image0, type: ext4, label: myroot}
                - mount: {name: mount_root, base: root_fs, mount_point: /}
                """
            ])
        #expect(inline.source == "DIB_BLOCK_DEVICE_CONFIG" && inline.rootLabel == "myroot" && inline.fromEnvironment)
        #expect(throws: ElementProblems.self) {
            try BlockDeviceSelection.select(elements: [], arch: "amd64", environment: ["DIB_BLOCK_DEVICE_CONFIG": "a: b"])
        }
    }

    /// One parser: what the disk layer refuses is refused at selection, in one line naming the
    /// source and the node (before, a lighter reader let it through to the element phases).
    @Test func whatTheDiskLayerRefusesIsRefusedAtSelection() throws {
        let config = """
            - local_loop: {name: image0}
            - mkfs: {name: mkfs_root, base: image0, type: btrfs}
            - mount: {name: mount_root, base: mkfs_root, mount_point: /}
            """
        let error = #expect(throws: ElementProblems.self) {
            try BlockDeviceSelection.select(elements: [], arch: "amd64", environment: ["DIB_BLOCK_DEVICE_CONFIG": config])
        }
        let line = error?.description ?? ""
        #expect(line.hasPrefix("DIB_BLOCK_DEVICE_CONFIG: invalid block-device configuration: "), "\(line)")
        #expect(line.contains("btrfs") && line.contains("line 2"), "\(line)")
        #expect(!line.contains("\n"))
        // A syntax error names its line and column.
        let syntax = #expect(throws: ElementProblems.self) {
            try BlockDeviceSelection.select(
                elements: [], arch: "amd64", environment: ["DIB_BLOCK_DEVICE_CONFIG": "- local_loop:\n  name: [x"])
        }
        #expect(syntax?.description.contains("line ") == true, "\(String(describing: syntax))")
    }

    /// `FS_TYPE` other than ext4 was exported to the elements while the disk got ext4 anyway:
    /// now one line naming the variable.
    @Test func aRootFilesystemStampDoesNotWriteIsRefused() throws {
        let error = #expect(throws: ElementProblems.self) {
            try BlockDeviceSelection.select(elements: [], arch: "amd64", environment: ["FS_TYPE": "xfs"])
        }
        #expect(
            error?.problems == [
                .invalidVariable(
                    name: "FS_TYPE", value: "xfs", reason: "stamp writes ext4 root filesystems (unset FS_TYPE, or ext4)")
            ])
        #expect(
            try BlockDeviceSelection.select(elements: [], arch: "amd64", environment: ["FS_TYPE": "ext4"]).rootFSType == "ext4")
    }
}
