import Foundation
import StampElements
import Testing

@testable import StampDIB

/// DIB's size inputs and their checks, and vm's implicit block-device element: DIB's rules,
/// kept out of the element engine.
@Suite struct DIBSizeAndLayoutTests {
    @Test func sizeVariablesAreCheckedAndRead() {
        #expect(DIBVariables.problems(["DIB_IMAGE_SIZE": "", "DIB_JOURNAL_SIZE": "64", "DIB_IMAGE_EXTRA_SIZE": "0.5"]).isEmpty)
        let problems = DIBVariables.problems(["DIB_IMAGE_SIZE": "big", "DIB_JOURNAL_SIZE": "2", "DIB_IMAGE_EXTRA_SIZE": "-1"])
        #expect(problems.count == 3, "\(problems)")
        #expect(
            problems.contains(
                .invalidVariable(name: "DIB_IMAGE_SIZE", value: "big", reason: "expected a number of GiB from 0 to 1048576")))
        let inputs = ImageSizeInputs(environment: ["DIB_IMAGE_SIZE": "2.5", "DIB_MKFS_OPTS": "-i 8192"], elements: [])
        #expect(inputs.imageSizeGiB == 2.5 && inputs.journalSizeMiB == 64 && inputs.mkfsOptions == "-i 8192")
        #expect(!inputs.addEFIMargin && inputs.extraSizeMiB == nil)
    }

    @Test func vmImpliesABlockDeviceElementByArchitecture() {
        #expect(
            ElementResolution.withBlockDevice(["debian-minimal", "vm"], arch: "amd64") == [
                "debian-minimal", "vm", "block-device-mbr",
            ])
        #expect(ElementResolution.withBlockDevice(["vm"], arch: "arm64") == ["vm", "block-device-efi"])
        #expect(ElementResolution.withBlockDevice(["vm", "block-device-gpt"], arch: "amd64") == ["vm", "block-device-gpt"])
        #expect(ElementResolution.withBlockDevice(["debian-minimal"], arch: "amd64") == ["debian-minimal"])
        // The engine adds only base.
        #expect(ElementResolution.withBase(["vm"], skipBase: false) == ["base", "vm"])
    }
}
