/// Why boot code could not be prepared or placed.
///
/// Every case names the file, offset or command at fault; messages are one line, lower-case,
/// without a trailing period, so the CLI can print `stamp: <message>`.
public enum BootError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `boot.img` is not exactly one 512-byte sector.
    case bootImageSize(path: String, size: Int)
    /// `boot.img` does not end with the `55 AA` boot signature.
    case bootImageSignature(path: String)
    /// `core.img` is shorter than its first (diskboot) sector.
    case coreImageTooSmall(path: String, size: Int)
    /// `core.img` needs `sectors` sectors but the region chosen for it holds only `capacity`.
    case coreImageDoesNotFit(path: String, sectors: UInt64, capacity: UInt64, region: String)
    /// The sector 0 handed in for patching is not 512 bytes.
    case sectorSize(what: String, size: Int)
    /// A placement that cannot hold anything (e.g. a post-MBR gap with the first partition at LBA 1).
    case invalidPlacement(String)
    /// The root tree lacks what boot preparation needs; each entry is one problem.
    case treeNotReady(tree: String, problems: [String])
    /// A bootloader option has a value stamp cannot use.
    case invalidOption(name: String, value: String, reason: String)
    /// A GRUB file of the tree (a module list, kernel.img, an EFI image) cannot be used.
    case invalidGrubFile(path: String, reason: String)
    /// A GRUB file the image needs is not in the tree.
    case missingGrubFile(path: String)
    /// A host-side file operation failed.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .bootImageSize(let path, let size):
            return "\(path): boot.img must be 512 bytes, found \(size)"
        case .bootImageSignature(let path):
            return "\(path): boot.img lacks the 55 aa signature at offset 510"
        case .coreImageTooSmall(let path, let size):
            return "\(path): core.img of \(size) bytes is shorter than one sector"
        case .coreImageDoesNotFit(let path, let sectors, let capacity, let region):
            return "\(path): core.img needs \(sectors) sectors but \(region) holds only \(capacity)"
        case .sectorSize(let what, let size):
            return "\(what): expected one 512-byte sector, found \(size) bytes"
        case .invalidPlacement(let reason):
            return "invalid core.img placement: \(reason)"
        case .treeNotReady(let tree, let problems):
            return "\(tree): not ready for a boot loader: " + problems.joined(separator: "; ")
        case .invalidOption(let name, let value, let reason):
            return "\(name)=\(value): \(reason)"
        case .invalidGrubFile(let path, let reason):
            return "\(path): \(reason)"
        case .missingGrubFile(let path):
            return "\(path): missing from the tree"
        case .io(let path, let operation, let errno):
            return "\(path): \(operation): errno \(errno)"
        }
    }
}
