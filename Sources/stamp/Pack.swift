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
import StampConfig

/// `stamp pack ROOT_DIR -o OUT -t FMT[,FMT…]`: a partitioned, bootable disk from a tree.
struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a disk image (raw, qcow2, vmdk, vhd, ova) or an archive of a root tree (tar, tgz, squashfs, docker) in one pass.",
        discussion: """
            The tree becomes the root ext4 filesystem of a partitioned disk (--layout), written \
            natively and streamed once into every requested format. On a terminal a progress \
            line shows bytes written, rate and time left; otherwise (and with -v) timestamped \
            log lines say what is written.

            Examples:
              stamp pack rootfs/ -o out/debian -t qcow2,vmdk --layout gpt
              stamp pack rootfs/ -o appliance -t ova --layout efi --cpus 4 --checksum
              stamp pack oci:layout:v1 -o node -t qcow2    (an OCI layout, tag v1)
              stamp pack docker-archive:saved.tar -o node -t ova

            Instead of a directory, ROOT may name a container image that holds a kernel and \
            GRUB: oci:DIR[:TAG], docker-archive:FILE or docker://HOST[:PORT]/NAME[:TAG|@DIGEST] \
            (a name without a host is Docker Hub's, as in docker://debian:12). Its layers are \
            verified and applied, and OUT.d/ records its config (Env, Cmd, Labels).

            A private registry: --creds USER:PASSWORD, else the registry's entry in the first of \
            $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, \
            ~/.config/containers/auth.json and ~/.docker/config.json (as podman login and docker \
            login write them: "auths": {"HOST:PORT": {"auth": base64 of USER:PASSWORD}}), sent \
            only when the registry asks (HTTP Basic, or to its token service). HTTPS is always \
            verified: with the system's CAs, plus --registry-ca FILE and \
            /etc/containers/certs.d/HOST:PORT/*.crt.

              stamp pack docker://reg.example:5000/node:v1 --creds ci:$TOKEN -o node
            """)

    @Argument(
        help: "The root tree, or a container image (oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME[:TAG]).",
        completion: .directory)
    var rootDirectory: String

    @Option(name: .setting(.output, .pack), help: .setting(.output, .pack), completion: .setting(.output, .pack))
    var output: String
    @Option(name: .setting(.types, .pack), help: .setting(.types, .pack), completion: .setting(.types, .pack))
    var types: String?
    @Option(name: .setting(.layout, .pack), help: .setting(.layout, .pack), completion: .setting(.layout, .pack))
    var layout: String?
    @Option(
        name: .setting(.blockDeviceConfig, .pack), help: .setting(.blockDeviceConfig, .pack),
        completion: .setting(.blockDeviceConfig, .pack))
    var blockDeviceConfig: String?
    @Option(name: .setting(.size, .pack), help: .setting(.size, .pack)) var size: String?
    @Flag(name: .setting(.checksum, .pack), help: .setting(.checksum, .pack)) var checksum = false
    @Flag(name: .setting(.fast, .pack), help: .setting(.fast, .pack)) var fast = false
    @Flag(name: .setting(.noBootloader, .pack), help: .setting(.noBootloader, .pack)) var noBootloader = false
    @Option(name: .setting(.label, .pack), help: .setting(.label, .pack)) var label: String?
    @Option(name: .setting(.uuid, .pack), help: .setting(.uuid, .pack)) var uuid: String?
    @Option(name: .setting(.sourceDateEpoch, .pack), help: .setting(.sourceDateEpoch, .pack)) var sourceDateEpoch: String?
    @Option(name: .setting(.inodeRatio, .pack), help: .setting(.inodeRatio, .pack)) var inodeRatio: String?
    @Option(name: .setting(.qcow2Compat, .pack), help: .setting(.qcow2Compat, .pack), completion: .setting(.qcow2Compat, .pack))
    var qcow2Compat: String?
    @Flag(name: .setting(.compressQcow2, .pack), help: .setting(.compressQcow2, .pack)) var compressQcow2 = false
    @Option(
        name: .setting(.stampedCache, .pack), help: .setting(.stampedCache, .pack), completion: .setting(.stampedCache, .pack))
    var stampedCache: String?
    @OptionGroup var registry: RegistryAccessOptions
    @Option(name: .setting(.platform, .pack), help: .setting(.platform, .pack), completion: .setting(.platform, .pack))
    var platform: String?
    @Option(name: .setting(.vmName, .pack), help: .setting(.vmName, .pack)) var vmName: String?
    @Option(name: .setting(.cpus, .pack), help: .setting(.cpus, .pack)) var cpus: String?
    @Option(name: .setting(.memory, .pack), help: .setting(.memory, .pack)) var memory: String?
    @Option(name: .setting(.osType, .pack), help: .setting(.osType, .pack)) var osType: String?
    @Option(name: .setting(.nic, .pack), help: .setting(.nic, .pack), completion: .setting(.nic, .pack))
    var nic: String?
    @Option(name: .setting(.controller, .pack), help: .setting(.controller, .pack), completion: .setting(.controller, .pack))
    var controller: String?
    @OptionGroup var package: OVAPackageOptions
    @Flag(name: .setting(.quiet, .pack), help: .setting(.quiet, .pack)) var quiet = false
    @Flag(name: .setting(.verbose, .pack), help: .setting(.verbose, .pack)) var verbose = false

    /// The text of every option given, keyed by setting.
    var rawSettings: RawSettings {
        var raw = RawSettings(.pack)
        raw[.output] = output
        raw[.types] = types
        raw[.layout] = layout
        raw[.blockDeviceConfig] = blockDeviceConfig
        raw[.size] = size
        raw.flag(.checksum, checksum)
        raw.flag(.fast, fast)
        raw.flag(.noBootloader, noBootloader)
        raw[.label] = label
        raw[.uuid] = uuid
        raw[.sourceDateEpoch] = sourceDateEpoch
        raw[.inodeRatio] = inodeRatio
        raw[.qcow2Compat] = qcow2Compat
        raw.flag(.compressQcow2, compressQcow2)
        raw[.stampedCache] = stampedCache
        raw[.vmName] = vmName
        raw[.cpus] = cpus
        raw[.memory] = memory
        raw[.osType] = osType
        raw[.nic] = nic
        raw[.controller] = controller
        raw[.platform] = platform
        registry.collect(into: &raw)
        package.collect(into: &raw)
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
        return raw
    }

    func validate() throws {
        var problems: [String] = []
        var values: SettingValues?
        do {
            values = try rawSettings.resolve().printedIfAsked()
        } catch {
            problems += error.problems
        }
        let isImage = ImageReference.looksLikeReference(rootDirectory)
        if let path = blockDeviceConfig {
            do {
                _ = try loadConfig(path, label: values?.text(.label) ?? Settings.defaultRootLabel)
            } catch {
                problems.append("\(error)")
            }
        }
        do {
            _ = try package.load()
        } catch {
            problems.append("\(error)")
        }
        if isImage {
            do {
                _ = try ImageReference(parsing: rootDirectory)
            } catch {
                problems.append("\(error)")
            }
        }
        if stampedCache != nil && !isImage {
            problems.append("--stamped-cache applies to container images (oci:, docker-archive:, docker://) only")
        }
        problems += registry.problems(reference: rootDirectory, scope: "docker:// references")
        if let values {
            let formats = values.list(.types)
            let base = OutputFormats.base(output, formats: formats)
            if base.isEmpty || base.hasSuffix("/") {
                problems.append("-o '\(output)' is not a base name (OUT is written as OUT.<format>, e.g. -o out/disk)")
            } else {
                for format in formats.compactMap(PackFormat.init(name:)) {
                    let tree = isImage ? nil : rootDirectory
                    if let problem = outputPathProblem("\(base).\(format.fileExtension)", tree: tree) { problems.append(problem) }
                }
            }
        }
        if !problems.isEmpty { throw ValidationError(problems.uniqued().joined(separator: "; ")) }
    }

    func run() throws {
        // An image is written from its layers' model and a tree is only read: neither needs
        // privilege (the boot loader step runs nothing). Only an image packed with a
        // block-device config or as a tar is unpacked first, with its owners and device
        // nodes: not root, that goes on as uid 0 of a user namespace (UserNamespace.swift).
        let values = try rawSettings.resolved()
        if quiet { LogLine.configure(.init(stdout: nil)) }
        let start = monotonicSeconds()
        let formats = values.list(.types).compactMap(PackFormat.init(name:))
        if ImageReference.looksLikeReference(rootDirectory) && (blockDeviceConfig != nil || formats.contains(.tar)) {
            try UserNamespace.reexecForPack(arguments: Stamp.arguments)
        }
        var request = PackRequest(root: rootDirectory, settings: values)
        request.blockDevice = try blockDeviceConfig.map { try loadConfig($0, label: request.label) }
        (request.ova.config, request.ova.signer) = try package.load()
        request.progress = ProgressSink.wanted
        let platform = values.text(.platform).flatMap(Platform.init(parsing:)) ?? .linuxAMD64
        request.boot(for: platform)
        // An ordinary user's own files become root's in the image, as they would for a tree
        // packed in a user namespace that maps the user to root; other owners are kept.
        if geteuid() != 0 && !ImageReference.looksLikeReference(rootDirectory) { request.callerOwnsAsRoot = (getuid(), getgid()) }
        let result: PackResult
        if ImageReference.looksLikeReference(rootDirectory) {
            var packer = ImagePacker(reference: try ImageReference(parsing: rootDirectory), request: request, log: Log.line)
            packer.registry = try registry.options()
            packer.maxExpandedBytes = registry.maxExpandedBytes()
            packer.platform = platform
            packer.cache = stampedCache.map(ImageCache.init(directory:))
            result = try packer.run()
        } else {
            result = try Packer(request: request, log: Log.line).run()
        }
        for path in result.outputs { Log.line("wrote \(path)" + (verbose ? " (\(sizeOnDisk(path)))" : "")) }
        if verbose { Log.line("done in \(String(format: "%.1f", monotonicSeconds() - start)) s") }
    }

    /// Reads and validates a block-device YAML file, with the root label from --label.
    private func loadConfig(_ path: String, label: String) throws -> BlockDeviceConfig {
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
