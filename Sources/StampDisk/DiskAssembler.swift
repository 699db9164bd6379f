import StampBytes
import StampIO

/// Boot code the BIOS boot path patches into a disk (the boot-loader module prepares it).
///
/// ```
///  sector 0:  [ bootstrap (0..<440) | signature + table (440..<510) | 55 AA ]
///              ▲ from `bootstrap`      ▲ always the partition table's own bytes
///  MBR disks: LBA 1 ..< first partition   ◄── `core` (GRUB core.img, already patched)
///  GPT disks: the BIOS boot partition     ◄── `core`
/// ```
///
/// GRUB's `boot.img` needs the LBA of `core.img`'s first sector at 0x5C and `core.img` needs its
/// blocklist patched; both depend on ``DiskLayout/embeddingArea``, which the caller reads from
/// the layout before building this value.
public struct BootCode {
    /// Up to 440 bytes for the start of sector 0 (a whole 512-byte `boot.img` may be passed:
    /// only its first 440 bytes are used, since bytes 440–511 belong to the partition table).
    public var bootstrap: [UInt8]?
    /// Content for the embedding area (post-MBR gap or BIOS boot partition), placed at its start.
    public var core: ImageProducer?

    public init(bootstrap: [UInt8]? = nil, core: ImageProducer? = nil) {
        self.bootstrap = bootstrap
        self.core = core
    }
}

/// Composes a whole disk: the partition table, each partition's content and the boot code,
/// emitted into one ``ImageSink`` in ascending offset order, then `finish(size:)`.
///
/// ```swift
/// let layout = try StandardLayout.efi.plan(rootSize: ext4.size, seed: seed)
/// let disk = DiskAssembler(layout: layout)
/// try disk.setContent(esp, forRole: .efiSystem)     // a FAT volume producer
/// try disk.setContent(ext4, forRole: .root)
/// disk.bootCode = BootCode(bootstrap: bootImg, core: coreImg)
/// try disk.write(to: sink)
/// ```
///
/// The stream is: table head (LBA 0–33 for GPT; the MBR), then for each piece by offset the
/// table's EBRs and the partitions' producers, then the GPT backup at the end. Regions nobody
/// writes are zero (holes in the sink).
public final class DiskAssembler {
    /// The plan being written.
    public let layout: DiskLayout
    /// Optional BIOS boot code.
    public var bootCode: BootCode?
    private var contents: [Int: ImageProducer] = [:]

    public init(layout: DiskLayout, bootCode: BootCode? = nil) {
        self.layout = layout
        self.bootCode = bootCode
    }

    /// Places `producer` at the start of partition `number`.
    /// - Throws: ``DiskLayout.Error/noSuchPartition(_:)`` or ``DiskLayout.Error/contentTooLarge(partition:contentBytes:partitionBytes:)``.
    public func setContent(_ producer: ImageProducer, forPartition number: Int) throws {
        guard let p = layout.partitions.first(where: { $0.number == number }) else {
            throw DiskLayout.Error.noSuchPartition("\(number)")
        }
        guard producer.size <= p.size else {
            throw DiskLayout.Error.contentTooLarge(partition: p.name, contentBytes: producer.size, partitionBytes: p.size)
        }
        contents[number] = producer
    }

    /// Places `producer` in the partition with this name.
    public func setContent(_ producer: ImageProducer, forPartitionNamed name: String) throws {
        guard let p = layout.partition(named: name) else { throw DiskLayout.Error.noSuchPartition(name) }
        try setContent(producer, forPartition: p.number)
    }

    /// Places `producer` in the first partition with this role.
    public func setContent(_ producer: ImageProducer, forRole role: DiskLayout.Partition.Role) throws {
        guard let p = layout.partition(role: role) else { throw DiskLayout.Error.noSuchPartition(role.rawValue) }
        try setContent(producer, forPartition: p.number)
    }

    /// One thing to emit: table bytes or a producer, at an offset.
    private enum Piece {
        case bytes([UInt8])
        case producer(ImageProducer)
    }

    /// Everything the disk is made of, sorted by offset, with names for error messages.
    private func pieces() throws -> [(offset: UInt64, size: UInt64, name: String, piece: Piece)] {
        var blocks = try layout.tableBlocks()
        if let bootstrap = bootCode?.bootstrap {
            guard layout.scheme != .none, !blocks.isEmpty, blocks[0].offset == 0 else { throw DiskLayout.Error.noEmbeddingArea }
            for i in 0..<min(bootstrap.count, MBR.bootCodeSize) { blocks[0].bytes[i] = bootstrap[i] }
        }
        var list: [(offset: UInt64, size: UInt64, name: String, piece: Piece)] = blocks.map {
            ($0.offset, UInt64($0.bytes.count), "partition table", .bytes($0.bytes))
        }
        for p in layout.partitions {
            if let content = contents[p.number] {
                list.append((p.offset, content.size, "partition \(p.name)", .producer(content)))
            }
        }
        if let core = bootCode?.core {
            guard let area = layout.embeddingArea else { throw DiskLayout.Error.noEmbeddingArea }
            let capacity = (area.upperBound - area.lowerBound) * DiskLayout.sectorSize
            guard core.size <= capacity else {
                throw DiskLayout.Error.bootCodeTooLarge(what: "core.img", bytes: core.size, capacity: capacity)
            }
            if let bios = layout.partition(role: .biosBoot), layout.scheme == .gpt, contents[bios.number] != nil {
                throw DiskLayout.Error.overlap(first: "partition \(bios.name)", second: "core.img", offset: bios.offset)
            }
            list.append((area.lowerBound * DiskLayout.sectorSize, core.size, "core.img", .producer(core)))
        }
        list.sort { $0.offset < $1.offset }
        for (a, b) in zip(list, list.dropFirst()) where a.offset + a.size > b.offset {
            throw DiskLayout.Error.overlap(first: a.name, second: b.name, offset: b.offset)
        }
        if let last = list.last, last.offset + last.size > layout.size {
            throw DiskLayout.Error.contentTooLarge(
                partition: last.name, contentBytes: last.offset + last.size, partitionBytes: layout.size)
        }
        return list
    }

    /// Checks the plan without writing anything: tables encode, content fits, nothing overlaps.
    public func validate() throws { _ = try pieces() }

    /// Emits the whole disk into `sink` front to back and finishes it at the layout's size.
    public func write(to sink: ImageSink) throws {
        for item in try pieces() {
            switch item.piece {
            case .bytes(let bytes):
                try bytes.withUnsafeBytes { try sink.write($0, at: item.offset) }
            case .producer(let producer):
                try producer.emit(into: sink, at: item.offset)
            }
        }
        try sink.finish(size: layout.size)
    }
}

extension DiskLayout {
    /// The sectors this layout's partition table occupies, ascending: the MBR and each EBR, or
    /// the GPT head (LBA 0–33) and tail (LBA N-33 … N-1); nothing for a bare filesystem.
    public func tableBlocks() throws -> [TableBlock] {
        switch scheme {
        case .none: return []
        case .mbr: return try MBR.blocks(for: self)
        case .gpt: return try GPT.blocks(for: self)
        }
    }
}

/// A producer over bytes already in memory (boot code, small test content).
public final class BytesProducer: ImageProducer {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var size: UInt64 { UInt64(bytes.count) }
    public func emit(into sink: ImageSink, at base: UInt64) throws {
        try bytes.withUnsafeBytes { try sink.write($0, at: base) }
    }
}
