import Testing

import StampConfig
import StampPackaging
import StampPipeline

/// Issue 20, one OVF writer, step 1: `stamp pack -t ova`'s hardware options build the same
/// ``OVFConfig`` that `--ovf-config` reads from the equivalent ova-compose YAML.
@Suite struct OVFCommandLineConfigTests {
    static func request(_ set: (inout RawSettings) -> Void) throws -> PackRequest {
        var raw = RawSettings(.pack)
        raw[.output] = "out/web01"
        raw[.types] = "ova"
        set(&raw)
        return PackRequest(root: "/srv/tree", settings: try raw.resolve())
    }

    /// The YAML a user would write for the same machine.
    static func yaml(
        name: String, cpus: Int, memory: Int, osType: String, osCIM: Int, controller: String, nic: String,
        network: String = "VM Network", type: String = "vmx-13"
    ) -> String {
        """
        system:
          name: \(name)
          type: \(type)
          os_vmw: \(osType)
          os_cim: \(osCIM)
        networks:
          vm_network:
            name: \(network)
        hardware:
          cpus: \(cpus)
          memory: \(memory)
          scsi0:
            type: scsi_controller
            subtype: \(controller)
          disk1:
            type: hard_disk
            parent: scsi0
          eth0:
            type: ethernet
            subtype: \(nic)
            network: vm_network
        """
    }

    @Test func theOptionsGiveTheConfigOfTheEquivalentYAML() throws {
        let request = try Self.request {
            $0[.cpus] = "4"
            $0[.memory] = "2048"
            $0[.osType] = "debian12_64Guest"
            $0[.nic] = "e1000"
            $0[.controller] = "pvscsi"
            $0[.vmName] = "web01"
        }
        let yaml = Self.yaml(
            name: "web01", cpus: 4, memory: 2048, osType: "debian12_64Guest", osCIM: 96, controller: "virtualscsi",
            nic: "E1000")
        let parsed = try OVFConfig.parse(yaml: yaml)
        #expect(request.ovfConfig == parsed)
        // A change on either side shows: the comparison is not vacuous.
        let other = try OVFConfig.parse(
            yaml: Self.yaml(
                name: "web01", cpus: 2, memory: 2048, osType: "debian12_64Guest", osCIM: 96, controller: "virtualscsi",
                nic: "E1000"))
        #expect(request.ovfConfig != other)
    }

    @Test func theDefaultsAreTheSettingsTables() throws {
        let request = try Self.request { _ in }
        let table = { (key: Setting.Key) in Settings[key].defaultValue ?? "" }
        #expect(table(.osType) == Settings.defaultGuestOS)
        let yaml = Self.yaml(
            name: "web01", cpus: Int(table(.cpus)) ?? 0, memory: Int(table(.memory)) ?? 0, osType: table(.osType),
            osCIM: GuestOS(vmwareIdentifier: table(.osType)).cimOSType, controller: table(.controller),
            nic: table(.nic) == "vmxnet3" ? "VmxNet3" : table(.nic))
        #expect(request.ovfConfig == (try OVFConfig.parse(yaml: yaml)))
        #expect(request.vmName == "web01")
        // The config leaves the firmware to the layout, as a YAML without system.firmware does.
        #expect(request.ovfConfig.system.firmware == nil)
        #expect(request.ovfConfig.disks.count == 1 && request.ovfConfig.disks[0].source == .tree)
    }

    @Test func anOVFConfigIsUsedAsGiven() throws {
        var request = try Self.request { $0[.cpus] = "8" }
        let given = try OVFConfig.parse(
            yaml: Self.yaml(
                name: "db", cpus: 16, memory: 65536, osType: "ubuntu64Guest", osCIM: 94, controller: "lsilogic", nic: "VmxNet3"))
        request.ova.config = given
        #expect(request.ovfConfig == given)
    }
}
