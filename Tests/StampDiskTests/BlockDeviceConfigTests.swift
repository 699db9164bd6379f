import StampTestSupport
import Foundation
import StampBytes
@testable import StampDisk
import Testing

@Suite struct BlockDeviceConfigTests {
    let mib: UInt64 = 1 << 20

    static let mbrYAML = """
        - local_loop: {name: image0}
        - partitioning:
            base: image0
            label: mbr
            partitions:
              - name: root
                flags: [ boot, primary ]
                size: 100%
                mkfs:
                  mount:
                    mount_point: /
                    fstab: {options: "defaults", fsck-passno: 1}
        """

    static let gptYAML = """
        - local_loop:
            name: image0
        - partitioning:
            base: image0
            label: gpt
            partitions:
              - name: BSP
                type: 'EF02'
                size: 8MiB
              - name: root
                flags: [ boot ]
                size: 100%
                mkfs:
                  type: ext4
                  mount:
                    mount_point: /
                    fstab:
                      options: "defaults"
                      fsck-passno: 1
        """

    static let efiYAML = """
        - local_loop:
            name: image0
        - partitioning:
            base: image0
            label: gpt
            partitions:
              - name: ESP
                type: 'EF00'
                size: 550MiB
                mkfs:
                  type: vfat
                  mount:
                    mount_point: /boot/efi
                    fstab:
                      options: "defaults"
                      fsck-passno: 2
              - name: BSP
                type: 'EF02'
                size: 8MiB
              - name: root
                type: '8300'
                size: 100%
                mkfs:
                  type: ext4
                  mount:
                    mount_point: /
                    fstab:
                      options: "defaults"
                      fsck-passno: 1
        """

    /// Yams composes by recursion: a deeply nested document is a syntax error, not a crash.
    @Test func deeplyNestedYAMLIsASyntaxErrorNotAStackOverflow() {
        for text in [String(repeating: "[", count: 5000), String(repeating: "- ", count: 2000) + "x"] {
            #expect {
                _ = try BlockDeviceConfig.parse(yaml: text)
            } throws: { error in
                "\(error)".contains("nested too deeply")
            }
        }
    }

    @Test func dibMBRDefault() throws {
        let config = try BlockDeviceConfig.parse(yaml: Self.mbrYAML)
        #expect(config.image.name == "image0" && config.partitioning?.scheme == .mbr)
        let fs = try #require(config.filesystems.first)
        #expect(fs.name == "mkfs_root" && fs.base == "root" && fs.type == .ext4 && fs.label == "cloudimg-rootfs")
        #expect(config.mounts.map(\.name) == ["mount_mkfs_root"])
        #expect(config.fstab.map(\.name) == ["fstab_mount_mkfs_root"])
        #expect(config.fstabLines == ["LABEL=cloudimg-rootfs / ext4 defaults 0 1"])
        let plan = try config.plan(diskSize: 1_769_013_248, seed: [1])
        #expect(plan.layout.scheme == .mbr)
        #expect(plan.layout.partitions.map { [$0.start, $0.sectors] } == [[2048, 3_451_008]])
        #expect(plan.layout.partitions[0].bootable && plan.layout.partitions[0].role == .root)
        #expect(plan.root?.partition.name == "root" && plan.root?.spec.name == "mkfs_root")
        // The standard layout and the YAML agree.
        #expect(try StandardLayout.mbr.plan(diskSize: 1_769_013_248, seed: [1]).partitions == plan.layout.partitions)
    }

    @Test func dibGPTDefault() throws {
        let config = try BlockDeviceConfig.parse(yaml: Self.gptYAML, rootDefaults: .init(label: "myroot"))
        #expect(config.partitioning?.scheme == .gpt)
        #expect(config.fstabLines == ["LABEL=myroot / ext4 defaults 0 1"])
        let plan = try config.plan(rootSize: 700 * mib, seed: [2])
        #expect(plan.layout.partitions.map(\.name) == ["BSP", "root"])
        #expect(plan.layout.partitions.map(\.role) == [.biosBoot, .root])
        #expect(plan.layout.partitions.map(\.type) == [.biosBoot, .linuxFilesystem])
        #expect(plan.layout.partitions.map(\.size) == [8 * mib, 700 * mib])
        #expect(try StandardLayout.gpt.plan(rootSize: 700 * mib, seed: [2]).partitions == plan.layout.partitions)
    }

    @Test func dibEFIDefault() throws {
        let config = try BlockDeviceConfig.parse(yaml: Self.efiYAML)
        #expect(config.filesystems.map(\.name) == ["mkfs_ESP", "mkfs_root"])
        #expect(config.filesystems.map(\.label) == ["MKFS_ESP", "cloudimg-rootfs"])
        #expect(config.mounts.map(\.mountPoint) == ["/", "/boot/efi"])
        #expect(config.fstabLines == ["LABEL=cloudimg-rootfs / ext4 defaults 0 1", "LABEL=MKFS_ESP /boot/efi vfat defaults 0 2"])
        let plan = try config.plan(rootSize: 700 * mib, seed: [3])
        #expect(plan.layout.partitions.map(\.start) == [2048, 1_128_448, 1_144_832])
        #expect(plan.layout.partitions.map(\.role) == [.efiSystem, .biosBoot, .root])
        #expect(plan.filesystems.map(\.mountPoint) == ["/boot/efi", "/"])
        #expect(plan.filesystems.first?.partition.name == "ESP")
        #expect(try StandardLayout.efi.plan(rootSize: 700 * mib, seed: [3]).partitions == plan.layout.partitions)
    }

    @Test func graphFormAndBareFilesystem() throws {
        let yaml = """
            - local_loop:
                name: image0
                size: 2GiB
            - mkfs:
                name: mkfs_root
                base: image0
                label: root
                uuid: 2f4a1c9e-1111-4222-8333-444455556666
                opts: "-i 4096 -J size=64"
            - mount:
                name: mount_root
                base: mkfs_root
                mount_point: /
            - fstab:
                name: fstab_root
                base: mount_root
                fsck-passno: 1
            """
        let config = try BlockDeviceConfig.parse(yaml: yaml)
        #expect(config.partitioning == nil && config.image.size == 2 << 30)
        #expect(config.filesystems[0].options == ["-i", "4096", "-J", "size=64"])
        #expect(config.filesystems[0].uuid == Identifier("2f4a1c9e-1111-4222-8333-444455556666"))
        let plan = try config.plan(diskSize: config.image.size!)
        #expect(plan.layout.scheme == .none && plan.layout.partitions[0].start == 0 && plan.layout.size == 2 << 30)
        #expect(config.fstabLines == ["LABEL=root / ext4 defaults 0 1"])
    }

    @Test func fourKSectorsAreRefusedAtPlanning() throws {
        let config = try BlockDeviceConfig.parse(
            yaml: Self.efiYAML.replacingOccurrences(of: "name: image0\n", with: "name: image0\n    block_size: 4096\n"))
        #expect(config.image.blockSize == 4096)
        #expect(throws: DiskLayout.Error.unsupportedSectorSize(4096)) { try config.plan(rootSize: 100 * mib) }
    }

    @Test func sizes() {
        #expect(parseDIBSize("2.5GiB") == 2_684_354_560)
        #expect(parseDIBSize("1G") == 1_000_000_000)
        #expect(parseDIBSize("8 MiB") == 8 << 20)
        #expect(parseDIBSize("4096") == 4096)
        #expect(parseDIBSize("12B") == 12)
        #expect(parseDIBSize("lots") == nil)
        #expect(parseDIBSize("-1MiB") == nil)
    }

    func problems(_ yaml: String) -> [BlockDeviceConfig.Problem] {
        do {
            _ = try BlockDeviceConfig.parse(yaml: yaml)
        } catch BlockDeviceConfig.Error.invalid(let problems) {
            return problems
        } catch {
            Issue.record("unexpected \(error)")
        }
        return []
    }

    /// Aliases can name one mapping 4^n times in n short lines: the walk stops at 4096
    /// entries with one problem instead of running for hours. The work is checked by count,
    /// not by time: the walk's visits stay within the bound the parser promises (the
    /// document below names about 4^24 entries).
    @Test func aliasBombsAreCut() {
        var yaml = "- local_loop: {name: image0}\n- mount: &a0 {base: x, mount_point: /}\n"
        for i in 1...24 {
            yaml += "- fstab: &a\(i) {base: x, fstab: *a\(i - 1), mount: *a\(i - 1), mkfs: *a\(i - 1), local_loop: *a\(i - 1)}\n"
        }
        var parser = ConfigParser()
        var found: [BlockDeviceConfig.Problem] = []
        do {
            _ = try BlockDeviceConfig.parse(yaml: yaml, rootDefaults: BlockDeviceConfig.RootDefaults(), with: &parser)
            Issue.record("the alias bomb was accepted")
        } catch BlockDeviceConfig.Error.invalid(let problems) {
            found = problems
        } catch {
            Issue.record("unexpected \(error)")
        }
        let limit = ConfigParser.maximumNodes
        #expect(found.filter { $0.issue == .tooManyNodes(limit) }.count == 1, "\(found.prefix(3))")
        #expect(found.contains { "\($0)".contains("more than \(limit) plugin entries") }, "\(found.prefix(3))")
        #expect(parser.collected > limit, "the walk stopped before the limit: \(parser.collected)")
        #expect(parser.collected <= (limit + 1) * ConfigParser.plugins.count, "\(parser.collected) visits")
        #expect(parser.nodes.count <= limit)
    }

    @Test func mountPointsMustBeNormalized() {
        for point in ["/srv/", "//srv", "/srv/./x", "/..", "/a/../b"] {
            let found = problems(
                """
                - local_loop: {name: image0}
                - partitioning:
                    base: image0
                    label: mbr
                    partitions:
                      - name: root
                        size: 100%
                        mkfs: {type: ext4, mount: {mount_point: '\(point)'}}
                """)
            #expect(
                found.contains { if case .invalidValue("mount_point", point, _) = $0.issue { true } else { false } },
                "\(point): \(found)")
        }
    }

    @Test func lvmIsRefusedClearly() {
        let found = problems(
            """
            - local_loop: {name: image0}
            - lvm:
                name: lvm
                base: [root]
                pvs: [{name: pv, base: root}]
            """)
        #expect(found.map(\.issue) == [.unsupportedPlugin("lvm")])
        #expect(found.first?.location.line == 2)
        #expect(found.first?.description == "line 2, column 3 ([1].lvm): lvm is not supported yet")
    }

    @Test func everyProblemAtOnce() {
        let found = problems(
            """
            - local_loop: {name: image0, block_size: 1000}
            - partitioning:
                base: image1
                label: gpt
                partitions:
                  - name: root
                    flags: [primary, fast]
                    size: 120%
                    type: 'ZZ00'
                    mkfs:
                      type: xfs
                      mount: {mount_point: relative}
                  - size: 1GiB
                  - name: root
                    size: 1GiB
            - frobnicate: {}
            - mount: {name: m2, base: nothing, mount_point: /srv}
            - {a: 1, b: 2}
            """)
        let issues = found.map(\.issue)
        let expected: [BlockDeviceConfig.Issue] = [
            .invalidValue(key: "block_size", value: "1000", expected: "512 or 4096"),
            .wrongBase(base: "image1", expected: "the local_loop 'image0'"),
            .primaryOnGPT,
            .invalidValue(key: "flags", value: "fast", expected: "boot or primary"),
            .invalidValue(key: "size", value: "120%", expected: "a percentage in (0, 100]"),
            .missingKey("name"),
            .duplicateName("root"),
            .unknownPlugin("frobnicate"),
            .pluginKeyCount(2),
            .unsupportedPlugin("mkfs type xfs"),
            .invalidValue(key: "mount_point", value: "relative", expected: "an absolute path"),
            .unknownBase("nothing"),
        ]
        for issue in expected { #expect(issues.contains(issue), "missing \(issue) in \(found)") }
        #expect(
            issues.contains { if case .invalidValue(key: "type", value: "ZZ00", _) = $0 { return true } else { return false } })
        // Every problem points at a real line.
        #expect(found.allSatisfy { $0.location.line > 0 }, "\(found)")
        let flags = found.first { $0.issue == .primaryOnGPT }
        #expect(flags?.location.line == 7)
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect {
            try BlockDeviceConfig.parse(yaml: "- local_loop: {name: image0\n- partitioning: [\n")
        } throws: { error in
            guard case BlockDeviceConfig.Error.syntax(_, let line, _) = error else { return false }
            return line >= 1
        }
        #expect(throws: BlockDeviceConfig.Error.self) { try BlockDeviceConfig.parse(yaml: "local_loop: {name: x}") }
    }

    @Test func labelsAreChecked() {
        let found = problems(
            """
            - local_loop: {name: image0}
            - partitioning:
                base: image0
                label: mbr
                partitions:
                  - name: a
                    size: 10MiB
                    mkfs: {type: vfat, label: waytoolongforfat, mount: {mount_point: /a}}
                  - name: b
                    size: 10MiB
                    mkfs: {type: ext4, label: same, mount: {mount_point: /a}}
                  - name: c
                    size: 10MiB
                    mkfs: {type: ext4, label: same}
                  - name: d
                    size: 10MiB
                    mkfs: {label: d}
            """)
        let issues = found.map(\.issue)
        #expect(issues.contains(.labelTooLong(label: "WAYTOOLONGFORFAT", maximum: 11)))
        #expect(issues.contains(.duplicateLabel("same")))
        #expect(issues.contains(.duplicateMountPoint("/a")))
        #expect(issues.contains(.missingType))
    }
}
