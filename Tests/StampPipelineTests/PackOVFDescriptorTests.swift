import Foundation
import StampConfig
import StampPackaging
import StampTestSupport
import Testing

@testable import StampPipeline

/// The descriptor `stamp pack -t ova` writes without `--ovf-config`: the options' config
/// (``OVASettings/ovfConfig(name:)``) through the pack plan into ``OVFComposeEnvelope``, the
/// one OVF writer. Checked with xmllint against the DMTF OVF 1.1 schema and by XPath.
@Suite struct PackOVFDescriptorTests {
    static let schema = repositoryRoot + "/Tests/Fixtures/ovf-schema/dsp8023_1.1.1.xsd"
    static let hasXmllint = toolAvailable("xmllint")

    /// A `stamp pack -o out/web01 -t ova` request with `set`'s options.
    static func request(_ set: (inout RawSettings) -> Void = { _ in }) throws -> PackRequest {
        try OVFCommandLineConfigTests.request(set)
    }

    /// What the pack writes for `request`'s options, a disk of `size` bytes in a VMDK of
    /// `fileSize` bytes, booting with `firmware`.
    static func descriptor(
        _ request: PackRequest, firmware: Firmware = .bios, size: UInt64 = 64 << 20, fileSize: UInt64 = 214_528
    ) throws -> String {
        let plan = try OVAPackagePlan(
            config: request.ovfConfig.packed(firmware: firmware), ovaName: "vm", treeDiskSize: size)
        #expect(plan.members.map(\.name) == ["vm-disk1.vmdk"])
        return plan.descriptor(sizes: [fileSize])
    }

    func validate(_ text: String) throws -> CommandResult {
        let dir = try TemporaryDirectory("ovf")
        let file = dir.file("vm.ovf")
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return try run(["xmllint", "--noout", "--nonet", "--schema", Self.schema, file])
    }

    /// `xpath` of the descriptor `text`, as xmllint answers it (without its newline).
    func xpath(_ text: String, _ expression: String) throws -> String {
        let dir = try TemporaryDirectory("ovf-xpath")
        let file = dir.file("vm.ovf")
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let r = try run(["xmllint", "--nonet", "--xpath", expression, file])
        return r.status == 0 ? String(r.stdout.hasSuffix("\n") ? r.stdout.dropLast() : r.stdout[...]) : ""
    }

    static func el(_ name: String) -> String { "*[local-name()='\(name)']" }
    static func machineConfig(_ key: String) -> String {
        "string(//\(el("VirtualHardwareSection"))/\(el("Config"))[@*[local-name()='key']='\(key)']/@*[local-name()='value'])"
    }

    @Test(
        .enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"),
        arguments: [
            (Firmware.bios, "lsilogic", "vmxnet3"), (.efi, "pvscsi", "vmxnet3"), (.efi, "lsilogic", "e1000"),
            (.bios, "pvscsi", "e1000"),
        ])
    func validatesAgainstTheDMTFSchema(_ firmware: Firmware, _ controller: String, _ nic: String) throws {
        let request = try Self.request {
            $0[.controller] = controller
            $0[.nic] = nic
        }
        let text = try Self.descriptor(request, firmware: firmware)
        let result = try validate(text)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("validates"), "\(result.output)")
        #expect(try xpath(text, Self.machineConfig("firmware")) == firmware.rawValue)
        // Off unless a config turns it on: stamp's disk may not carry the signed shim.
        #expect(try xpath(text, Self.machineConfig("bootOptions.efiSecureBootEnabled")) == "false")
        let scsi = controller == "pvscsi" ? "VirtualSCSI" : "lsilogic"
        let card = nic == "e1000" ? "E1000" : "VmxNet3"
        func subtype(_ type: Int) throws -> String {
            try xpath(
                text, "string(//\(Self.el("Item"))[\(Self.el("ResourceType"))='\(type)']/\(Self.el("ResourceSubType")))")
        }
        #expect(try subtype(6) == scsi)
        #expect(try subtype(10) == card)
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func schemaRejectsARasdOutOfOrder() throws {
        // The validator is only meaningful if it catches what vSphere rejects.
        var text = try Self.descriptor(try Self.request())
        let connection = "<rasd:Connection>VM Network</rasd:Connection>"
        #expect(text.contains(connection))
        text = text.replacingOccurrences(of: connection, with: "")
        text = text.replacingOccurrences(
            of: "<rasd:ResourceType>10</rasd:ResourceType>", with: "<rasd:ResourceType>10</rasd:ResourceType>" + connection)
        let result = try validate(text)
        #expect(result.status != 0)
        #expect(result.output.contains("Connection"), "\(result.output)")
    }

    @Test func rasdChildrenAreInAlphabeticalOrder() throws {
        let text = try Self.descriptor(try Self.request(), firmware: .efi)
        var items = 0
        var current: [String] = []
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("<Item") { current = [] }
            if line.hasPrefix("<rasd:") { current.append(String(line.dropFirst(6).prefix { $0 != ">" })) }
            if line == "</Item>" {
                items += 1
                #expect(current == current.sorted(), "\(current)")
                #expect(current.contains("InstanceID") && current.contains("ResourceType"))
            }
        }
        #expect(items == 5)
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func carriesSizesAndIdentities() throws {
        let request = try Self.request {
            $0[.cpus] = "4"
            $0[.memory] = "8192"
            $0[.osType] = "debian12_64Guest"
            $0[.vmName] = "web01"
        }
        let text = try Self.descriptor(request, size: 1_000_448, fileSize: 999)
        #expect(text.contains(#"<File ovf:href="vm-disk1.vmdk" ovf:id="file1" ovf:size="999"/>"#))
        let disk = "//\(Self.el("Disk"))"
        #expect(try xpath(text, "string(\(disk)/@*[local-name()='capacity'])") == "1000448")
        #expect(try xpath(text, "string(\(disk)/@*[local-name()='capacityAllocationUnits'])") == "byte")
        #expect(try xpath(text, "string(\(disk)/@*[local-name()='fileRef'])") == "file1")
        #expect(
            try xpath(text, "string(\(disk)/@*[local-name()='format'])")
                == "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized")
        #expect(text.contains(#"<OperatingSystemSection ovf:id="96" vmw:osType="debian12_64Guest">"#))
        #expect(try xpath(text, "string(//\(Self.el("Name")))") == "web01")
        #expect(try xpath(text, "string(//\(Self.el("VirtualSystemIdentifier")))") == "web01")
        #expect(try xpath(text, "string(//\(Self.el("VirtualSystemType")))") == "vmx-13")
        #expect(text.contains("<rasd:VirtualQuantity>4</rasd:VirtualQuantity>"))
        #expect(text.contains("<rasd:VirtualQuantity>8192</rasd:VirtualQuantity>"))
        // The disk hangs off the controller (InstanceID 3) at address 0.
        let hardDisk = "//\(Self.el("Item"))[\(Self.el("ResourceType"))='17']"
        #expect(try xpath(text, "string(\(hardDisk)/\(Self.el("Parent")))") == "3")
        #expect(try xpath(text, "string(\(hardDisk)/\(Self.el("AddressOnParent")))") == "0")
        #expect(try xpath(text, "string(\(hardDisk)/\(Self.el("HostResource")))") == "ovf:/disk/vmdisk1")
        // No ova-compose comment: the descriptor depends on the config and the members only.
        #expect(!text.contains("<!--"))
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func userTextIsEscaped() throws {
        var request = try Self.request { $0[.vmName] = #"a<b>&"c'"# }
        request.ova.network = "net & <lab>"
        let text = try Self.descriptor(request)
        #expect(text.contains("<Name>a&lt;b&gt;&amp;\"c'</Name>"))
        #expect(text.contains(#"<Network ovf:name="net &amp; &lt;lab&gt;">"#))
        #expect(try xpath(text, "string(//\(Self.el("Name")))") == #"a<b>&"c'"#)
        let result = try validate(text)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func capacityIsRoundedUpToTheUnits() {
        typealias Disk = OVFComposeEnvelope.Disk
        #expect(Disk.capacity(bytes: 1000, units: "byte") == "1000")
        #expect(Disk.capacity(bytes: 1024, units: "byte * 2^10") == "1")
        #expect(Disk.capacity(bytes: 1025, units: "byte * 2^10") == "2")
        #expect(Disk.capacity(bytes: (3 << 30) + 1, units: "byte * 2^30") == "4")
        #expect(Disk.capacity(bytes: 0, units: "byte * 2^20") == "0")
    }

    /// The layout names the firmware and Secure Boot is off, unless the config names them.
    @Test func packedFillsOnlyWhatTheConfigLeavesOut() throws {
        let bare = try OVFConfig.parse(yaml: "system: {name: a}\nhardware: {cpus: 2}\n")
        #expect(bare.packed(firmware: .efi).system.firmware == .efi)
        #expect(bare.packed(firmware: .bios).system.firmware == .bios)
        #expect(bare.packed(firmware: .efi).system.secureBootGiven == false)
        let given = try OVFConfig.parse(yaml: "system: {name: a, firmware: bios, secure_boot: true}\nhardware: {cpus: 2}\n")
        #expect(given.packed(firmware: .efi).system.firmware == .bios)
        #expect(given.packed(firmware: .efi).system.secureBootGiven == true)
    }

    @Test func badOptionsAreAllReported() throws {
        let request = try Self.request {
            $0[.vmName] = ""
            $0[.osType] = "bad id\""
        }
        let problems = request.ovaProblems
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.allSatisfy { !$0.contains("\n") })
        #expect(problems.contains { $0.hasPrefix("--vm-name:") })
        #expect(problems.contains { $0.hasPrefix("--os-type 'bad id\"'") })
        #expect(try Self.request { $0[.osType] = "debian12_64Guest" }.ovaProblems.isEmpty)
    }
}
