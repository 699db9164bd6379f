import StampBytes

/// A prebuilt GRUB EFI image of the tree, read as data: Debian's and Ubuntu's
/// `grub-efi-amd64-bin` ship one (`/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi`), and
/// `grub-efi-amd64-signed` the same image signed for Secure Boot. stamp copies it to the ESP;
/// it never runs the tree's `grub-mkimage`.
///
/// ```
///  PE32+ file                          section "mods" (GRUB's module area)
///  +------+--------+----------------+   +------------------------+----------+---------+
///  | MZ   | PE\0\0 | section table  |   | "gmim" | pad | off | size (u64)  | objects |
///  | e_lfanew @0x3C| 40 B per section|   +------------------------+----------+---------+
///  +------+--------+----------------+     object: type (u32) | size (u32, with header) | data
///                                          type 3 = prefix, e.g. "/EFI/debian"
/// ```
///
/// The image's embedded config (in its memdisk) reads `$prefix/grub.cfg`; `$prefix` is the
/// prefix object on the device the image was loaded from, so the ESP gets a `grub.cfg` stub
/// in that directory (and in `EFI/BOOT`) that finds the root filesystem and hands over to
/// its `/boot/grub/grub.cfg`.
public enum GrubEFIImage {
    /// The prefix object of a GRUB PE image (`/EFI/debian`), or nil when it has none.
    public static func embeddedPrefix(_ image: [UInt8]) -> String? {
        image.withUnsafeBytes { raw -> String? in
            let r = FieldReader(raw)
            guard let pe = try? Int(r.le32(at: 0x3C)), (try? r.le32(at: pe)) == 0x0000_4550,
                let count = try? Int(r.le16(at: pe + 6)), let optional = try? Int(r.le16(at: pe + 20)), count <= 96
            else { return nil }
            let table = pe + 24 + optional
            for i in 0..<count {
                let at = table + 40 * i
                guard let name = try? r.bytes(at: at, count: 8), let size = try? Int(r.le32(at: at + 16)),
                    let offset = try? Int(r.le32(at: at + 20))
                else { return nil }
                guard name.prefix(4).elementsEqual(Array("mods".utf8)), size >= 24, offset <= raw.count,
                    size <= raw.count - offset
                else {
                    continue
                }
                let base = offset
                guard (try? r.le32(at: base)) == 0x676d_696d, let first = try? r.le64(at: base + 8),
                    let total = try? r.le64(at: base + 16),
                    total <= UInt64(size)
                else { return nil }
                var cursor = UInt64(first)
                var steps = 0
                while cursor + 8 <= total, steps < 4096 {
                    steps += 1
                    guard let type = try? r.le32(at: base + Int(cursor)), let length = try? r.le32(at: base + Int(cursor) + 4),
                        length >= 8, cursor + UInt64(length) <= total
                    else { return nil }
                    if type == 3, let bytes = try? r.bytes(at: base + Int(cursor) + 8, count: Int(length) - 8) {
                        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    cursor += UInt64(length)
                }
                return nil
            }
            return nil
        }
    }
}
