// swift-tools-version: 6.0
//
// Compression benchmark: zlib vs libdeflate levels on grains of a real disk image, single
// thread and through stamp's ParallelCompressor. Separate package (depends on stamp by path)
// so that `swift build` of stamp never builds it. See README.md.

import PackageDescription

let package = Package(
    name: "compression-bench",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "stamp", path: "../..")],
    targets: [
        .executableTarget(
            name: "compression-bench",
            dependencies: [
                .product(name: "StampCompression", package: "stamp"),
                .product(name: "StampContainers", package: "stamp"),
            ])
    ]
)
