import Foundation
import StampTestSupport
import Testing

@testable import StampPackaging

@Suite struct OVFDescriptorTests {
    static let disk = OVFDescriptor.Disk(
        fileName: "vm-disk1.vmdk", fileSize: 214_528, capacity: 64 << 20, populatedSize: 4 << 20)

    static func options(_ firmware: Firmware, _ controller: SCSIController, _ nic: NetworkAdapter) -> OVFOptions {
        var o = OVFOptions(name: "vm")
        o.firmware = firmware
        o.controller = controller
        o.nic = nic
        return o
    }

    /// Runs xmllint against the DMTF schema; returns (status, output).
    func validate(_ text: String) throws -> CommandResult {
        let dir = try TemporaryDirectory("ovf")
        let file = dir.file("vm.ovf")
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return try run(["xmllint", "--noout", "--nonet", "--schema", ovfSchemaDirectory + "/dsp8023_1.1.1.xsd", file])
    }

    @Test(
        .enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"),
        arguments: [
            (Firmware.bios, SCSIController.lsiLogic, NetworkAdapter.vmxnet3),
            (.efi, .pvscsi, .vmxnet3), (.efi, .lsiLogic, .e1000), (.bios, .pvscsi, .e1000),
        ])
    func validatesAgainstTheDMTFSchema(_ firmware: Firmware, _ controller: SCSIController, _ nic: NetworkAdapter)
        throws
    {
        let text = try OVFDescriptor(options: Self.options(firmware, controller, nic), disk: Self.disk).text()
        let result = try validate(text)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("validates"), "\(result.output)")
        #expect(text.contains(#"vmw:key="firmware" vmw:value="efi""#) == (firmware == .efi))
        #expect(text.contains("<rasd:ResourceSubType>\(controller.rawValue)</rasd:ResourceSubType>"))
        #expect(text.contains("<rasd:ResourceSubType>\(nic.rawValue)</rasd:ResourceSubType>"))
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func schemaRejectsARasdOutOfOrder() throws {
        // The validator is only meaningful if it catches what vSphere rejects.
        var text = try OVFDescriptor(options: OVFOptions(name: "vm"), disk: Self.disk).text()
        let connection = "<rasd:Connection>VM Network</rasd:Connection>"
        text = text.replacingOccurrences(of: connection, with: "")
        text = text.replacingOccurrences(
            of: "<rasd:ResourceType>10</rasd:ResourceType>",
            with: "<rasd:ResourceType>10</rasd:ResourceType>" + connection)
        let result = try validate(text)
        #expect(result.status != 0)
        #expect(result.output.contains("Connection"), "\(result.output)")
    }

    @Test func rasdChildrenAreInAlphabeticalOrder() throws {
        let text = try OVFDescriptor(options: Self.options(.efi, .pvscsi, .vmxnet3), disk: Self.disk).text()
        var items = 0
        var current: [String] = []
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line == "<Item>" { current = [] }
            if line.hasPrefix("<rasd:") {
                current.append(String(line.dropFirst(6).prefix { $0 != ">" }))
            }
            if line == "</Item>" {
                items += 1
                #expect(current == current.sorted(), "\(current)")
                #expect(current.contains("InstanceID") && current.contains("ResourceType"))
            }
        }
        #expect(items == 5)
    }

    @Test func carriesSizesAndIdentities() throws {
        var o = OVFOptions(name: "vm")
        o.cpus = 4
        o.memoryMiB = 8192
        o.osType = .debian12
        o.virtualSystemType = "vmx-19"
        let disk = OVFDescriptor.Disk(fileName: "vm-disk1.vmdk", fileSize: 999, capacity: 1000, populatedSize: 7)
        let text = try OVFDescriptor(options: o, disk: disk).text()
        #expect(text.contains(#"<File ovf:href="vm-disk1.vmdk" ovf:id="file1" ovf:size="999"/>"#))
        #expect(text.contains(#"ovf:capacity="1024" ovf:capacityAllocationUnits="byte""#))  // whole sectors
        #expect(text.contains(#"ovf:populatedSize="7""#))
        #expect(text.contains(#"ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized""#))
        #expect(text.contains(#"<OperatingSystemSection ovf:id="96" vmw:osType="debian12_64Guest">"#))
        #expect(text.contains("<vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>"))
        #expect(text.contains("<rasd:VirtualQuantity>4</rasd:VirtualQuantity>"))
        #expect(text.contains("<rasd:VirtualQuantity>8192</rasd:VirtualQuantity>"))
        #expect(text.contains(#"xmlns:vmw="http://www.vmware.com/schema/ovf""#))
    }

    @Test(.enabled(if: hasXmllint, "needs xmllint (libxml2-utils)"))
    func userTextIsEscaped() throws {
        var o = OVFOptions(name: #"a<b>&"c'"#)
        o.networkName = "net & <lab>"
        let text = try OVFDescriptor(options: o, disk: Self.disk).text()
        #expect(text.contains("<Name>a&lt;b&gt;&amp;&quot;c&apos;</Name>"))
        #expect(text.contains(#"<Network ovf:name="net &amp; &lt;lab&gt;">"#))
        let result = try validate(text)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func badOptionsAreAllReported() {
        var o = OVFOptions(name: "")
        o.cpus = 0
        o.memoryMiB = 1
        o.virtualSystemType = "vmx13"
        o.osType = GuestOS(vmwareIdentifier: "bad id\"")
        let problems = o.problems()
        #expect(problems.count == 5, "\(problems)")
        #expect(problems.contains(.invalidOption(option: "cpus", reason: "0 is not in 1...768")))
        #expect("\(problems[0])" == "ovf option name: must not be empty")
        #expect(throws: PackagingError.self) { try OVFDescriptor(options: o, disk: Self.disk).text() }
    }
}
