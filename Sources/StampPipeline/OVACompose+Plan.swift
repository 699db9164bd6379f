import Foundation
import StampContainers
import StampElements
import StampExt4
import StampIO
import StampPackaging
import StampTree

/// The files and disks of an ova-compose config, and the signature.
extension OVACompose {
    /// Every `References/File` and `DiskSection/Disk`, numbered as ova-compose numbers them;
    /// every disk image is opened (and refused here, before anything is written, when it is
    /// not one stamp reads or it points at other files).
    func plan(_ config: OVFConfig) throws -> ([PlannedFile], [String: OVFComposeEnvelope.Disk], [String: String]) {
        var files: [PlannedFile] = []
        var disks: [String: OVFComposeEnvelope.Disk] = [:]
        var imageFiles: [String: String] = [:]
        var fileNumber = 0
        var diskNumber = 0
        func nextFile(_ given: String?) -> String {
            if let given { return given }
            defer { fileNumber += 1 }
            return "file\(fileNumber)"
        }
        for item in config.hardware {
            switch item.kind {
            case .cdDrive(_, let image?, _), .floppy(let image?, _):
                var st = stat()
                guard stat(image, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw Problem(description: "hardware.\(item.id).image: \(image): not a readable file")
                }
                let id = nextFile(item.imageFileID)
                imageFiles[item.id] = id
                files.append(
                    PlannedFile(
                        file: .init(id: id, href: OVFComposeEnvelope.fileName(image), size: UInt64(st.st_size)),
                        source: .existing(path: image), disk: nil))
            case .hardDisk(_, let source, let units, let diskID, let fileID, let sector):
                let id = diskID ?? "vmdisk\(diskNumber)"
                if diskID == nil { diskNumber += 1 }
                let factor = OVFComposeEnvelope.unitFactors[units] ?? 1
                switch source {
                case .tree: break  // refused by loadConfig
                case .empty(let capacity):
                    disks[item.id] = .init(
                        diskID: id, fileID: nil, capacity: "\(capacity)", units: "byte * 2^20", populatedSize: nil,
                        sectorSize: nil)
                case .image(let path):
                    let reader: any DiskImageReader
                    do {
                        reader = try ImageDetector.open(path: path)
                    } catch {
                        throw Problem(description: "hardware.\(item.id): \(ErrorLine.describe(error))")
                    }
                    let href = item.diskFileName ?? OVFComposeEnvelope.fileName(path) + ".vmdk"
                    let file = nextFile(fileID)
                    var disk = OVFComposeEnvelope.Disk(
                        diskID: id, fileID: file, capacity: "\(reader.virtualSize / factor)", units: units, populatedSize: nil,
                        sectorSize: sector ?? 512)
                    let asItIs = (reader as? VMDKReader).flatMap { $0.variant == "streamOptimized" ? $0 : nil }
                    if let vmdk = asItIs, item.diskFileName == OVFComposeEnvelope.fileName(path) {
                        // What ova-compose does with any disk_image: the file goes in as it is;
                        // stamp reads every grain first, so that a damaged one is refused.
                        do {
                            try vmdk.forEachExtent { _ in }
                            disk.populatedSize = try vmdk.allocatedBytes()
                        } catch {
                            throw Problem(description: "hardware.\(item.id): \(ErrorLine.describe(error))")
                        }
                        let given = vmdk.descriptor.flatMap { VMDKDescriptor.value(of: "ddb.logicalSectorSize", in: $0) }
                        if let given, let n = Int(given) {
                            if let sector, sector != n {
                                throw Problem(
                                    description:
                                        "hardware.\(item.id).sector_size: \(sector), but \(path) says ddb.logicalSectorSize \(n)")
                            }
                            disk.sectorSize = n
                        }
                        var st = stat()
                        _ = stat(path, &st)
                        files.append(
                            PlannedFile(
                                file: .init(id: file, href: href, size: UInt64(st.st_size)), source: .existing(path: path),
                                disk: item.id))
                    } else {
                        files.append(
                            PlannedFile(
                                file: .init(id: file, href: href, size: 0), source: .convert(reader: reader, from: path),
                                disk: item.id))
                    }
                    disks[item.id] = disk
                case .directory(let path):
                    let image: Ext4Image
                    do {
                        image = try Ext4Image(tree: try TreeScanner().scan(path), options: Ext4Options())
                    } catch {
                        throw Problem(description: "hardware.\(item.id).directory: \(path): \(ErrorLine.reason(error))")
                    }
                    let file = nextFile(fileID)
                    disks[item.id] = .init(
                        diskID: id, fileID: file, capacity: "\(image.size / factor)", units: units, populatedSize: nil,
                        sectorSize: sector ?? 512)
                    files.append(
                        PlannedFile(
                            file: .init(id: file, href: item.id + ".vmdk", size: 0),
                            source: .filesystem(image: image, from: path), disk: item.id))
                }
            default: break
            }
        }
        return (files, disks, imageFiles)
    }

    /// Writes every disk that needs converting into `directory` (-f ovf, -f dir) and returns
    /// each file's path, in ``plan(_:)``'s order.
    func convertDisks(
        _ files: inout [PlannedFile], _ disks: inout [String: OVFComposeEnvelope.Disk], into directory: String
    ) throws -> [String] {
        var paths: [String] = []
        var written = Set<String>()
        let inputs = files.compactMap { planned -> String? in
            switch planned.source {
            case .existing(let path), .convert(_, let path): return path
            case .filesystem: return nil
            }
        }
        for (index, planned) in files.enumerated() {
            let destination: String
            switch planned.source {
            case .existing(let path):
                paths.append(path)
                continue
            case .convert, .filesystem:
                destination = "\(directory)/\(planned.file.href)"
            }
            guard written.insert(destination).inserted else {
                throw Problem(description: "\(destination): two converted disks would be written under this name")
            }
            for input in inputs where Self.sameFile(input, destination) {
                throw Problem(
                    description:
                        "\(destination): converting \(input) would replace it (write -f ova, or the .ovf into another directory)")
            }
            let options = ContainerOptions()
            switch planned.source {
            case .convert(let reader, let from):
                if !self.options.quiet { log("converting \(from) into \(planned.file.href)") }
                let vmdk = try VMDKStreamWriter(
                    path: destination, virtualSize: reader.virtualSize, options: options, extentName: planned.file.href)
                try reader.replay(into: vmdk)
            case .filesystem(let image, let from):
                if !self.options.quiet { log("writing \(from) as ext4 into \(planned.file.href)") }
                let vmdk = try VMDKStreamWriter(
                    path: destination, virtualSize: image.size, options: options, extentName: planned.file.href)
                try image.emit(into: vmdk, at: 0)
                try vmdk.finish(size: image.size)
            case .existing: break
            }
            var st = stat()
            guard stat(destination, &st) == 0 else { throw Problem(description: "\(destination): not written") }
            files[index].file.size = UInt64(st.st_size)
            if let disk = planned.disk { disks[disk]?.populatedSize = try VMDKReader(path: destination).allocatedBytes() }
            paths.append(destination)
        }
        return paths
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat()
        var sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// The `.cert` member's bytes, or nil without --sign or --sign-script. A script runs in
    /// `directory` (where NAME.ovf and NAME.mf are) and must write `certFile` there.
    func signature(name: String, manifest: [UInt8], directory: String, ovfFile: String, certFile: String) throws -> [UInt8]? {
        let algorithm = options.signAlgorithm ?? options.checksum
        if let script = options.signScript {
            let key = options.signKey.map(Self.absolute) ?? "None"
            var command = ""
            var rest = Substring(script)
            let fields = [
                "ovf_file": ovfFile, "mf_file": "\(name).mf", "sign_alg": algorithm.rawValue, "cert_file": certFile,
                "keyfile": key,
            ]
            while let c = rest.first {
                if rest.hasPrefix("{{") || rest.hasPrefix("}}") {
                    command.append(c)
                    rest = rest.dropFirst(2)
                } else if c == "{", let close = rest.firstIndex(of: "}"),
                    let value = fields[String(rest[rest.index(after: rest.startIndex)..<close])]
                {
                    command += value
                    rest = rest[rest.index(after: close)...]
                } else {
                    command.append(c)
                    rest = rest.dropFirst()
                }
            }
            // ova-compose runs it with a shell, in the output's directory, with our stdio.
            var script = Spawn.Command("/bin/sh", ["-c", command], directory: directory)
            script.stdin = .inherit
            let termination = try script.start().wait()
            guard termination.succeeded else {
                throw Problem(description: "--sign-script: the command exited with status \(termination.status)")
            }
            let path = certFile.hasPrefix("/") ? certFile : "\(directory)/\(certFile)"
            guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
                throw Problem(description: "--sign-script: the command wrote no \(certFile)")
            }
            return Array(data)
        }
        guard let keyPath = options.signKey else { return nil }
        guard let data = FileManager.default.contents(atPath: keyPath), let pem = String(data: data, encoding: .utf8) else {
            throw Problem(description: "\(keyPath): cannot read the key file")
        }
        do {
            let signer = try OVASigner(keyPEM: pem, algorithm: OVASigner.Algorithm(rawValue: algorithm.rawValue) ?? .sha256)
            return Array(try signer.certificateText(manifestName: "\(name).mf", manifest: manifest).utf8)
        } catch {
            throw Problem(description: "\(keyPath): \(error)")
        }
    }
}
