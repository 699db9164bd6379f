import StampConfig
import StampElements
import Testing
@testable import StampDIB

@Suite struct DIBCommandLineTests {
    func build(_ line: String, env: [String: String] = [:]) throws -> DIBBuildRequest {
        let args = line.split(separator: " ").map(String.init)
        guard case .build(let request) = try DIBCommandLine.parse(args, environment: env) else {
            Issue.record("not a build")
            return DIBBuildRequest(environment: [:])
        }
        return request
    }

    func problems(_ line: String) -> [DIBCommandLine.Problem] {
        let args = line.split(separator: " ").map(String.init)
        do {
            _ = try DIBCommandLine.parse(args, environment: [:])
            return []
        } catch {
            return error.problems
        }
    }

    /// nodepool's exact command (nodepool's builder.py), with the formats in set order.
    @Test(arguments: ["qcow2,vmdk,raw", "raw,qcow2,vmdk", "vmdk,raw,qcow2"])
    func nodepoolCommand(formats: String) throws {
        let request = try build(
            "-x -t \(formats) --checksum --no-tmpfs --qemu-img-options compat=0.10 -o /images/debian-3f2ae9 debian-minimal vm",
            env: ["DIB_RELEASE": "bookworm"])
        #expect(Set(request.formats) == ["qcow2", "vmdk", "raw"])
        #expect(request.formats == formats.split(separator: ",").map(String.init))
        #expect(request.outputBase == "/images/debian-3f2ae9")
        #expect(request.outputPath(for: "vmdk") == "/images/debian-3f2ae9.vmdk")
        #expect(request.manifestDirectory == "/images/debian-3f2ae9.d")
        #expect(request.checksumAlgorithms == ["md5", "sha256"])
        #expect(request.qcow2Version == 2)
        #expect(request.debugTrace == 1)
        #expect(request.noTmpfs)
        #expect(request.elements == ["debian-minimal", "vm"])
        let plan = request.plan
        #expect(plan.environment["DIB_RELEASE"] == "bookworm")
        #expect(plan.environment["DIB_CHECKSUM"] == "1")
        #expect(plan.environment["DIB_DEBUG_TRACE"] == "1")
        #expect(plan.environment["QEMU_IMG_OPTIONS"] == "compat=0.10")
        #expect(plan.imageName == "/images/debian-3f2ae9")
        #expect(plan.debugTrace == 1)
    }

    @Test func leadingDibCmdWords() throws {
        let request = try build("disk-image-create DIB_EXTRA=1 -x -x -t raw -o out fake-os")
        #expect(request.debugTrace == 2)
        #expect(request.environment["DIB_EXTRA"] == "1")
        #expect(request.elements == ["fake-os"])
    }

    @Test func getoptForms() throws {
        let request = try build(
            "fake-os -xun -ofoo.raw -traw -a arm64 -p a,b -p c --image-size=2.5 --image-cache /c --root-l gate-rootfs --offline vm -- -odd"
        )
        #expect(request.outputBase == "foo")  // one -t: its extension is dropped
        #expect(request.formats == ["raw"])
        #expect(!request.compress && request.skipBase && request.offline)
        #expect(request.arch == "arm64")
        #expect(request.extraPackages == ["a", "b", "c"])
        #expect(request.numeric["image-size"] == "2.5")
        #expect(request.rootLabel == "gate-rootfs")
        #expect(request.elements == ["fake-os", "vm", "-odd"])
        let env = request.plan.environment
        #expect(env["DIB_IMAGE_SIZE"] == "2.5" && env["ARCH"] == "arm64" && env["ROOT_LABEL"] == "gate-rootfs")
        #expect(env["DIB_IMAGE_CACHE"] == "/c" && env["DIB_OFFLINE"] == "1")
        #expect(request.plan.skipBase && request.plan.extraPackages == ["a", "b", "c"])
    }

    @Test func checksumFromEnvironment() throws {
        #expect(try build("-o x e", env: ["DIB_CHECKSUM": "1"]).checksumAlgorithms == ["md5", "sha256"])
        #expect(try build("-o x e", env: ["DIB_CHECKSUM": "sha256"]).checksumAlgorithms == ["sha256"])
        #expect(try build("-o x e", env: [:]).checksumAlgorithms == [])
        #expect(try build("-o x e").formats == ["qcow2"])
        #expect(try build("-o x e").qcow2Version == 3)
    }

    @Test func unknownFormatIsOneClearLine() {
        let found = problems("-t qcow2,vdi -o x e")
        #expect(found == [.unknownFormat("vdi")])
        #expect(
            DIBCommandLine.Failure(problems: found).description
                == "unknown image format 'vdi' (supported: raw, qcow2, vmdk, vmdk-sparse, vhd, vhd-fixed, ova, tar, tgz, squashfs, docker)"
        )
    }

    @Test func badCommandLines() {
        #expect(problems("-o x") == [.noElements])
        #expect(problems("-q e") == [.unrecognizedOption("-q")])
        #expect(problems("--bogus e") == [.unrecognizedOption("--bogus")])
        #expect(problems("e -o") == [.missingArgument("-o")])
        #expect(
            problems("--image e") == [.ambiguousOption("--image", candidates: ["image-size", "image-extra-size", "image-cache"])])
        #expect(problems("--checksum=yes e") == [.unexpectedArgument("--checksum")])
        #expect(
            problems("--image-size big e") == [.invalidValue(option: "--image-size", value: "big", reason: "expected a number")])
        #expect(problems("-t vdi") == [.unknownFormat("vdi"), .noElements])
    }

    /// DIB hands `--qemu-img-options` to every `qemu-img convert`: stamp applies `compat` to the
    /// qcow2, `subformat` and `adapter_type` to the vmdk, accepts the other keys qemu-img takes
    /// with the value stamp writes anyway, and refuses any other value or key in one line
    /// naming it, before anything runs.
    @Test func qemuImgOptions() throws {
        let request = try build(
            "--qemu-img-options compat=v2,subformat=monolithicSparse,cluster_size=65536,adapter_type=ide,lazy_refcounts=off,extent_size_hint=1M -o x e"
        )
        #expect(request.qcow2Version == 2)
        #expect(request.vmdkSubformat == "monolithicSparse")
        #expect(request.vmdkAdapterType == "ide")
        #expect(request.ignoredQemuImgOptions == ["extent_size_hint=1M"])
        for (pair, says) in [
            ("cluster_size=2M", "qcow2 clusters of 64 KiB"), ("lazy_refcounts=on", "no lazy refcounts"),
            ("backing_file=base.qcow2", "no backing file"), ("encrypt.format=luks", "unencrypted"),
            ("frobnicate=1", "qemu-img has no option 'frobnicate'"), ("adapter_type=legacyESX", "ide, lsilogic and buslogic"),
        ] {
            let found = problems("--qemu-img-options \(pair) -o x e")
            let line = DIBCommandLine.Failure(problems: found).description
            #expect(found.count == 1 && line.contains(pair) && line.contains(says), "\(pair): \(line)")
        }
        #expect(try build("--qemu-img-options compat=1.1 -o x e").qcow2Version == 3)
        #expect(
            problems("--qemu-img-options compat=0.9 -o x e")
                == [.invalidValue(option: "--qemu-img-options", value: "compat=0.9", reason: "qcow2 compat is 0.10 or 1.1")])
        let bad = problems("--qemu-img-options subformat=twoGbMaxExtentSparse -o x e")
        #expect(bad.count == 1 && DIBCommandLine.Failure(problems: bad).description.contains("subformat=twoGbMaxExtentSparse"))
    }

    @Test func helpAndVersion() throws {
        #expect(try DIBCommandLine.parse(["-h"], environment: [:]) == .help)
        #expect(try DIBCommandLine.parse(["--version"], environment: [:]) == .version)
    }

    @Test func clearedEnvironment() throws {
        let plan = try build("-c -o x e", env: ["SECRET": "1", "HOME": "/home/u"]).plan
        #expect(plan.environment["SECRET"] == nil)
        #expect(plan.environment["HOME"] == "/home/u")
    }

    /// Registry credentials for the oci-image element stay with stamp: not in the elements'
    /// environment, nor in DIB_ENV (which DIB records in the image's manifests).
    @Test func registryCredentialsStayOutOfTheElements() throws {
        let request = try build("-o x oci-image", env: ["DIB_OCI_CREDS": "alice:pw", "DIB_OCI_PLAIN_HTTP": "1"])
        #expect(request.environment["DIB_OCI_CREDS"] == "alice:pw")
        let plan = request.plan
        #expect(plan.environment["DIB_OCI_CREDS"] == nil)
        #expect(plan.environment["DIB_OCI_PLAIN_HTTP"] == "1")
        #expect(plan.environment["DIB_ENV"]?.contains("DIB_OCI_PLAIN_HTTP") == true)
        #expect(plan.environment.values.allSatisfy { !$0.contains("alice:pw") })
    }
}
