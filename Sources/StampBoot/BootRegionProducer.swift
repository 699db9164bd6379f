import StampIO

/// A small region of boot code (core.img, or a patched sector 0) as an ``ImageProducer``, so
/// the disk assembler can place it in the one ascending stream like any other producer.
///
/// ```swift
/// let (mbr, core, lba) = try artifacts.biosSectors(sector0: table.sector0, placement: placement)
/// producers.append((offset: 0, BootRegionProducer(mbr)))
/// producers.append((offset: lba * 512, BootRegionProducer(core)))
/// ```
public final class BootRegionProducer: ImageProducer {
    /// The bytes emitted, unchanged.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var size: UInt64 { UInt64(bytes.count) }

    public func emit(into sink: ImageSink, at base: UInt64) throws {
        try bytes.withUnsafeBytes { try sink.write($0, at: base) }
    }
}
