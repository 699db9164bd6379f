import Foundation
import Testing

import StampTestSupport

/// scripts/install-deps' venv holding PyPI's nodepool.
let nodepoolVenv = ProcessInfo.processInfo.environment["STAMP_NODEPOOL_VENV"] ?? "/opt/stamp-test/nodepool"

/// The real nodepool-builder (issue 22): PyPI nodepool 11 (scripts/install-deps puts it in a
/// venv, `STAMP_NODEPOOL_VENV`) with Debian's ZooKeeper on 127.0.0.1 over TLS (a throwaway CA
/// and certificates, Tests/tools/nodepool/zookeeper_tls.sh), a provider `fake-provider` of
/// nodepool's built-in fake driver (no cloud), and stamp's `disk-image-create` as the
/// diskimage's `dib-cmd`. nodepool runs its own command line (`-x -t qcow2,raw,vhd --checksum
/// --no-tmpfs … -o IMAGES/NAME-ID --logfile …`) while its cleanup worker runs every two seconds
/// (Tests/tools/nodepool/builder.py; nodepool's default is a minute): that worker deletes every
/// file in the images directory that matches `^(.*)-([abcdef\d]+)\.(?:\w+)$` and that
/// ZooKeeper does not know, which is how stamp's earlier temporary names lost builds.
///
/// Passes when `nodepool dib-image-list` shows the build `ready` with qcow2, raw and vhd, and
/// the files it names are complete (qemu-img check, the checksums nodepool was given).
/// Root, network (the Debian mirror) and a minute or two of build: STAMP_NETWORK_TESTS=1.
@Suite(
    .serialized,
    .enabled(
        if: isRoot && networkTestsEnabled && FileManager.default.isExecutableFile(atPath: nodepoolVenv + "/bin/nodepool")
            && toolAvailable("java") && FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar"),
        "needs root, STAMP_NETWORK_TESTS, nodepool 11 in STAMP_NODEPOOL_VENV (scripts/install-deps) and Debian's zookeeper"))
struct NodepoolBuilderTests {
    static let work = "/var/tmp/stamp-nodepool"
    static var venv: String { nodepoolVenv }
    static let tools = repositoryRoot + "/Tests/tools/nodepool"

    /// nodepool.yaml: ZooKeeper over TLS, one diskimage built by stamp, one fake provider.
    static func config(port: String, tls: String, images: String, logs: String, environment: [String: String]) -> String {
        let env = environment.sorted { $0.key < $1.key }.map { "      \($0.key): '\($0.value)'" }.joined(separator: "\n")
        return """
            zookeeper-servers:
              - host: 127.0.0.1
                port: \(port)
            zookeeper-tls:
              ca: \(tls)/ca.pem
              cert: \(tls)/client.pem
              key: \(tls)/client.key
            images-dir: \(images)
            build-log-dir: \(logs)
            labels:
              - name: fake-label
                min-ready: 0
            providers:
              - name: fake-provider
                driver: fake
                cloud: fake
                region-name: fake-region
                diskimages:
                  - name: fake-debian
                pools:
                  - name: main
                    max-servers: 0
                    labels:
                      - name: fake-label
                        diskimage: fake-debian
                        min-ram: 1024
            diskimages:
              - name: fake-debian
                dib-cmd: \(dibBinary)
                elements:
                  - debian-minimal
                  - vm
                release: bookworm
                formats:
                  - qcow2
                  - raw
                  - vhd
                env-vars:
            \(env)

            """
    }

    @Test func anImageBuildReachesReadyWhileTheCleanupWorkerRuns() throws {
        let fm = FileManager.default
        let dir = Self.work + "/run"
        _ = try run(["rm", "-rf", "--one-file-system", dir])
        let tls = dir + "/zk"
        let images = dir + "/images"
        let logs = dir + "/logs"
        for directory in [tls, images, logs, Self.work + "/tmp"] {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let zk = try run(["bash", Self.tools + "/zookeeper_tls.sh", tls])
        defer { Self.stop(pidFile: tls + "/zookeeper.pid") }
        try #require(zk.status == 0, "ZooKeeper over TLS: \(zk.output)")
        let port = try String(contentsOfFile: tls + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let configFile = dir + "/nodepool.yaml"
        let environment = [
            "DIB_IMAGE_CACHE": sharedImageCache(fallback: Self.work + "/cache"), "TMPDIR": Self.work + "/tmp",
            "ELEMENTS_PATH": repositoryRoot + "/Tests/StampCLITests/Fixtures/elements", "STAMP_REPO": repositoryRoot,
        ]
        try Self.config(port: port, tls: tls, images: images, logs: logs, environment: environment).write(
            toFile: configFile, atomically: true, encoding: .utf8)
        // The fake driver is an OpenStack provider whose cloud is never called; openstacksdk
        // still reads the cloud's entry (as nodepool's own tests give it).
        let clouds = dir + "/clouds.yaml"
        try
            "clouds:\n  fake:\n    auth:\n      username: fake\n      password: fake\n      project_id: fake\n      auth_url: fake\n"
            .write(toFile: clouds, atomically: true, encoding: .utf8)
        let nodepoolEnvironment = ["OS_CLIENT_CONFIG_FILE": clouds]
        let check = try run(
            [Self.venv + "/bin/nodepool", "-c", configFile, "config-validate"], environment: nodepoolEnvironment)
        try #require(check.status == 0, "nodepool config-validate: \(check.output)")

        // The builder, its cleanup worker every 2 seconds, in the background.
        let builderLog = dir + "/builder.log"
        let builder = Process()
        builder.executableURL = URL(fileURLWithPath: Self.venv + "/bin/python")
        builder.arguments = [Self.tools + "/builder.py", configFile, "2"]
        builder.standardOutput = try FileHandle(forWritingTo: Self.created(builderLog))
        builder.standardError = builder.standardOutput
        builder.standardInput = FileHandle.nullDevice
        // stamp under a login shell's open-files limit, as everywhere in the tests: nodepool
        // starts it, so the limit is set on the builder and inherited.
        builder.environment = ProcessInfo.processInfo.environment.merging(nodepoolEnvironment) { $1 }
        try builder.run()
        _ = try run(["prlimit", "--pid", "\(builder.processIdentifier)", "--nofile=1024:1024"])
        defer {
            // SIGTERM (builder.py stops nodepool within 20 s), then SIGKILL after 30 s.
            builder.terminate()
            for _ in 0..<300 where builder.isRunning { usleep(100_000) }
            if builder.isRunning { kill(builder.processIdentifier, SIGKILL) }
            builder.waitUntilExit()
        }

        // Wait for the build: `nodepool dib-image-list` until it is ready (or failed).
        var row: [String] = []
        let deadline = Date().addingTimeInterval(1500)
        while Date() < deadline, builder.isRunning {
            Thread.sleep(forTimeInterval: 5)
            let list = try run(
                [Self.venv + "/bin/nodepool", "-c", configFile, "dib-image-list"], environment: nodepoolEnvironment)
            guard
                let line = list.stdout.split(separator: "\n").first(where: {
                    $0.contains("fake-debian-") && ($0.contains(" ready ") || $0.contains(" failed "))
                })
            else { continue }
            row = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            break
        }
        let log = (try? String(contentsOfFile: builderLog, encoding: .utf8)) ?? ""
        try #require(!row.isEmpty, "no build ready after 25 minutes (builder running: \(builder.isRunning)): \(log.suffix(4000))")
        // | ID | Image | Builder | Formats | State | Age |
        #expect(row.contains("ready"), "\(row): \(log.suffix(4000))")
        let formats = row.first { $0.contains("qcow2") } ?? ""
        #expect(Set(formats.split(separator: ",").map(String.init)) == ["qcow2", "raw", "vhd"], "\(row)")
        // The cleanup worker ran through the build, and never took a name of stamp's in
        // progress (they start with a dot) for a build.
        let passes = log.split(separator: "\n").filter { $0.contains("builder.py: cleanup pass over") }
        let during = passes.filter { $0.contains(".stamp-") }
        #expect(passes.count >= 10 && !during.isEmpty, "\(passes.count) cleanup passes, \(during.count) while stamp wrote")
        let taken = passes.filter {
            $0.contains("matched as builds: [") && $0.split(separator: "matched as builds:").last?.contains("'.") == true
        }
        #expect(taken.isEmpty, "\(taken.prefix(3))")
        let id = try #require(row.first { $0.hasPrefix("fake-debian-") })
        let base = images + "/" + id
        for (format, driver) in [("qcow2", "qcow2"), ("raw", "raw"), ("vhd", "vpc")] {
            // qemu-img checks qcow2's metadata; for all three it reads the disk they hold.
            if format == "qcow2" {
                let check = try run(["qemu-img", "check", "-f", driver, "\(base).\(format)"])
                #expect(check.status == 0, "\(format): \(check.output)")
            }
            let compare = try run(["qemu-img", "compare", "-f", "raw", "-F", driver, "\(base).raw", "\(base).\(format)"])
            #expect(compare.status == 0, "\(format): \(compare.output)")
            let sums = try sh("cd '\(images)' && md5sum -c '\(id).\(format).md5' && sha256sum -c '\(id).\(format).sha256'")
            #expect(sums.status == 0, "\(format): \(sums.output)")
        }
        // Nothing else of stamp's is left in the images directory (temporaries, scratch).
        let left = try fm.contentsOfDirectory(atPath: images).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "\(left)")
    }

    static func created(_ path: String) -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return URL(fileURLWithPath: path)
    }

    /// Stops a daemon this test started, by the PID it recorded.
    static func stop(pidFile: String) {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGTERM)
        for _ in 0..<50 where kill(pid, 0) == 0 { usleep(100_000) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}
