// swift-tools-version: 6.0
//
// stamp: a hypervisor-free disk image assembler.
//
// One module per stage of the data flow (see docs/architecture.md, the module map); dependencies
// point down only. The element engine (StampElements: elements, resolution, hooks, phases, the
// chroot) knows no output format, disk size or layout; DIB's compatibility layer (StampDIB: its
// command line and variables, block-device selection, mkfs options, the size and layout rules)
// sits on it, and only the pipeline (StampPipeline) knows every stage. C libraries enter through the `C*` system-library targets, and exactly one Swift
// module imports each of them and exposes Swift types (no `OpaquePointer` above it):
//   CZlib, CDeflate, CIsal, CLzma → StampCompression    CArchive → StampArchive    CBlkid → StampPipeline
//   CCurl → StampOCI (its HTTPTransfer)

import PackageDescription

let package = Package(
    name: "stamp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stamp", targets: ["stamp"]),
        .executable(name: "disk-image-create", targets: ["disk-image-create"]),
        .executable(name: "ova-compose", targets: ["ova-compose"]),
        .library(name: "StampBytes", targets: ["StampBytes"]),
        .library(name: "StampIO", targets: ["StampIO"]),
        .library(name: "StampTree", targets: ["StampTree"]),
        .library(name: "StampExt4", targets: ["StampExt4"]),
        .library(name: "StampFAT", targets: ["StampFAT"]),
        .library(name: "StampDisk", targets: ["StampDisk"]),
        .library(name: "StampBoot", targets: ["StampBoot"]),
        .library(name: "StampCompression", targets: ["StampCompression"]),
        .library(name: "StampArchive", targets: ["StampArchive"]),
        .library(name: "StampContainers", targets: ["StampContainers"]),
        .library(name: "StampPackaging", targets: ["StampPackaging"]),
        .library(name: "StampOCI", targets: ["StampOCI"]),
        .library(name: "StampElements", targets: ["StampElements"]),
        .library(name: "StampDIB", targets: ["StampDIB"]),
        .library(name: "StampPipeline", targets: ["StampPipeline"]),
        .library(name: "StampConfig", targets: ["StampConfig"]),
        // The parsers' fuzz targets as plain functions; Fuzz/Package.swift wraps them for libFuzzer.
        .library(name: "StampFuzzing", targets: ["StampFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // MARK: C libraries (system-library targets; one Swift module wraps each)
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CBlkid", pkgConfig: "blkid", providers: [.apt(["libblkid-dev"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Our own C: hardware CRC32C and the few syscalls Swift cannot name directly.
        .target(name: "CStampSupport", cSettings: [.unsafeFlags(["-O3"])]),

        // MARK: bytes and I/O
        .target(name: "StampBytes", dependencies: ["CStampSupport"]),
        .target(
            name: "StampIO",
            dependencies: ["StampBytes", "CStampSupport", .product(name: "SystemPackage", package: "swift-system")]),

        // MARK: compression
        .target(name: "StampCompression", dependencies: ["CZlib", "CDeflate", "CIsal", "CLzma", "StampBytes"]),

        // MARK: tar archives
        // The only importer of CArchive: libarchive's read, write and disk-write handles, one
        // owning class each (ArchiveReader, ArchiveWriter, ArchiveEntry, DiskWriter).
        .target(name: "StampArchive", dependencies: ["CArchive"]),

        // MARK: settings
        // The one settings table: every option of every command (type, default, checks, flags,
        // DIB flag and variable, conflicts, cache-key and secret marks), and the option reference.
        .target(name: "StampConfig", dependencies: ["StampBytes"]),

        // MARK: root tree, filesystems, layout
        .target(name: "StampTree", dependencies: ["StampIO"]),
        .target(name: "StampExt4", dependencies: ["StampTree", "StampIO", "StampBytes"]),
        .target(
            name: "StampFAT", dependencies: ["StampIO", "StampBytes", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "StampDisk", dependencies: ["StampIO", "StampBytes", "StampConfig", "Yams"]),
        // The boot loader step reads GRUB's files as data from the tree model and writes core.img
        // (LZMA, through StampCompression), grub.cfg and the ESP itself: it runs nothing.
        .target(name: "StampBoot", dependencies: ["StampTree", "StampIO", "StampBytes", "StampCompression"]),
        // Container images (OCI layout, docker archive, registry) as the source of a root tree.
        // Reads tar and applies layers through StampArchive. Registry traffic goes through
        // libcurl's easy interface (a CA of the registry's own can be trusted, which URLSession
        // on Linux cannot do); gzip layers are inflated with StampCompression's ISA-L decoder.
        .target(
            name: "StampOCI",
            dependencies: [
                "StampArchive", "StampTree", "StampBytes", "CCurl", "StampCompression",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        // MARK: containers and packaging
        .target(name: "StampContainers", dependencies: ["StampIO", "StampBytes", "StampCompression"]),
        .target(
            name: "StampPackaging",
            dependencies: [
                "StampContainers", "StampTree", "StampIO", "StampBytes", "StampArchive", "StampConfig", "Yams",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),

        // MARK: elements
        // Its shell programs are files in Shell/ (shellcheck reads them), embedded at build time
        // by the EmbedShell plugin: the static binary has no resource bundle.
        .target(
            name: "StampElements",
            dependencies: [
                "StampBytes", "StampIO", "CStampSupport", "StampConfig", "Yams", .product(name: "Logging", package: "swift-log"),
            ], exclude: ["Shell"], plugins: ["EmbedShell"]),
        .plugin(name: "EmbedShell", capability: .buildTool()),

        // DIB compatibility: disk-image-create's command line and environment, the build request,
        // block-device selection (StampDisk's parser), DIB's mkfs options, the size inputs and
        // the layout the elements imply. Between the element engine and the pipeline.
        .target(
            name: "StampDIB",
            dependencies: [
                "StampElements", "StampDisk", "StampConfig", .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: pipeline and executables
        .target(
            name: "StampPipeline",
            dependencies: [
                "StampTree", "StampExt4", "StampFAT", "StampDisk", "StampBoot", "StampContainers", "StampPackaging",
                "StampElements", "StampDIB", "StampOCI", "StampConfig", "CBlkid", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(
            name: "stamp",
            dependencies: [
                "StampPipeline", "StampExt4", "StampTree", "StampIO", "StampBytes", "StampDisk", "StampContainers",
                "StampPackaging", "StampBoot", "StampElements", "StampDIB", "StampOCI", "StampConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ], plugins: ["GitVersion"]),
        // MARK: fuzzing (plain functions; the libFuzzer executables live in Fuzz/)
        .target(
            name: "StampFuzzing",
            dependencies: [
                "StampContainers", "StampIO", "StampDisk", "StampElements", "StampDIB", "StampPipeline", "StampPackaging",
                "StampBoot",
            ]),
        .executableTarget(
            name: "disk-image-create",
            // DIB's own getopt surface (DIBCommandLine), not ArgumentParser: generate-manual
            // (scripts/install) makes pages for ArgumentParser's commands only.
            dependencies: [
                "StampPipeline", "StampElements", "StampDIB", "StampIO", "StampConfig",
                .product(name: "Logging", package: "swift-log"),
            ], plugins: ["GitVersion"]),
        // `git describe` into the executables at build time (StampVersion.number).
        .plugin(name: "GitVersion", capability: .buildTool()),
        // open-vmdk's ova-compose command line (the same as `stamp ova-compose`).
        .executableTarget(name: "ova-compose", dependencies: ["StampPipeline", "StampIO"]),

        // MARK: tests (one target per module)
        .target(name: "StampTestSupport", path: "Tests/StampTestSupport"),
        .testTarget(name: "StampBytesTests", dependencies: ["StampBytes"]),
        .testTarget(name: "StampIOTests", dependencies: ["StampIO", "StampTestSupport"]),
        .testTarget(name: "StampTreeTests", dependencies: ["StampTree", "StampTestSupport", "CStampSupport"]),
        .testTarget(name: "StampExt4Tests", dependencies: ["StampExt4", "StampTree", "StampTestSupport"]),
        .testTarget(name: "StampFATTests", dependencies: ["StampFAT", "StampTestSupport"]),
        .testTarget(name: "StampDiskTests", dependencies: ["StampDisk", "StampTestSupport"]),
        .testTarget(name: "StampBootTests", dependencies: ["StampBoot", "StampTree", "StampCompression", "StampTestSupport"]),
        .testTarget(name: "StampCompressionTests", dependencies: ["StampCompression", "StampTestSupport"]),
        .testTarget(name: "StampArchiveTests", dependencies: ["StampArchive", "StampTestSupport"]),
        .testTarget(name: "StampContainersTests", dependencies: ["StampContainers", "StampTestSupport"]),
        .testTarget(name: "StampPackagingTests", dependencies: ["StampPackaging", "StampTestSupport", "Yams"]),
        .testTarget(name: "StampOCITests", dependencies: ["StampOCI", "StampTree", "StampTestSupport"]),
        // The engine's tests validate plans as DIB does (StampDIB's block-device selection).
        .testTarget(
            name: "StampElementsTests", dependencies: ["StampElements", "StampDIB", "StampTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "StampDIBTests", dependencies: ["StampDIB", "StampElements", "StampConfig", "StampTestSupport"]),
        .testTarget(
            name: "StampPipelineTests",
            dependencies: ["StampPipeline", "StampElements", "StampDIB", "StampConfig", "StampTestSupport"]),
        .testTarget(name: "StampCLITests", dependencies: ["StampTestSupport", "StampConfig"], exclude: ["Fixtures"]),
        .testTarget(name: "StampConfigTests", dependencies: ["StampConfig", "StampTestSupport"]),
        .testTarget(name: "StampFuzzingTests", dependencies: ["StampFuzzing", "StampContainers"]),
    ]
)
