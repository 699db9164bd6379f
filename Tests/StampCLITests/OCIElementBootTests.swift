import Foundation
import Testing

import StampTestSupport

/// `stamp build --from IMAGE dpkg vm …`: a kernel-less Debian bookworm minbase root packed
/// with umoci is the operating system; the kernel, systemd and GRUB are installed by the
/// elements (apt in the chroot, from Debian's mirror), and the qcow2 boots under QEMU (BIOS)
/// to the marker of Tests/tools/boot/install_marker.sh (put in by a test element). The chroot
/// phases ran in the image sandbox (a test element records its uid map). Network
/// phase: the mirror and minutes (STAMP_NETWORK_TESTS and STAMP_BOOT_TESTS).
@Suite(
    .serialized,
    .enabled(
        if: isRoot && ProcessInfo.processInfo.environment["STAMP_NETWORK_TESTS"] != nil
            && ProcessInfo.processInfo.environment["STAMP_BOOT_TESTS"] != nil && toolAvailable("umoci")
            && FileManager.default.isExecutableFile(atPath: stampBinary)))
struct OCIElementBootTests {
    static let work = "/var/tmp/stamp-oci-element-boot"

    @Test func elementsMakeAnImageWithoutKernelBoot() throws {
        let work = Self.work
        let setup = try sh(
            """
            set -e; rm -rf \(work); mkdir -p \(work)/els/boot-marker/post-root.d \(work)/els/boot-marker/install.d; cd \(work)
            \(repositoryRoot)/scripts/debootstrap-root minbase >/dev/null
            test -z "$(ls minbase/boot/vmlinuz-* 2>/dev/null)"   # no kernel in the image: the elements bring it
            umoci init --layout layout; umoci new --image layout:min
            umoci unpack --image layout:min bundle >/dev/null
            cp -a minbase/. bundle/rootfs/; umoci repack --image layout:min bundle; rm -rf bundle minbase
            printf '#!/bin/sh\\nset -eu\\nsh %s/Tests/tools/boot/install_marker.sh "${TARGET_ROOT:-$TMP_MOUNT_PATH}" >/dev/null\\n' '\(repositoryRoot)' \\
              > els/boot-marker/post-root.d/90-boot-marker
            chmod +x els/boot-marker/post-root.d/90-boot-marker
            printf '#!/bin/sh\\ntr -s " " < /proc/self/uid_map > /etc/stamp-sandbox-map\\n' > els/boot-marker/install.d/90-sandbox-map
            chmod +x els/boot-marker/install.d/90-sandbox-map
            """)
        try #require(setup.status == 0, "\(setup.output)")
        let build = try run([
            stampBinary, "build", "--from", "oci:\(work)/layout:min", "dpkg", "vm", "boot-marker",
            "--elements-path", work + "/els", "-p", "systemd-sysv,udev,e2fsprogs", "-o", work + "/node", "-t", "qcow2,tar",
        ])
        try #require(build.status == 0, "\(build.output.suffix(4000))")
        #expect(
            build.stdout.contains("Expanded element dependencies to: base oci-image dpkg vm boot-marker"),
            "\(build.stdout.prefix(3000))")
        // apt, dpkg and the maintainer scripts ran in the sandbox: uid 0 there is 0x7FFE0000 here.
        let map = try run(["tar", "-xOf", work + "/node.tar", "./etc/stamp-sandbox-map"])
        #expect(map.stdout == " 0 2147352576 65536\n", "\(map.output)")
        let summary = try String(contentsOfFile: work + "/node.d/image.json", encoding: .utf8)
        #expect(summary.contains("\"reference\" : \"oci:\(work)/layout:min\""), "\(summary)")
        let boot = try run([
            "bash", repositoryRoot + "/Tests/tools/boot/boot_test.sh", work + "/node.qcow2", "--format", "qcow2", "--timeout",
            "300",
        ])
        #expect(boot.status == 0, "\(boot.output.suffix(4000))")
        #expect(boot.stdout.contains("STAMP_BOOT_OK"), "\(boot.output.suffix(2000))")
    }
}
