#if canImport(Glibc)
    import Glibc
#endif
import ArgumentParser
import Foundation
import StampBytes
import StampElements
import StampContainers
import StampDisk
import StampPackaging
import StampOCI
import StampPipeline

/// `stamp pack ROOT_DIR -o OUT -t FMT[,FMT…]`: a partitioned, bootable disk from a tree.
struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a disk image (raw, qcow2, vmdk, vhd, ova, tar) of a root tree in one pass.",
        discussion: """
            The tree becomes the root ext4 filesystem of a partitioned disk (--layout), written
            natively and streamed once into every requested format.

            Examples:
              stamp pack rootfs/ -o out/debian -t qcow2,vmdk --layout gpt
              stamp pack rootfs/ -o appliance -t ova --layout efi --cpus 4 --memory 4096 --checksum
              stamp pack oci:layout:v1 -o node -t qcow2        (an OCI image layout, tag v1)
              stamp pack docker-archive:saved.tar -o node -t ova

            Instead of a directory, ROOT may name a container image that holds a kernel and GRUB:
            oci:DIR[:TAG], docker-archive:FILE or docker://HOST[:PORT]/NAME[:TAG|@DIGEST] (a name without
            a host is Docker Hub's, as in docker://debian:12). Its
            layers are verified and applied, and OUT.d/ records its config (Env, Cmd, Labels).

            A private registry: --creds USER:PASSWORD, else the registry's entry in the first of \
            $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, \
            ~/.config/containers/auth.json and ~/.docker/config.json (as podman login and docker \
            login write them: "auths": {"HOST:PORT": {"auth": base64 of USER:PASSWORD}}), sent \
            only when the registry asks (HTTP Basic, or to its token service). HTTPS is always \
            verified: with the system's CAs, plus --registry-ca FILE and \
            /etc/containers/certs.d/HOST:PORT/*.crt.

              stamp pack docker://registry.example:5000/node:v1 --creds ci:$TOKEN -o node
            """)

    @Argument(help: "The root tree, or a container image (oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME[:TAG]).")
    var rootDirectory: String

    @Option(name: .shortAndLong, help: "Output base name: OUT.<format> is written for each format.")
    var output: String

    @Option(name: [.customShort("t"), .long], help: "Comma-separated formats: \(PackFormat.names.joined(separator: ", ")).")
    var types: String = "raw"

    @Option(help: "Partition layout: none, mbr, gpt or efi.")
    var layout: String = "gpt"

    @Option(
        help: ArgumentHelp(
            "A DIB block-device YAML (partitions, ext4/vfat filesystems, mount points) that lays out the disk instead of --layout.",
            valueName: "file"))
    var blockDeviceConfig: String?

    @Option(help: "Disk size (e.g. 4G) or 'auto' to fit the tree.")
    var size: String = "auto"

    @Flag(help: "Write OUT.<format>.md5 and .sha256 beside each output.")
    var checksum = false

    @Flag(help: "Fastest compression (larger VMDK/OVA).")
    var fast = false

    @Flag(help: "Do not write boot code, even when the tree has GRUB.")
    var noBootloader = false

    @Option(help: "Root filesystem label.")
    var label: String = "cloudimg-rootfs"

    @Option(help: "Root filesystem UUID (random if omitted); also seeds partition GUIDs.")
    var uuid: String?

    @Option(help: "Clamp timestamps to this Unix time (reproducible images).")
    var sourceDateEpoch: Int64?

    @Option(help: "qcow2 compatibility level: 1.1 (v3) or 0.10 (v2).")
    var qcow2Compat: String = "1.1"

    @Flag(
        name: [.customShort("c"), .customLong("compress-qcow2")],
        help: "Compress qcow2 clusters, as qemu-img convert -c does (disk-image-create does unless -u).")
    var compressQcow2 = false

    @Option(
        help: ArgumentHelp(
            "With a container image: serve a stamp of the same manifest digest and settings from DIR, and keep new ones there (see stamp images).",
            valueName: "dir"))
    var imageCache: String?

    @OptionGroup var registry: RegistryAccessOptions

    @Option(
        help:
            "linux/amd64 or linux/arm64: the manifest taken from a container image's index, and the boot loader (arm64: UEFI, --layout efi)."
    )
    var platform: String = "linux/amd64"

    @Option(help: "OVA: virtual machine name.") var vmName: String?
    @Option(help: "OVA: virtual CPUs.") var cpus: Int = 2
    @Option(help: "OVA: memory in MiB.") var memory: Int = 2048
    @Option(help: "OVA: guest OS type (vmw:osType).") var osType: String = "debian12_64Guest"
    @Option(help: "OVA: NIC type (vmxnet3, e1000).") var nic: String = "vmxnet3"
    @Option(help: "OVA: SCSI controller (lsilogic, pvscsi).") var controller: String = "lsilogic"
    @OptionGroup var package: OVAPackageOptions

    func validate() throws {
        var problems: [String] = []
        let names = types.split(separator: ",").map(String.init)
        for n in names where PackFormat(name: n) == nil {
            problems.append("unknown format '\(n)' (use \(PackFormat.names.joined(separator: ", ")))")
        }
        if StandardLayout(rawValue: layout) == nil { problems.append("unknown layout '\(layout)' (use none, mbr, gpt, efi)") }
        if size != "auto" && parseSize(size) == nil { problems.append("invalid --size '\(size)'") }
        if let path = blockDeviceConfig {
            do {
                _ = try loadConfig(path)
            } catch {
                problems.append("\(error)")
            }
        }
        do {
            _ = try package.load()
        } catch {
            problems.append("\(error)")
        }
        if ImageReference.looksLikeReference(rootDirectory) {
            do {
                _ = try ImageReference(parsing: rootDirectory)
            } catch {
                problems.append("\(error)")
            }
        }
        if imageCache != nil && !ImageReference.looksLikeReference(rootDirectory) {
            problems.append("--image-cache applies to container images (oci:, docker-archive:, docker://) only")
        }
        problems += registry.problems(reference: rootDirectory, scope: "docker:// references")
        if Platform(parsing: platform) == nil {
            problems.append("unknown --platform '\(platform)' (use linux/amd64 or linux/arm64)")
        }
        if let uuid, Identifier(uuid) == nil { problems.append("invalid --uuid '\(uuid)'") }
        if Qcow2Compat(rawValue: qcow2Compat) == nil {
            problems.append("invalid --qcow2-compat '\(qcow2Compat)' (use 1.1 or 0.10)")
        }
        if output.isEmpty || output.hasSuffix("/") {
            problems.append("-o '\(output)' is not a base name (OUT is written as OUT.<format>, e.g. -o out/disk)")
        } else {
            for format in names.compactMap(PackFormat.init(name:)) {
                let tree = ImageReference.looksLikeReference(rootDirectory) ? nil : rootDirectory
                if let problem = outputPathProblem("\(output).\(format.fileExtension)", tree: tree) { problems.append(problem) }
            }
        }
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    func run() throws {
        // An image is written from its layers' model and a tree is only read: neither needs
        // privilege (the boot loader step runs nothing). Only an image packed with a
        // block-device config or as a tar is unpacked first, with its owners and device
        // nodes: not root, that goes on as uid 0 of a user namespace (UserNamespace.swift).
        let formats = types.split(separator: ",").compactMap { PackFormat(name: String($0)) }
        if ImageReference.looksLikeReference(rootDirectory) && (blockDeviceConfig != nil || formats.contains(.tar)) {
            try UserNamespace.reexecForPack(arguments: CommandLine.arguments)
        }
        var request = PackRequest(
            root: rootDirectory, output: output, formats: types.split(separator: ",").compactMap { PackFormat(name: String($0)) })
        request.layout = StandardLayout(rawValue: layout) ?? .gpt
        request.blockDevice = try blockDeviceConfig.map(loadConfig)
        request.diskSize = size == "auto" ? nil : parseSize(size)
        request.checksum = checksum
        request.fast = fast
        request.bootloader = !noBootloader
        request.label = label
        request.uuid = uuid.flatMap(Identifier.init)
        request.sourceDateEpoch = sourceDateEpoch
        request.qcow2Compat = Qcow2Compat(rawValue: qcow2Compat) ?? .v3
        request.qcow2Compressed = compressQcow2
        request.ova.name = vmName
        request.ova.cpus = cpus
        request.ova.memoryMiB = memory
        request.ova.osType = osType
        request.ova.nic = nic
        request.ova.controller = controller
        (request.ova.config, request.ova.signer) = try package.load()
        request.progress = ProgressSink.isTerminal
        request.boot(for: Platform(parsing: platform) ?? .linuxAMD64)
        // An ordinary user's own files become root's in the image, as they would for a tree
        // packed in a user namespace that maps the user to root; other owners are kept.
        if geteuid() != 0 && !ImageReference.looksLikeReference(rootDirectory) { request.callerOwnsAsRoot = (getuid(), getgid()) }
        let result: PackResult
        if ImageReference.looksLikeReference(rootDirectory) {
            var packer = ImagePacker(reference: try ImageReference(parsing: rootDirectory), request: request, log: Log.line)
            packer.registry = try registry.options()
            packer.maxExpandedBytes = registry.maxExpandedBytes()
            packer.platform = Platform(parsing: platform) ?? .linuxAMD64
            packer.cache = imageCache.map(ImageCache.init(directory:))
            result = try packer.run()
        } else {
            result = try Packer(request: request, log: Log.line).run()
        }
        for path in result.outputs { Log.line("wrote \(path)") }
    }

    /// Reads and validates a block-device YAML file, with the root label from --label.
    private func loadConfig(_ path: String) throws -> BlockDeviceConfig {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(validating: data, as: UTF8.self) else {
                throw ValidationError("\(path): the block-device config is not UTF-8 text")
            }
            text = decoded
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(path): cannot read the block-device config: \(ErrorLine.reason(error))")
        }
        do {
            return try BlockDeviceConfig.parse(yaml: text, rootDefaults: .init(label: label))
        } catch {
            throw ValidationError("\(path): \(error)")
        }
    }
}

/// Timestamped log lines on stdout (errors alone go to stderr), DIB's format (``LogLine``).
enum Log {
    @Sendable static func line(_ message: String) { LogLine.write(message) }
}
