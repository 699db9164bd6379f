import StampBytes

/// The jbd2 journal superblock (big-endian, `journal_superblock_t`), for an empty, clean
/// internal journal. The rest of the journal is zero and is never written (a hole).
///
/// ```
///  0 magic C03B3998  4 blocktype 4 (v2)  8 sequence  12 blocksize  16 maxlen  20 first
/// 24 sequence  28 start (0 = clean)  32 errno  36 feature compat/incompat/ro_compat
/// 48 uuid[16]  64 nr_users  …
/// ```
enum Journal {
    static func writeSuperblock(into w: FieldWriter, blocks: UInt64, uuid: Identifier) {
        w.be32(0xC03B_3998, at: 0)
        w.be32(4, at: 4)  // JBD2_SUPERBLOCK_V2
        w.be32(UInt32(Ext4.blockSize), at: 12)
        w.be32(UInt32(blocks), at: 16)
        w.be32(1, at: 20)  // first log block
        w.be32(1, at: 24)  // first expected commit sequence
        w.bytes(uuid.bytes, at: 48)
        w.be32(1, at: 64)  // nr_users
    }
}
