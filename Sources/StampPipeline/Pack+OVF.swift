import StampContainers
import StampElements
import StampExt4
import StampIO
import StampPackaging
import StampTree

/// An OVA described by an ova-compose config (`--ovf-config`): which members the package
/// holds, in archive order, and where each one's bytes come from.
///
/// ```
/// NAME.ovf  NAME.mf  [NAME.cert]  NAME-disk1.vmdk   ← the disk packed from the tree
///                                 NAME-disk2.vmdk … ← hard disks with disk_image/raw_image
///                                                      (raw, qcow2, VMDK, VHD; converted),
///                                                      or directory (an ext4 of that tree)
///                                 IMAGE.iso …       ← cd_drive/floppy images, copied
/// ```
///
/// Disks and files are numbered (`fileN`, `vmdiskN`, from 1) in that order unless the config
/// gives `file_id`/`disk_id`; empty disks (`disk_capacity`) have no file. Every disk's capacity
/// is written in its own `units`, rounded up. The descriptor is ``OVFComposeEnvelope``'s, the
/// one OVF writer, for the config as `OVFConfig.packed(firmware:)` completes it.
struct OVAPackagePlan {
    enum Content {
        case treeDisk
        case image(path: String, reader: any DiskImageReader)
        case filesystem(path: String, image: Ext4Image)
        case file(path: String)
    }

    struct Member {
        var name: String
        var fileID: String
        var content: Content
    }

    var members: [Member] = []
    var disks: [String: OVFComposeEnvelope.Disk] = [:]
    var imageFiles: [String: String] = [:]
    let config: OVFConfig

    /// Plans the package and opens every input image (so that a bad one fails before the
    /// slow work starts).
    /// - Parameter ext4: the ext4 settings for a `directory` disk with this label.
    init(config: OVFConfig, ovaName: String, treeDiskSize: UInt64, ext4: (String) -> Ext4Options = { _ in Ext4Options() }) throws
    {
        self.config = config
        var fileNumber = 0
        var diskNumber = 0
        func nextFileID(_ given: String?) -> String {
            fileNumber += 1
            return given ?? "file\(fileNumber)"
        }
        guard let tree = config.disks.first(where: { $0.source == .tree }) else {
            throw PackProblems(problems: [
                "the OVF config has no hard_disk for the packed tree (a hard_disk without disk_image, raw_image or disk_capacity)"
            ])
        }
        // The streamed disk is the first member whatever its place in hardware.
        var ordered = [tree.item] + config.hardware.filter { $0.id != tree.item.id }
        ordered = ordered.filter { item in
            switch item.kind {
            case .hardDisk, .cdDrive, .floppy: return true
            default: return false
            }
        }
        for item in ordered {
            switch item.kind {
            case .hardDisk(_, let source, let units, let diskID, let fileID, let sector):
                diskNumber += 1
                let id = diskID ?? "vmdisk\(diskNumber)"
                // A disk with a file: a VMDK of 512-byte sectors unless the config says otherwise.
                func disk(_ file: String, bytes: UInt64) -> OVFComposeEnvelope.Disk {
                    .init(
                        diskID: id, fileID: file, capacity: OVFComposeEnvelope.Disk.capacity(bytes: bytes, units: units),
                        units: units, populatedSize: nil, sectorSize: sector ?? 512)
                }
                switch source {
                case .tree:
                    let file = nextFileID(fileID)
                    members.append(Member(name: "\(ovaName)-disk\(diskNumber).vmdk", fileID: file, content: .treeDisk))
                    disks[item.id] = disk(file, bytes: treeDiskSize)
                case .image(let path):
                    let reader: any DiskImageReader
                    do {
                        reader = try ImageDetector.open(path: path)
                    } catch {
                        throw PackProblems(problems: ["hardware.\(item.id): disk image \(ErrorLine.reason(error))"])
                    }
                    let file = nextFileID(fileID)
                    members.append(
                        Member(
                            name: "\(ovaName)-disk\(diskNumber).vmdk", fileID: file, content: .image(path: path, reader: reader)))
                    disks[item.id] = disk(file, bytes: reader.virtualSize)
                case .directory(let path):
                    let image: Ext4Image
                    do {
                        let tree = try TreeScanner().scan(path)
                        image = try Ext4Image(tree: tree, options: ext4(String(item.id.prefix(16))))
                    } catch {
                        throw PackProblems(problems: ["hardware.\(item.id): directory \(path): \(ErrorLine.reason(error))"])
                    }
                    let file = nextFileID(fileID)
                    members.append(
                        Member(
                            name: "\(ovaName)-disk\(diskNumber).vmdk", fileID: file,
                            content: .filesystem(path: path, image: image)))
                    disks[item.id] = disk(file, bytes: image.size)
                case .empty(let capacity):
                    let factor = OVFComposeEnvelope.unitFactors[units] ?? 1
                    let (bytes, overflow) = capacity.multipliedReportingOverflow(by: factor)
                    guard !overflow, bytes <= 1 << 56 else {  // 64 PiB, VMDK's own limit is far below
                        throw PackProblems(problems: [
                            "hardware.\(item.id).disk_capacity: \(capacity) \(units) is larger than any disk"
                        ])
                    }
                    disks[item.id] = .init(
                        diskID: id, fileID: nil, capacity: "\(capacity)", units: units, populatedSize: nil, sectorSize: nil)
                }
            case .cdDrive(_, let image?, _), .floppy(let image?, _):
                var st = stat()
                guard stat(image, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw PackProblems(problems: ["hardware.\(item.id).image: \(image): not a readable file"])
                }
                let file = nextFileID(nil)
                let name = String(image.split(separator: "/").last ?? "image")
                members.append(Member(name: name, fileID: file, content: .file(path: image)))
                imageFiles[item.id] = file
            default: break
            }
        }
    }

    /// The descriptor for the members' sizes (in ``members`` order).
    func descriptor(sizes: [UInt64]) -> String {
        let files = zip(members, sizes).map { OVFComposeEnvelope.File(id: $0.fileID, href: $0.name, size: $1) }
        return OVFComposeEnvelope(config: config, files: files, disks: disks, imageFiles: imageFiles).text()
    }
}

extension Packer {
    /// Writes the members after the streamed disk into `ova` and completes it.
    func finishPackage(_ ova: OVAStream, plan: OVAPackagePlan?, firstSize: UInt64, firstSHA256: [UInt8]) throws {
        guard let plan, plan.members.count > 1 else {
            try ova.finish(vmdkSize: firstSize, vmdkSHA256: firstSHA256)
            return
        }
        ova.endMember(size: firstSize, sha256: firstSHA256)
        for member in plan.members.dropFirst() {
            let offset = ova.beginMember()
            let observer = HashingObserver(md5: false)
            switch member.content {
            case .treeDisk: preconditionFailure("the tree disk is the first member")
            case .image(let path, let reader):
                log("converting \(path) into \(member.name)")
                let vmdk = try VMDKStreamWriter(
                    path: nil, virtualSize: reader.virtualSize, options: containerOptions(), observer: observer.observer,
                    embedded: [EmbeddedOutput(writer: ova.writer, offset: offset)], extentName: member.name)
                try reader.replay(into: vmdk)
                ova.endMember(size: vmdk.bytesWritten, sha256: observer.finalize().sha256)
            case .filesystem(let path, let image):
                log("writing \(path) as ext4 into \(member.name)")
                let vmdk = try VMDKStreamWriter(
                    path: nil, virtualSize: image.size, options: containerOptions(), observer: observer.observer,
                    embedded: [EmbeddedOutput(writer: ova.writer, offset: offset)], extentName: member.name)
                try image.emit(into: vmdk, at: 0)
                try vmdk.finish(size: image.size)
                ova.endMember(size: vmdk.bytesWritten, sha256: observer.finalize().sha256)
            case .file(let path):
                // Copied byte for byte (a raw reader gives its ranges, holes as zeros).
                let input = try RawReader(path: path)
                let buffer = IOBuffer(size: 4 << 20)
                let zeros = [UInt8](repeating: 0, count: 1 << 16)
                try input.forEachExtent { extent in
                    switch extent {
                    case .zero(let at, let length):
                        var done: UInt64 = 0
                        while done < length {
                            let n = Int(min(length - done, UInt64(zeros.count)))
                            zeros.withUnsafeBytes { observer.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                            done += UInt64(n)
                        }
                        if at + length == input.virtualSize { ova.writer.skip(offset + at + length - ova.writer.end) }
                    case .data(let at, let bytes):
                        observer.update(bytes)
                        try ova.writer.write(bytes, at: offset + at)
                    case .file(let range, let at):
                        try range.forEachChunk(buffer: buffer.bytes) { chunk, within in
                            observer.update(chunk)
                            try ova.writer.write(chunk, at: offset + at + within)
                        }
                    }
                }
                ova.endMember(size: input.virtualSize, sha256: observer.finalize().sha256)
            }
        }
        try ova.finish()
    }
}

#if canImport(Glibc)
    import Glibc
#endif
