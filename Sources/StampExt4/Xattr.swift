import StampBytes
import StampTree

/// Extended attributes in ext4's on-disk form.
///
/// Names are stored as a prefix index plus suffix (`user.foo` → index 1, `foo`). Entries
/// are sorted by (index, name length, name), as the kernel's lookup expects in blocks.
/// Small sets live in the inode's spare 96 bytes; what does not fit goes to one xattr
/// block, shared (with a reference count) between inodes whose block contents are equal.
///
/// ```
///  in the inode (offset 160)              xattr block
/// ┌──────────┬─────────┬───┬─────┬──────┐  ┌────────┬─────────┬───┬─────┬──────────┐
/// │EA020000  │ entries │ 0 │ ... │values│  │header  │ entries │ 0 │ ... │  values  │
/// │magic     │ ──────► │   │     │◄──── │  │32 bytes│ ──────► │   │     │ ◄─────── │
/// └──────────┴─────────┴───┴─────┴──────┘  └────────┴─────────┴───┴─────┴──────────┘
/// ```
/// POSIX ACLs are converted from the VFS format (version 2, 8 bytes per entry) to ext4's
/// compact format (version 1, 4-byte entries for the owner/group/mask/other tags).
struct XattrEntry: Equatable {
    var index: UInt8
    var suffix: [UInt8]
    var value: [UInt8]

    /// Entry length in the entry table: 16-byte header + name, 4-byte aligned.
    var entryLength: Int { (16 + suffix.count + 3) & ~3 }
    /// Value length, 4-byte aligned.
    var valueLength: Int { (value.count + 3) & ~3 }

    init(_ attribute: ExtendedAttribute) {
        let name = attribute.name
        let prefixes: [(String, UInt8)] = [
            ("system.posix_acl_access", 2), ("system.posix_acl_default", 3), ("user.", 1), ("trusted.", 4),
            ("security.", 6), ("system.", 7),
        ]
        index = 0
        suffix = name
        value = attribute.value
        for (prefix, i) in prefixes {
            let p = Array(prefix.utf8)
            if name.starts(with: p) && ((i != 2 && i != 3) || name.count == p.count) {
                index = i
                suffix = Array(name[p.count...])
                break
            }
        }
        if index == 2 || index == 3 { value = XattrEntry.aclToExt4(value) }
    }

    init(index: UInt8, suffix: [UInt8], value: [UInt8]) {
        self.index = index
        self.suffix = suffix
        self.value = value
    }

    static func precedes(_ a: XattrEntry, _ b: XattrEntry) -> Bool {
        if a.index != b.index { return a.index < b.index }
        if a.suffix.count != b.suffix.count { return a.suffix.count < b.suffix.count }
        return a.suffix.lexicographicallyPrecedes(b.suffix)
    }

    /// `ext2fs_ext_attr_hash_entry`: name bytes (as signed chars) then value words.
    var hash: UInt32 {
        var h: UInt32 = 0
        for c in suffix {
            h = (h << 5) ^ (h >> 27) ^ UInt32(bitPattern: Int32(Int8(bitPattern: c)))
        }
        if !value.isEmpty {
            var padded = value
            padded.append(contentsOf: repeatElement(0, count: valueLength - value.count))
            var i = 0
            while i < padded.count {
                let w = UInt32(padded[i]) | UInt32(padded[i + 1]) << 8 | UInt32(padded[i + 2]) << 16 | UInt32(padded[i + 3]) << 24
                h = (h << 16) ^ (h >> 16) ^ w
                i += 4
            }
        }
        return h
    }

    /// VFS ACL (version 2) → ext4 ACL (version 1). Malformed input is kept as is.
    static func aclToExt4(_ v: [UInt8]) -> [UInt8] {
        guard v.count >= 4, (v.count - 4) % 8 == 0, v[0] == 2, v[1] == 0, v[2] == 0, v[3] == 0 else { return v }
        var out: [UInt8] = [1, 0, 0, 0]
        var i = 4
        while i < v.count {
            let tag = UInt16(v[i]) | UInt16(v[i + 1]) << 8
            out.append(contentsOf: v[i..<(i + 4)])  // e_tag, e_perm
            if tag == 0x02 || tag == 0x08 { out.append(contentsOf: v[(i + 4)..<(i + 8)]) }  // USER, GROUP: e_id
            i += 8
        }
        return out
    }
}

/// An inode's attributes split between the inode body and a block.
struct XattrPlacement {
    static let inodeRegionStart = 128 + Ext4.extraInodeSize  // 160: magic
    static let inodeSpace = Ext4.inodeSize - inodeRegionStart - 4  // 92 bytes after the magic
    static let blockHeader = 32

    var inInode: [XattrEntry] = []
    var inBlock: [XattrEntry] = []

    /// Sorts and splits `attributes`: entries go into the inode while they fit, the rest to
    /// the block. Throws when the block would overflow.
    init(_ attributes: [ExtendedAttribute], path: @autoclosure () -> String) throws {
        var entries = attributes.map(XattrEntry.init)
        entries.sort(by: XattrEntry.precedes)
        var used = 4  // terminator
        var spilled = false
        for e in entries {
            let need = e.entryLength + e.valueLength
            if !spilled && used + need <= XattrPlacement.inodeSpace {
                inInode.append(e)
                used += need
            } else {
                spilled = true
                inBlock.append(e)
            }
        }
        let blockNeed = XattrPlacement.blockHeader + 4 + inBlock.reduce(0) { $0 + $1.entryLength + $1.valueLength }
        if blockNeed > Ext4.blockSize { throw Ext4Error.xattrsTooLarge(path: path(), bytes: blockNeed) }
    }

    /// Writes the in-inode attributes into a 256-byte inode (no-op when empty).
    func writeInInode(_ inode: FieldWriter) {
        guard !inInode.isEmpty else { return }
        let base = XattrPlacement.inodeRegionStart
        inode.le32(0xEA02_0000, at: base)
        XattrPlacement.writeEntries(inInode, into: inode, entriesAt: base + 4, valueBase: base + 4, regionEnd: Ext4.inodeSize)
    }

    /// The block's content without the checksum; equal sets give equal bytes (used as the
    /// key for sharing blocks). `refcount` is patched in by the emitter.
    func blockBytes() -> [UInt8] {
        var block = [UInt8](repeating: 0, count: Ext4.blockSize)
        block.withUnsafeMutableBytes { raw in
            let w = FieldWriter(raw)
            w.le32(0xEA02_0000, at: 0)
            w.le32(1, at: 4)  // h_refcount, patched later
            w.le32(1, at: 8)  // h_blocks
            XattrPlacement.writeEntries(
                inBlock, into: w, entriesAt: XattrPlacement.blockHeader, valueBase: 0, regionEnd: Ext4.blockSize)
            var h: UInt32 = 0
            for e in inBlock { h = (h << 16) ^ (h >> 16) ^ e.hash }
            w.le32(h, at: 12)
        }
        return block
    }

    /// Entry table from `entriesAt` upward, values from `regionEnd` downward; value offsets
    /// are relative to `valueBase`.
    private static func writeEntries(_ entries: [XattrEntry], into w: FieldWriter, entriesAt: Int, valueBase: Int, regionEnd: Int)
    {
        var entry = entriesAt
        var valueEnd = regionEnd
        for e in entries {
            valueEnd -= e.valueLength
            w.u8(UInt8(e.suffix.count), at: entry)
            w.u8(e.index, at: entry + 1)
            w.le16(e.value.isEmpty ? 0 : UInt16(valueEnd - valueBase), at: entry + 2)
            w.le32(0, at: entry + 4)  // e_value_inum
            w.le32(UInt32(e.value.count), at: entry + 8)
            w.le32(e.hash, at: entry + 12)
            w.bytes(e.suffix, at: entry + 16)
            w.bytes(e.value, at: valueEnd)
            entry += e.entryLength
        }
        w.le32(0, at: entry)
    }

    /// Sets `h_refcount` and the block checksum (`crc32c(seed, le64 block, block)`).
    static func finishBlock(_ w: FieldWriter, refcount: UInt32, blockNumber: UInt64, seed: UInt32) {
        w.le32(refcount, at: 4)
        w.le32(0, at: 16)
        let csum = crc32c(crc32c(seed, le64: blockNumber), UnsafeRawBufferPointer(w.bytes))
        w.le32(csum, at: 16)
    }
}
