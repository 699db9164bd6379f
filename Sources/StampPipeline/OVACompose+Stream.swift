import Foundation
import StampContainers
import StampExt4
import StampIO
import StampPackaging

#if canImport(Glibc)
    import Glibc
#endif

/// `-f ova`: every member written once, in place, in ova-compose's order.
///
/// ```
/// plan ──► OVAComposeTar (front reserved for the longest NAME.ovf + NAME.mf)
///   per References/File, in order:
///     as it is ─ the file's bytes copied into its member, hashed on the way
///     convert  ─ VMDKStreamWriter(embedded: the member) ◄─ the image's reader; the writer's
///                observer hashes the VMDK, its length and grains give ovf:size, populatedSize
/// ──► NAME.ovf (real sizes) ──► NAME.mf (the digests) ──► NAME.cert ──► front, tail, rename
/// ```
///
/// No disk is staged: the scratch directory holds at most NAME.ovf and NAME.mf for a
/// `--sign-script`.
extension OVACompose {
    func writeOVA(
        output: String, name: String, config: OVFConfig, files: [PlannedFile], disks: [String: OVFComposeEnvelope.Disk],
        imageFiles: [String: String], scratch: String
    ) throws {
        let generated = Self.timestamp()
        func descriptor(_ files: [PlannedFile], _ disks: [String: OVFComposeEnvelope.Disk]) -> [UInt8] {
            Array(
                OVFComposeEnvelope(
                    config: config, files: files.map(\.file), disks: disks, imageFiles: imageFiles, generated: generated
                ).text().utf8)
        }
        // The longest descriptor: each size not known yet at its bound. A streamOptimized VMDK
        // is at most its disk plus a sector per 64 KiB grain, tables and the 64 KiB header
        // (virtual / 32 + 16 MiB is ample); its populated bytes at most the disk.
        var longest = files
        var longestDisks = disks
        for (i, planned) in files.enumerated() {
            guard let virtual = planned.virtualSize else { continue }
            longest[i].file.size = virtual + virtual / 32 + (16 << 20)
            if let disk = planned.disk { longestDisks[disk]?.populatedSize = virtual }
        }
        let digest = options.checksum
        let placeholder = [UInt8](repeating: 0, count: OVAComposeArchive.digest([], digest).count)
        let names = ["\(name).ovf"] + files.map(\.file.href)
        let manifestLength = OVAComposeArchive.manifest(names.map { (name: $0, digest: placeholder) }, digest).utf8.count
        let tar = try OVAComposeTar(
            path: output, ovfName: "\(name).ovf", manifestName: "\(name).mf",
            maximumOVFLength: descriptor(longest, longestDisks).count, manifestLength: manifestLength,
            format: options.tarFormat, mtime: Self.memberTime())
        var finished = false
        defer { if !finished { tar.discard() } }
        var files = files
        var disks = disks
        var digests: [[UInt8]] = []
        for (index, planned) in files.enumerated() {
            let hash = OVAComposeArchive.Hasher(digest)
            let href = planned.file.href
            switch planned.source {
            case .existing(let path):
                let size = try tar.appendFile(name: href, path: path, hash: hash.update)
                guard size == planned.file.size else {
                    throw PackagingError.sizeChanged(path: path, expected: planned.file.size, actual: size)
                }
            case .convert(let reader, let from):
                if !options.quiet { log("converting \(from) into \(href)") }
                let vmdk = try streamDisk(into: tar, name: href, virtualSize: reader.virtualSize, hash: hash) {
                    try reader.replay(into: $0)
                }
                files[index].file.size = vmdk.bytesWritten
                if let disk = planned.disk { disks[disk]?.populatedSize = vmdk.allocatedBytes }
            case .filesystem(let image, let from):
                if !options.quiet { log("writing \(from) as ext4 into \(href)") }
                let vmdk = try streamDisk(into: tar, name: href, virtualSize: image.size, hash: hash) {
                    try image.emit(into: $0, at: 0)
                    try $0.finish(size: image.size)
                }
                files[index].file.size = vmdk.bytesWritten
                if let disk = planned.disk { disks[disk]?.populatedSize = vmdk.allocatedBytes }
            }
            digests.append(hash.finalize())
        }
        let ovf = descriptor(files, disks)
        let entries =
            [(name: "\(name).ovf", digest: OVAComposeArchive.digest(ovf, digest))]
            + zip(files, digests).map { (name: $0.file.href, digest: $1) }
        let manifest = Array(OVAComposeArchive.manifest(entries, digest).utf8)
        var trailer: [(name: String, bytes: [UInt8])] = []
        if options.signKey != nil || options.signScript != nil {
            if options.signScript != nil {
                try Self.writeFile("\(scratch)/\(name).ovf", ovf)
                try Self.writeFile("\(scratch)/\(name).mf", manifest)
            }
            if let cert = try signature(
                name: name, manifest: manifest, directory: scratch, ovfFile: "\(name).ovf", certFile: "\(name).cert")
            {
                trailer.append((name: "\(name).cert", bytes: cert))
            }
        }
        try tar.finish(ovf: ovf, manifest: manifest, trailer: trailer)
        finished = true
    }
}

extension OVACompose {
    /// Writes the streamOptimized VMDK `fill` makes into the next member of `tar`, hashed
    /// on the way; returns the finished writer (its length and allocated bytes).
    func streamDisk(
        into tar: OVAComposeTar, name: String, virtualSize: UInt64, hash: OVAComposeArchive.Hasher,
        _ fill: (VMDKStreamWriter) throws -> Void
    ) throws -> VMDKStreamWriter {
        let offset = try tar.beginMember(name: name)
        let vmdk = try VMDKStreamWriter(
            path: nil, virtualSize: virtualSize, options: ContainerOptions(), observer: hash.update,
            embedded: [EmbeddedOutput(writer: tar.writer, offset: offset)], extentName: name)
        try fill(vmdk)
        tar.endMember(size: vmdk.bytesWritten)
        return vmdk
    }

    /// The members' modification time: now, or SOURCE_DATE_EPOCH (a reproducible package).
    static func memberTime() -> UInt64 {
        ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { UInt64($0) } ?? UInt64(time(nil))
    }
}

extension OVACompose.PlannedFile {
    /// The disk size of a file stamp writes (nil for one used as it is, whose size is known).
    var virtualSize: UInt64? {
        switch source {
        case .existing: return nil
        case .convert(let reader, _): return reader.virtualSize
        case .filesystem(let image, _): return image.size
        }
    }
}
