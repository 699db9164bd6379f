import StampBytes

/// qcow2 (QEMU copy-on-write, version 2 and 3): the header and table encodings shared by
/// ``Qcow2Writer`` and ``Qcow2Reader``. All integers are big-endian; clusters are 64 KiB.
///
/// Layout stamp writes (data streamed first, metadata appended, header patched last):
/// ```
///  cluster 0      header (v3: 104 bytes, v2: 72), then zeros = end of header extensions
///  cluster 1…     data clusters in guest order; compressed clusters packed back to back
///                 (a stored cluster after compressed ones starts on a cluster boundary)
///  …              L2 tables (one cluster each, 8192 × u64), ascending guest order
///  …              L1 table (u64 per L2; ceil(size / 512 MiB) entries, cluster padded)
///  …              refcount table (u64 per refcount block)
///  …              refcount blocks (32768 × u16; every used cluster has refcount ≥ 1)
/// ```
/// L1/L2 entry: bits 9–55 host offset, bit 63 COPIED (refcount is exactly 1).
/// Compressed L2 entry: bit 62 set, bits 0–53 host byte offset, bits 54–61 the number of
/// 512-byte sectors after the first that the compressed data touches; raw deflate with a
/// 4 KiB window, as qemu writes it.
enum Qcow2 {
    static let magic: UInt32 = 0x5146_49FB  // "QFI\xfb"
    static let clusterBits: UInt32 = 16
    static let clusterSize = 1 << 16
    static let copied: UInt64 = 1 << 63
    static let compressedFlag: UInt64 = 1 << 62
    static let zeroFlag: UInt64 = 1  // v3: reads as zeros
    static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let refcountOrder: UInt32 = 4  // 16-bit refcounts

    /// The header fields stamp writes and reads (the spec's names in comments).
    struct Header: Equatable {
        var version: UInt32  // version: 2 or 3
        var clusterBits: UInt32 = Qcow2.clusterBits  // cluster_bits
        var size: UInt64  // size (virtual, bytes)
        var l1Size: UInt32  // l1_size (entries)
        var l1TableOffset: UInt64  // l1_table_offset
        var refcountTableOffset: UInt64  // refcount_table_offset
        var refcountTableClusters: UInt32  // refcount_table_clusters
        var backingFileOffset: UInt64 = 0  // backing_file_offset
        var cryptMethod: UInt32 = 0  // crypt_method
        var nbSnapshots: UInt32 = 0  // nb_snapshots
        var incompatibleFeatures: UInt64 = 0  // incompatible_features (v3)
        var refcountOrder: UInt32 = Qcow2.refcountOrder  // refcount_order (v3)
        var headerLength: UInt32  // header_length (v3)

        /// 72 bytes for version 2, `headerLength` (104) for version 3.
        var encodedSize: Int { version == 2 ? 72 : Int(headerLength) }

        func encode(into w: FieldWriter) {
            w.fill(0, at: 0, count: encodedSize)
            w.be32(magic, at: 0)
            w.be32(version, at: 4)
            w.be64(backingFileOffset, at: 8)
            w.be32(0, at: 16)  // backing_file_size
            w.be32(clusterBits, at: 20)
            w.be64(size, at: 24)
            w.be32(cryptMethod, at: 32)
            w.be32(l1Size, at: 36)
            w.be64(l1TableOffset, at: 40)
            w.be64(refcountTableOffset, at: 48)
            w.be32(refcountTableClusters, at: 56)
            w.be32(nbSnapshots, at: 60)
            w.be64(0, at: 64)  // snapshots_offset
            guard version >= 3 else { return }
            w.be64(incompatibleFeatures, at: 72)
            w.be64(0, at: 80)  // compatible_features
            w.be64(0, at: 88)  // autoclear_features
            w.be32(refcountOrder, at: 96)
            w.be32(headerLength, at: 100)
        }

        init(
            version: UInt32, size: UInt64, l1Size: UInt32, l1TableOffset: UInt64, refcountTableOffset: UInt64,
            refcountTableClusters: UInt32
        ) {
            self.version = version
            self.size = size
            self.l1Size = l1Size
            self.l1TableOffset = l1TableOffset
            self.refcountTableOffset = refcountTableOffset
            self.refcountTableClusters = refcountTableClusters
            self.headerLength = version >= 3 ? 104 : 72
        }

        init(decoding r: FieldReader, path: String) throws {
            do {
                guard try r.be32(at: 0) == magic else { throw ContainerError.badMagic(path: path, offset: 0, format: "qcow2") }
                version = try r.be32(at: 4)
                guard version == 2 || version == 3 else {
                    throw ContainerError.unsupported(path: path, feature: "qcow2 version \(version)")
                }
                backingFileOffset = try r.be64(at: 8)
                clusterBits = try r.be32(at: 20)
                size = try r.be64(at: 24)
                cryptMethod = try r.be32(at: 32)
                l1Size = try r.be32(at: 36)
                l1TableOffset = try r.be64(at: 40)
                refcountTableOffset = try r.be64(at: 48)
                refcountTableClusters = try r.be32(at: 56)
                nbSnapshots = try r.be32(at: 60)
                if version >= 3 {
                    incompatibleFeatures = try r.be64(at: 72)
                    refcountOrder = try r.be32(at: 96)
                    headerLength = try r.be32(at: 100)
                } else {
                    headerLength = 72
                }
            } catch is FieldError {
                throw ContainerError.truncated(path: path, offset: 0, needed: 104, fileSize: UInt64(r.bytes.count))
            }
        }
    }

    /// The L1 entries needed for `size` bytes with 64 KiB clusters (one per 512 MiB).
    static func l1Entries(size: UInt64) -> UInt64 {
        size.dividedRoundingUp(by: UInt64(clusterSize) * UInt64(clusterSize / 8))
    }
}
