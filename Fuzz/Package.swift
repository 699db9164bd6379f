// swift-tools-version: 6.0
//
// libFuzzer executables, one per fuzz target of stamp's StampFuzzing library (the plain
// functions live in the main package so the normal build and tests compile and replay them).
// Kept in a separate package because every module here must be built with
// `-sanitize=fuzzer`, which the main build must not see. Build and run through
// Benchmarks/fuzz.sh:
//
//   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
//       -Xswiftc -sanitize=fuzzer,address
//
// Each executable's main.swift forwards libFuzzer's input to FuzzTarget.run and starts
// libFuzzer's driver (LLVMFuzzerRunDriver) from its top-level code.

import PackageDescription

func fuzzer(_ name: String) -> Target {
    .executableTarget(
        name: "fuzz-" + name,
        dependencies: ["CFuzzDriver", .product(name: "StampFuzzing", package: "stamp")],
        path: "Sources/" + name)
}

let package = Package(
    name: "stamp-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "stamp", path: "..")],
    targets: [
        // The declaration of libFuzzer's LLVMFuzzerRunDriver, for the executables' entry points.
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        fuzzer("qcow2"),
        fuzzer("vmdk"),
        fuzzer("vhd"),
        fuzzer("partition-table"),
        fuzzer("block-device"),
        fuzzer("package-installs"),
        fuzzer("element-deps"),
        fuzzer("dib-command-line"),
        fuzzer("ovf-config"),
        fuzzer("grub-files"),
    ]
)
