import Foundation
import StampDIB
import StampElements

/// `package-installs.yaml` / `.json` (the same YAML reader takes both) and the `pkg-map`
/// JSON, both read from the input. Each is parsed for two architectures and install types so
/// the `arch` / `not-arch` / `installtype` filters take both branches.
public func fuzzPackageInstalls(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    for (arch, installType) in [("amd64", "package"), ("arm64", "source")] {
        do {
            let entries = try PackageInstalls.parse(text, element: "fuzz", arch: arch, installType: installType)
            for entry in entries { _ = entry.when.joined(separator: ";") }
        } catch {
            _ = "\(error)"
        }
    }
    do {
        _ = try PackageInstalls.flattenPkgMap(Data(data))
    } catch {
        _ = "\(error)"
    }
}

/// `element-deps` and `element-provides` files, read from real element directories by
/// ``ElementIndex`` and expanded by ``ElementResolution`` (DIB's dependency walk: provides,
/// conflicts, unknown names, cycles).
///
/// Input layout: sections separated by NUL bytes. The first section is the requested
/// elements, one per line. Every further section is one element: its first line is the
/// element's name, then its `element-deps` text, then optionally a line `--` followed by
/// its `element-provides` text. Names that cannot be directory names are skipped.
public func fuzzElementDeps(_ data: UnsafeRawBufferPointer) {
    let sections = data.split(separator: 0, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    guard let first = sections.first else { return }
    let requested = first.split(whereSeparator: \.isNewline).map(String.init)
    do {
        try Scratch.withDirectory { root in
            let fm = FileManager.default
            for section in sections.dropFirst().prefix(64) {
                let lines = section.split(separator: "\n", omittingEmptySubsequences: false)
                guard let name = lines.first.map(String.init), isDirectoryName(name) else { continue }
                let dir = root.appendingPathComponent(name)
                guard (try? fm.createDirectory(at: dir, withIntermediateDirectories: false)) != nil else { continue }
                let body = lines.dropFirst()
                let split = body.firstIndex(of: "--") ?? body.endIndex
                try body[..<split].joined(separator: "\n")
                    .write(to: dir.appendingPathComponent("element-deps"), atomically: false, encoding: .utf8)
                if split < body.endIndex {
                    try body[body.index(after: split)...].joined(separator: "\n")
                        .write(to: dir.appendingPathComponent("element-provides"), atomically: false, encoding: .utf8)
                }
            }
            let index = try ElementIndex(elementsPath: root.path, builtinDirectory: nil)
            for skipBase in [false, true] {
                let names = ElementResolution.implicitElements(requested, skipBase: skipBase, arch: "amd64")
                do {
                    let resolution = try ElementResolution(requested: names, index: index, requireOperatingSystem: skipBase)
                    _ = resolution.imageElement
                    _ = resolution.imageElementYAML
                } catch {
                    _ = "\(error)"
                }
            }
        }
    } catch {
        _ = "\(error)"
    }
}

/// Whether `name` can be one directory entry (not empty, `.`/`..`, no `/`, not too long).
private func isDirectoryName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && name.utf8.count <= 200
}

/// `disk-image-create`'s command line: the input is the arguments, separated by NUL bytes.
/// After parsing, everything the build derives from the request is computed (exported
/// variables, the element plan, output names, qemu-img options, implicit elements).
public func fuzzDIBCommandLine(_ data: UnsafeRawBufferPointer) {
    let arguments = data.split(separator: 0, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    let environment = ["HOME": "/root", "PATH": "/usr/bin:/bin", "DIB_DEBUG_TRACE": "0"]
    do {
        switch try DIBCommandLine.parse(arguments, environment: environment) {
        case .help, .version:
            break
        case .build(let request):
            _ = request.exportedVariables
            _ = request.plan
            _ = request.qcow2Version
            _ = request.vmdkSubformat
            _ = request.ignoredQemuImgOptions
            _ = request.checksumAlgorithms
            _ = request.manifestDirectory
            for format in request.formats { _ = request.outputPath(for: format) }
            _ = ElementResolution.implicitElements(request.elements, skipBase: request.skipBase, arch: request.arch ?? "amd64")
        }
    } catch {
        _ = "\(error)"
    }
}
