import StampConfig

/// A virtual appliance described the way VMware's open-vmdk `ova-compose` reads it: the YAML
/// file behind `stamp pack -t ova --ovf-config FILE`.
///
/// ```
/// system:            name, type (vmx-NN …), os_cim, os_vmw, os_name, firmware (bios|efi),
///                    secure_boot, default_configuration, no_default_configs
/// networks:          ID: {name, description}
/// hardware:          cpus: N | {number}, memory: MiB | {size}, config: {vmx key: value},
///                    ID: {type, …}  type = cpus | memory | scsi_controller (subtype
///                    lsilogic|lsilogicsas|buslogic|virtualscsi) | sata_controller |
///                    nvme_controller | ide_controller | hard_disk (parent, disk_image |
///                    raw_image | disk_capacity | directory | none = the disk stamp
///                    packs) | cd_drive
///                    (parent, image, connected) | floppy | ethernet (network, subtype,
///                    connected, address) | usb_controller | usb3_controller | video_card |
///                    vmci; every item also takes config and configuration
/// product:           info, product, vendor, version, full_version, product_url,
///                    vendor_url, app_url, class, instance, required, transports,
///                    categories {ID: label}, properties {KEY: {type, value, …}}
/// product_sections:  a list of the same
/// environment:       transports, categories, properties (merged into `product`)
/// annotation, eula:  info, text | file
/// configurations:    ID: {label, description, default}
/// extra_configs:     KEY: {value, required}
/// ```
///
/// The parser (``parse(yaml:params:baseDirectory:)``) refuses an unknown key or a value of
/// the wrong type in one line naming the key's full path (`hardware.eth0.subtype`). A scalar
/// tagged `!param NAME[=DEFAULT]` takes its value from `--param NAME=VALUE`, else DEFAULT.
/// ``OVFComposeEnvelope`` turns the result, with the sizes of the disks once written, into the
/// descriptor text.
public struct OVFConfig: Sendable, Equatable {
    public struct System: Sendable, Equatable {
        public var name: String
        /// `vssd:VirtualSystemType`, one or more `vmx-NN` separated by spaces.
        public var type = "vmx-13"
        /// `OperatingSystemSection/@ovf:id` (CIM OsType; ova-compose's default 100, "Other Linux 2.6.x").
        public var osCIM = 100
        /// `@vmw:osType`.
        public var osVMW = Settings.defaultGuestOS
        /// `OperatingSystemSection/Description`.
        public var osName: String?
        /// nil: the disk's own layout decides (efi for `--layout efi`, else bios).
        public var firmware: Firmware?
        public var secureBoot = false
        public var defaultConfiguration: String?
        /// What ova-compose itself writes needs the config as given, not stamp's reading of it:
        /// `os_vmw` unchanged, whether `secure_boot` was given, `no_default_configs`.
        public var osVMWWritten: String?
        public var secureBootGiven: Bool?
        public var noDefaultConfigs = false

        public init(name: String) { self.name = name }
    }

    public struct Network: Sendable, Equatable {
        public var id: String
        public var name: String
        public var description: String?

        public init(id: String, name: String, description: String? = nil) {
            self.id = id
            self.name = name
            self.description = description
        }
    }

    /// Where a hard disk's contents come from.
    public enum DiskSource: Sendable, Equatable {
        /// The disk `stamp pack` writes from the root tree.
        case tree
        /// An existing raw, qcow2, VMDK or VHD image, converted to a streamOptimized VMDK.
        case image(path: String)
        /// An empty disk of this capacity (in the disk's `units`); no file in the package.
        case empty(capacity: UInt64)
        /// stamp's own key `directory`: an ext4 filesystem (no partition table) of this tree.
        case directory(path: String)
    }

    public enum Kind: Sendable, Equatable {
        case cpus(Int)
        case memory(mib: Int)
        case scsiController(subtype: String)
        case sataController, nvmeController, ideController
        case usbController, usb3Controller, videoCard, vmci
        case hardDisk(parent: String, source: DiskSource, units: String, diskID: String?, fileID: String?, sectorSize: Int?)
        case cdDrive(parent: String, image: String?, connected: Bool)
        case floppy(image: String?, connected: Bool)
        case ethernet(network: String, subtype: String, connected: Bool, address: String?)

        /// The controllers other items may name as `parent`.
        public var isController: Bool {
            switch self {
            case .scsiController, .sataController, .nvmeController, .ideController: return true
            default: return false
            }
        }
    }

    /// One `hardware:` entry; `id` is its key, used as the item's `rasd:ElementName`.
    public struct Item: Sendable, Equatable {
        public var id: String
        public var kind: Kind
        /// `vmw:Config` children of the item (`config:`), in file order.
        public var config: [KeyValue] = []
        /// `config:` keys given as null: stamp's default `vmw:Config` of that key is left out.
        public var unsetConfig: [String] = []
        /// `ovf:configuration`: the deployment options the item belongs to.
        public var configuration: String?
        /// `subtype` as the config spells it (ova-compose writes it unchanged).
        public var subtypeWritten: String?
        /// A CD/floppy image's `file_id`.
        public var imageFileID: String?
        /// A hard disk's member name as ova-compose names it: `disk_image`'s file name, else
        /// `raw_image`'s with its extension replaced by `.vmdk`.
        public var diskFileName: String?

        public init(id: String, kind: Kind) {
            self.id = id
            self.kind = kind
        }
    }

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: String
        public var required: Bool?
        public init(key: String, value: String, required: Bool? = nil) {
            self.key = key
            self.value = value
            self.required = required
        }
    }

    public struct Property: Sendable, Equatable {
        public var key: String
        public var type: String
        public var value: String?
        /// `Value` children: per deployment option values.
        public var configurationValues: [KeyValue] = []
        public var password = false
        public var userConfigurable = false
        public var qualifiers: String?
        public var label: String?
        public var description: String?
        public var category: String?
        public var required: Bool?
        public var configuration: String?
        /// `value` (and per-configuration values) as Python's `str()` of the YAML value makes
        /// it, which is what ova-compose writes (`True` for a YAML true).
        public var valueWritten: String?
        public var configurationValuesWritten: [KeyValue] = []
    }

    public struct Category: Sendable, Equatable {
        public var id: String
        public var label: String
    }

    /// A `ProductSection`.
    public struct Product: Sendable, Equatable {
        public var info = "Information about the installed software"
        public var product, vendor, version, fullVersion, productURL, vendorURL, appURL: String?
        public var classAttribute, instance: String?
        public var required: Bool?
        public var transports: [String] = []
        public var categories: [Category] = []
        public var properties: [Property] = []
    }

    /// An `AnnotationSection` or `EulaSection`.
    public struct TextBlock: Sendable, Equatable {
        public var info: String
        public var text: String
        /// `info` when the config gives it.
        public var givenInfo: String?
    }

    /// A `DeploymentOptionSection/Configuration`.
    public struct Configuration: Sendable, Equatable {
        public var id: String
        public var label: String
        public var description: String
        public var isDefault = false
        /// `label` and `description` when the config gives them.
        public var givenLabel: String?
        public var givenDescription: String?
    }

    public var system: System
    public var networks: [Network] = []
    public var hardware: [Item] = []
    /// `hardware.config`: `vmw:Config` of the whole machine.
    public var hardwareConfig: [KeyValue] = []
    /// `hardware.config` keys given as null (ova-compose then drops its default for the key).
    public var unsetHardwareConfig: [String] = []
    public var products: [Product] = []
    public var annotation: TextBlock?
    public var eula: TextBlock?
    public var configurations: [Configuration] = []
    /// `vmw:ExtraConfig` entries.
    public var extraConfigs: [KeyValue] = []

    public init(system: System) { self.system = system }

    /// The hard disks, in file order.
    public var disks: [(item: Item, source: DiskSource)] {
        hardware.compactMap { item in
            if case .hardDisk(_, let source, _, _, _, _) = item.kind { return (item, source) }
            return nil
        }
    }

    /// The config as `stamp pack` writes it (with ``OVFComposeEnvelope``, as ova-compose's is)
    /// for a disk whose layout boots with `firmware`: stamp's reading of each value in place of
    /// the value as the YAML spelled it, and what the YAML leaves out filled in.
    ///
    /// | field | ova-compose writes | `stamp pack` writes |
    /// |---|---|---|
    /// | `system.firmware` absent | efi (its default) | the layout's: efi or bios |
    /// | `system.secure_boot` absent | true | false: a tree without the signed shim would not boot |
    /// | `os_vmw: vmw.NAME` | `vmw.NAME` | `NAME`, vSphere's identifier |
    /// | `subtype:` of a controller or NIC | as given (`vmxnet3`) | vSphere's spelling (`VmxNet3`) |
    /// | property value `true` | `True` (Python's `str`) | `true` (xs:boolean) |
    /// | configuration without label, description | empty `Label`, `Description` | its id |
    /// | annotation, eula without info | "Information about the installed software" | "Description of the Product", "End User License Agreement" |
    public func packed(firmware: Firmware) -> OVFConfig {
        var c = self
        c.system.firmware = c.system.firmware ?? firmware
        c.system.secureBootGiven = c.system.secureBootGiven ?? false
        c.system.osVMWWritten = c.system.osVMW
        for i in c.hardware.indices {
            switch c.hardware[i].kind {
            case .scsiController(let subtype), .ethernet(_, let subtype, _, _): c.hardware[i].subtypeWritten = subtype
            default: break
            }
        }
        for p in c.products.indices {
            for q in c.products[p].properties.indices {
                c.products[p].properties[q].valueWritten = c.products[p].properties[q].value
                c.products[p].properties[q].configurationValuesWritten = c.products[p].properties[q].configurationValues
            }
        }
        for i in c.configurations.indices {
            c.configurations[i].givenLabel = c.configurations[i].label
            c.configurations[i].givenDescription = c.configurations[i].description
        }
        if let info = c.annotation?.info { c.annotation?.givenInfo = info }
        if let info = c.eula?.info { c.eula?.givenInfo = info }
        return c
    }

    /// Every OVF transport named by a product section, once each, in first-seen order.
    public var transports: [String] {
        var seen: [String] = []
        for t in products.flatMap(\.transports) where !seen.contains(t) { seen.append(t) }
        return seen
    }
}

/// An error in an OVF config: the key at fault (its full path) and why.
public struct OVFConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key's path, e.g. `hardware.eth0.subtype`.
    public var key: String
    public var reason: String
    /// 1-based line of the value, when known.
    public var line: Int?

    public init(key: String, reason: String, line: Int? = nil) {
        self.key = key
        self.reason = reason
        self.line = line
    }

    public var description: String {
        (line.map { "line \($0): " } ?? "") + (key.isEmpty ? reason : "\(key): \(reason)")
    }
}
