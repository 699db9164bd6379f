import StampBytes

/// Planning: cluster allocation and directory contents, done once before anything is emitted.
extension FATVolume {
    /// Attribute bits (`DIR_Attr`).
    enum Attribute {
        static let volumeLabel: UInt8 = 0x08
        static let directory: UInt8 = 0x10
        static let archive: UInt8 = 0x20
    }

    /// Allocates every directory and file, then encodes every directory.
    func plan(_ root: [FATEntry]) throws {
        let labelled = options.label != nil
        let rootEntries = FATVolume.entryCount(of: root, isRoot: true, labelled: labelled)
        if rootEntries > 65536 { throw Error.directoryTooLarge(path: "/", entries: rootEntries) }
        var rootCluster: UInt32 = 0
        if geometry.kind == .fat32 {
            rootCluster = try allocate(clusters(forBytes: UInt64(rootEntries) * 32), .directory([]))
        }
        try fill(directory: root, path: "", selfCluster: rootCluster, parentCluster: 0, isRoot: true, modified: 0)
    }

    /// Clusters needed for `bytes` (at least one, for directories).
    func clusters(forBytes bytes: UInt64) -> UInt32 {
        max(1, UInt32((bytes + UInt64(geometry.clusterBytes) - 1) / UInt64(geometry.clusterBytes)))
    }

    /// Hands out the next `count` clusters.
    func allocate(_ count: UInt32, _ content: Extent) throws -> UInt32 {
        let used = UInt64(nextCluster - 2) + UInt64(count)
        guard used <= UInt64(geometry.clusterCount) else {
            throw Error.full(neededClusters: used, availableClusters: UInt64(geometry.clusterCount))
        }
        let first = nextCluster
        extents.append((first, count, content))
        nextCluster += count
        return first
    }

    /// Allocates a directory's children, encodes its entries, then descends.
    private func fill(
        directory children: [FATEntry], path: String, selfCluster: UInt32, parentCluster: UInt32, isRoot: Bool,
        modified: Int64
    ) throws {
        // Names: validate, refuse case-insensitive duplicates, reserve exact 8.3 names first so
        // generated ~N names never collide with them.
        var seen: Set<String> = []
        var taken: Set<[UInt8]> = []
        var exact: [[UInt8]?] = []
        for child in children {
            let childPath = path + "/" + child.name
            if let reason = FATNames.problem(with: child.name) { throw Error.invalidName(path: childPath, reason: reason) }
            if !seen.insert(child.name.uppercased()).inserted { throw Error.duplicateName(path: childPath) }
            let short = FATNames.exactShortName(child.name)
            if let short { taken.insert(short) }
            exact.append(short)
        }
        var records: [(entry: FATEntry, short: [UInt8], long: Bool, first: UInt32)] = []
        for (child, short) in zip(children, exact) {
            let name = short ?? FATNames.generatedShortName(child.name, taken: taken)
            taken.insert(name)
            let childPath = path + "/" + child.name
            var first: UInt32 = 0
            switch child.content {
            case .directory(let grandchildren):
                let count = FATVolume.entryCount(of: grandchildren, isRoot: false, labelled: false)
                if count > 65536 { throw Error.directoryTooLarge(path: childPath, entries: count) }
                first = try allocate(clusters(forBytes: UInt64(count) * 32), .directory([]))
            case .bytes(let bytes):
                if !bytes.isEmpty { first = try allocate(clusters(forBytes: UInt64(bytes.count)), .bytes(bytes)) }
            case .file(let source, let size):
                if size > 0xFFFF_FFFF { throw Error.fileTooLarge(path: childPath, size: size) }
                if size > 0 { first = try allocate(clusters(forBytes: size), .file(path: source, size: size)) }
            case .source(let source, let size):
                if size > 0xFFFF_FFFF { throw Error.fileTooLarge(path: childPath, size: size) }
                if size > 0 { first = try allocate(clusters(forBytes: size), .source(source, size: size)) }
            }
            records.append((child, name, short == nil, first))
        }

        var bytes: [UInt8] = []
        if isRoot {
            if options.label != nil {
                bytes += entry(name: label, attributes: Attribute.volumeLabel, modified: 0, cluster: 0, size: 0)
            }
        } else {
            bytes += entry(
                name: FATNames.pad(Array(".".utf8), 11), attributes: Attribute.directory, modified: modified,
                cluster: selfCluster, size: 0)
            bytes += entry(
                name: FATNames.pad(Array("..".utf8), 11), attributes: Attribute.directory, modified: modified,
                cluster: parentCluster, size: 0)
        }
        for r in records {
            if r.long { bytes += FATNames.longNameEntries(r.entry.name, shortName: r.short).flatMap { $0 } }
            let isDirectory: Bool
            if case .directory = r.entry.content { isDirectory = true } else { isDirectory = false }
            bytes += entry(
                name: r.short, attributes: isDirectory ? Attribute.directory : Attribute.archive, modified: r.entry.modified,
                cluster: r.first, size: isDirectory ? 0 : UInt32(r.entry.byteCount))
        }
        if isRoot && geometry.kind == .fat16 {
            fixedRoot = bytes
        } else if let i = extents.firstIndex(where: { $0.first == selfCluster }) {
            extents[i].content = .directory(bytes)
        }

        for r in records {
            if case .directory(let grandchildren) = r.entry.content {
                try fill(
                    directory: grandchildren, path: path + "/" + r.entry.name, selfCluster: r.first,
                    parentCluster: isRoot ? 0 : selfCluster, isRoot: false, modified: r.entry.modified)
            }
        }
    }

    /// One 32-byte short directory entry.
    func entry(name: [UInt8], attributes: UInt8, modified: Int64, cluster: UInt32, size: UInt32) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: 32)
        let stamp = DOSTimestamp(unixSeconds: modified)
        e.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.bytes(name, at: 0)  // DIR_Name
            if name[0] == 0xE5 { w.u8(0x05, at: 0) }  // 0xE5 means "deleted"; 0x05 stands for it
            w.u8(attributes, at: 11)  // DIR_Attr
            if attributes != Attribute.volumeLabel {
                w.le16(stamp.time, at: 14)  // DIR_CrtTime
                w.le16(stamp.date, at: 16)  // DIR_CrtDate
                w.le16(stamp.date, at: 18)  // DIR_LstAccDate
            }
            w.le16(UInt16(cluster >> 16), at: 20)  // DIR_FstClusHI
            w.le16(stamp.time, at: 22)  // DIR_WrtTime
            w.le16(stamp.date, at: 24)  // DIR_WrtDate
            w.le16(UInt16(cluster & 0xFFFF), at: 26)  // DIR_FstClusLO
            w.le32(size, at: 28)  // DIR_FileSize
        }
        return e
    }
}
