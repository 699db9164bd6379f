import StampBytes
import StampIO
import SystemPackage

/// Emission: boot sectors, both FATs, the FAT16 root, then the clusters, strictly ascending.
extension FATVolume {
    /// End-of-chain marker.
    var endOfChain: UInt32 { geometry.kind == .fat32 ? 0x0FFF_FFFF : 0xFFFF }
    /// FAT[0]: the media byte with all other bits set.
    var mediaEntry: UInt32 { geometry.kind == .fat32 ? 0x0FFF_FFF8 : 0xFFF8 }

    /// Writes the volume into `sink` at `base`, in ascending order.
    public func emit(into sink: ImageSink, at base: UInt64) throws {
        let sector = UInt64(FATGeometry.sectorSize)
        let boot = bootSector()
        try write(boot, sink, base)
        if geometry.kind == .fat32 {
            let info = fsInfo()
            try write(info, sink, base + sector)
            try write(boot, sink, base + 6 * sector)  // BPB_BkBootSec
            try write(info, sink, base + 7 * sector)
        }
        for index: UInt32 in 0..<2 { try emitFAT(sink, base + UInt64(geometry.fatStart(index)) * sector) }
        if geometry.kind == .fat16 { try write(fixedRoot, sink, base + UInt64(geometry.rootStart) * sector) }
        for extent in extents {
            let offset = base + geometry.offset(ofCluster: extent.first)
            switch extent.content {
            case .directory(let bytes), .bytes(let bytes):
                try write(bytes, sink, offset)
            case .file(let path, let size):
                // O_NOFOLLOW: a symlink is never read through
                let fd = try withPath(path, "open") { try Syscalls.openSource(path) }
                defer { try? fd.close() }
                try sink.copy(SourceRange(descriptor: fd, path: path, offset: 0, length: size), at: offset)
            case .source(let source, let size):
                let fd = try source.open()
                defer { try? fd.close() }
                let actual = try withPath(source.path, "stat") { try Syscalls.size(of: fd) }
                if actual != size {
                    throw actual < size
                        ? IOError.sourceShrank(path: source.path, expected: size, actual: actual)
                        : IOError.sourceGrew(path: source.path, expected: size, actual: actual)
                }
                try sink.copy(SourceRange(descriptor: fd, path: source.path, offset: 0, length: size), at: offset)
            }
        }
    }

    private func write(_ bytes: [UInt8], _ sink: ImageSink, _ offset: UInt64) throws {
        guard !bytes.isEmpty else { return }
        try bytes.withUnsafeBytes { try sink.write($0, at: offset) }
    }

    /// One FAT, built 16 Ki entries at a time; entries past the last used cluster are free (zero)
    /// and never written.
    private func emitFAT(_ sink: ImageSink, _ offset: UInt64) throws {
        let width = geometry.kind == .fat32 ? 4 : 2
        let perChunk = 16384
        var chunk = [UInt8](repeating: 0, count: perChunk * width)
        var extentIndex = 0
        var cluster: UInt32 = 0
        while cluster < nextCluster {
            let count = min(perChunk, Int(nextCluster - cluster))
            let chunkStart = cluster
            chunk.withUnsafeMutableBytes { raw in
                let w = FieldWriter(raw)
                for i in 0..<count {
                    let c = chunkStart + UInt32(i)
                    var value: UInt32
                    if c == 0 {
                        value = mediaEntry
                    } else if c == 1 {
                        value = endOfChain
                    } else {
                        while extents[extentIndex].first + extents[extentIndex].count <= c { extentIndex += 1 }
                        let e = extents[extentIndex]
                        value = c == e.first + e.count - 1 ? endOfChain : c + 1
                    }
                    if width == 4 { w.le32(value, at: i * 4) } else { w.le16(UInt16(value), at: i * 2) }
                }
            }
            try chunk.withUnsafeBytes { raw in
                try sink.write(
                    UnsafeRawBufferPointer(rebasing: raw[0..<(count * width)]), at: offset + UInt64(chunkStart) * UInt64(width))
            }
            cluster += UInt32(count)
        }
    }

    /// The boot sector (and, on FAT32, its backup at sector 6).
    func bootSector() -> [UInt8] {
        var s = [UInt8](repeating: 0, count: FATGeometry.sectorSize)
        let g = geometry
        let fat32 = g.kind == .fat32
        s.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            // BS_jmpBoot: jump over the BPB to a "cli; hlt; jmp $-1" stub.
            let stub = fat32 ? 0x5A : 0x3E
            w.bytes([0xEB, UInt8(stub - 2), 0x90], at: 0)
            w.bytes([0xFA, 0xF4, 0xEB, 0xFD], at: stub)
            w.string("STAMP", at: 3, width: 8, pad: 0x20)  // BS_OEMName
            w.le16(UInt16(FATGeometry.sectorSize), at: 11)  // BPB_BytsPerSec
            w.u8(UInt8(g.sectorsPerCluster), at: 13)  // BPB_SecPerClus
            w.le16(UInt16(g.reservedSectors), at: 14)  // BPB_RsvdSecCnt
            w.u8(2, at: 16)  // BPB_NumFATs
            w.le16(UInt16(g.rootEntries), at: 17)  // BPB_RootEntCnt
            if !fat32 && g.totalSectors < 0x10000 {
                w.le16(UInt16(g.totalSectors), at: 19)  // BPB_TotSec16
            } else {
                w.le32(g.totalSectors, at: 32)  // BPB_TotSec32
            }
            w.u8(0xF8, at: 21)  // BPB_Media: fixed disk
            if !fat32 { w.le16(UInt16(g.fatSectors), at: 22) }  // BPB_FATSz16
            w.le16(63, at: 24)  // BPB_SecPerTrk
            w.le16(255, at: 26)  // BPB_NumHeads
            w.le32(options.hiddenSectors, at: 28)  // BPB_HiddSec
            // The extended boot record moves by 28 bytes on FAT32.
            let ext: Int
            if fat32 {
                w.le32(g.fatSectors, at: 36)  // BPB_FATSz32
                w.le16(0, at: 40)  // BPB_ExtFlags: FATs mirrored
                w.le16(0, at: 42)  // BPB_FSVer 0.0
                w.le32(2, at: 44)  // BPB_RootClus
                w.le16(1, at: 48)  // BPB_FSInfo
                w.le16(6, at: 50)  // BPB_BkBootSec
                ext = 64
            } else {
                ext = 36
            }
            w.u8(0x80, at: ext)  // BS_DrvNum
            w.u8(0x29, at: ext + 2)  // BS_BootSig: the next three fields are present
            w.le32(options.volumeID, at: ext + 3)  // BS_VolID
            w.bytes(label, at: ext + 7)  // BS_VolLab
            w.string(fat32 ? "FAT32" : "FAT16", at: ext + 18, width: 8, pad: 0x20)  // BS_FilSysType
            w.u8(0x55, at: 510)
            w.u8(0xAA, at: 511)
        }
        return s
    }

    /// The FAT32 FSInfo sector.
    func fsInfo() -> [UInt8] {
        var s = [UInt8](repeating: 0, count: FATGeometry.sectorSize)
        s.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.le32(0x4161_5252, at: 0)  // FSI_LeadSig "RRaA"
            w.le32(0x6141_7272, at: 484)  // FSI_StrucSig "rrAa"
            w.le32(geometry.clusterCount - usedClusters, at: 488)  // FSI_Free_Count
            let next = nextCluster <= geometry.clusterCount + 1 ? nextCluster : 0xFFFF_FFFF
            w.le32(next, at: 492)  // FSI_Nxt_Free
            w.le32(0xAA55_0000, at: 508)  // FSI_TrailSig
        }
        return s
    }
}
