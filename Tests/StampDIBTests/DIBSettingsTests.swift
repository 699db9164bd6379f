import Foundation
import StampConfig
import StampElements
import Testing

@testable import StampDIB

/// disk-image-create's command line and `stamp build`'s settings make the same typed build
/// request (issue 20: typed settings reach the pipeline).
@Suite struct DIBSettingsTests {
    /// disk-image-create's options become the same typed settings: `--image-size 3` is the
    /// `stamp build --size 3G`, `-u` turns compression off, `--root-label` is the label.
    @Test func disksImageCreateCarriesTypedSettings() throws {
        let command = try DIBCommandLine.parse(
            ["-o", "out.qcow2", "-t", "qcow2", "--image-size", "3", "-u", "--root-label", "r", "e"], environment: [:])
        guard case .build(let request) = command else {
            Issue.record("not a build: \(command)")
            return
        }
        let settings = try #require(request.settings)
        #expect(settings.bytes(.size) == 3 << 30 && settings.flag(.compressQcow2) == false && settings.text(.label) == "r")
        #expect(request.outputBase == "out")
    }
}

/// `stamp build`'s settings into the element engine's request, typed: the same request
/// disk-image-create's equivalent command line makes.
@Suite struct BuildSettingsTests {
    @Test func stampBuildAndDiskImageCreateAskForTheSameBuild() throws {
        var raw = RawSettings(.build)
        raw[.output] = "out/debian.qcow2"
        raw[.types] = "qcow2"
        raw[.size] = "3G"
        raw[.qcow2Compat] = "v2"
        raw[.release] = "bookworm"
        raw.list(.packages, ["vim,curl", "jq"])
        raw.flag(.checksum, true)
        raw.flag(.trace, true)
        raw[.downloadCache] = "/var/cache/dib"
        let build = DIBBuildRequest(
            settings: try raw.resolve(), elements: ["debian-minimal", "vm"], environment: ["HOME": "/root"])
        let parsed = try DIBCommandLine.parse(
            [
                "-o", "out/debian.qcow2", "-t", "qcow2", "--image-size", "3", "--qemu-img-options", "compat=0.10", "-p",
                "vim,curl",
                "-p", "jq", "--checksum", "-x", "--image-cache", "/var/cache/dib", "debian-minimal", "vm",
            ], environment: ["HOME": "/root", "DIB_RELEASE": "bookworm"])
        guard case .build(let dib) = parsed else {
            Issue.record("\(parsed)")
            return
        }
        #expect(build.outputBase == "out/debian" && dib.outputBase == build.outputBase)
        #expect(build.formats == dib.formats && build.qcow2Version == 2 && dib.qcow2Version == 2)
        #expect(build.extraPackages == ["vim", "curl", "jq"] && dib.extraPackages == build.extraPackages)
        #expect(build.checksumAlgorithms == dib.checksumAlgorithms && build.compress && dib.compress)
        #expect(build.elements == dib.elements && build.debugTrace == 1 && dib.debugTrace == 1)
        for name in ["DIB_RELEASE", "DIB_IMAGE_CACHE", "DIB_CHECKSUM", "DIB_DEBUG_TRACE", "IMAGE_NAME", "QEMU_IMG_OPTIONS"] {
            #expect(build.plan.environment[name] == dib.plan.environment[name], "\(name)")
        }
        #expect(Double(build.plan.environment["DIB_IMAGE_SIZE"] ?? "") == 3)
        // The settings of both, as typed values: the same disk size and compression.
        #expect(build.settings?.bytes(.size) == dib.settings?.bytes(.size))
        #expect(build.settings?.flag(.checksum) == true && dib.settings?.flag(.checksum) == true)
    }

    /// Every build option of disk-image-create is a `stamp build` option (the settings table
    /// says so), and each given both ways asks for the same build: the same request fields
    /// and the same variables for the elements.
    @Test func everyBuildOptionOfDiskImageCreateMeansTheSameOnStampBuild() throws {
        let missing = Settings.offered(by: .dib).filter { $0.spellings[.build] == nil }.map(\.key.rawValue)
        #expect(missing.isEmpty, "disk-image-create options stamp build lacks: \(missing)")
        var raw = RawSettings(.build)
        raw[.output] = "out/img"
        raw[.types] = "qcow2,docker"
        raw[.arch] = "arm64"
        raw.flag(.noBase, true)
        raw.flag(.clearEnvironment, true)
        raw.flag(.compressQcow2, true)  // -u: the spelling is negated
        raw[.label] = "root"
        raw[.extraSize] = "512"
        raw[.journalSize] = "32"
        raw[.maxOnlineResize] = "100000"
        raw[.mkfsOptions] = "-i 8192"
        raw[.qemuImgOptions] = "compat=0.10,adapter_type=ide"
        raw.flag(.noTmpfs, true)
        raw[.minTmpfs] = "2"
        raw[.ramdiskElement] = "ramdisk"
        raw[.installType] = "package"
        raw[.dockerTarget] = "web:1"
        raw[.logfile] = "/tmp/build.log"
        let build = DIBBuildRequest(settings: try raw.resolve(), elements: ["debian-minimal"], environment: ["HOME": "/root"])
        let parsed = try DIBCommandLine.parse(
            [
                "-o", "out/img", "-t", "qcow2,docker", "-a", "arm64", "-n", "-c", "-u", "--root-label", "root",
                "--image-extra-size", "512", "--mkfs-journal-size", "32", "--max-online-resize", "100000", "--mkfs-options",
                "-i 8192", "--qemu-img-options", "compat=0.10,adapter_type=ide", "--no-tmpfs", "--min-tmpfs", "2",
                "--ramdisk-element", "ramdisk", "--install-type", "package", "--docker-target", "web:1", "--logfile",
                "/tmp/build.log", "debian-minimal",
            ], environment: ["HOME": "/root"])
        guard case .build(let dib) = parsed else {
            Issue.record("\(parsed)")
            return
        }
        #expect(build.arch == "arm64" && dib.arch == build.arch)
        #expect(build.skipBase && dib.skipBase && build.clearEnvironment && dib.clearEnvironment)
        #expect(!build.compress && !dib.compress && build.noTmpfs && dib.noTmpfs)
        #expect(build.rootLabel == "root" && dib.rootLabel == build.rootLabel)
        #expect(build.mkfsOptions == "-i 8192" && dib.mkfsOptions == build.mkfsOptions)
        #expect(build.qcow2Version == 2 && build.vmdkAdapterType == "ide" && dib.vmdkAdapterType == "ide")
        #expect(build.ramdiskElement == dib.ramdiskElement && build.installType == "package" && dib.installType == "package")
        #expect(build.dockerTarget == "web:1" && dib.dockerTarget == build.dockerTarget)
        #expect(build.logfile == "/tmp/build.log" && dib.logfile == build.logfile)
        #expect(build.formats == dib.formats && build.outputBase == dib.outputBase && build.elements == dib.elements)
        for name in [
            "ARCH", "ROOT_LABEL", "DIB_MKFS_OPTS", "QEMU_IMG_OPTIONS", "DIB_NO_TMPFS", "DIB_MIN_TMPFS", "DIB_DEFAULT_INSTALLTYPE",
            "DOCKER_TARGET", "DIB_JOURNAL_SIZE", "MAX_ONLINE_RESIZE", "DIB_QUIET", "PATH", "HOME",
        ] {
            #expect(build.plan.environment[name] == dib.plan.environment[name], "\(name)")
        }
        #expect(Double(build.plan.environment["DIB_IMAGE_EXTRA_SIZE"] ?? "") == 512)
        #expect(Double(dib.plan.environment["DIB_IMAGE_EXTRA_SIZE"] ?? "") == 512)
        #expect(build.plan.skipBase && build.plan.installType == "package")
        // A qemu-img option stamp cannot honour is one problem naming it, as in disk-image-create.
        #expect(DIBBuildRequest.qemuImgOptionPairs("cluster_size=2M").problems.count == 1)
        // DIB's --image-size counts GiB: stamp build takes it as --size, converted.
        let (words, warnings) = Settings.rewriteDeprecated(["e", "--image-size", "2.5", "--image-size=1"], on: .build)
        #expect(words == ["e", "--size", "2684354560", "--size=1073741824"], "\(words)")
        #expect(warnings.count == 1, "\(warnings)")
    }

    @Test func fromAnImagePutsTheOCIElementFirstAndKeepsTheSecretOut() throws {
        var raw = RawSettings(.build)
        raw[.output] = "node"
        raw[.from] = "docker://registry.example/node:1"
        raw[.creds] = "ci:s3cret"
        let request = DIBBuildRequest(settings: try raw.resolve(), elements: ["vm"], environment: [:])
        #expect(request.elements == ["oci-image", "vm"])
        #expect(request.environment["DIB_OCI_CREDS"] == "ci:s3cret")
        #expect(request.plan.environment["DIB_OCI_CREDS"] == nil)
        #expect(!(request.plan.environment["DIB_ENV"] ?? "").contains("s3cret"))
        #expect(DIBBuildRequest.secretVariables == ["DIB_OCI_CREDS"])
    }
}
