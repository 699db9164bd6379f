import Crypto

#if canImport(Glibc)
    import Glibc
#endif

/// A content digest, `sha256:<64 lower-case hex digits>`: the only algorithm images use in
/// practice and the only one accepted (anything else is refused rather than trusted).
public struct Digest: Sendable, Hashable, CustomStringConvertible {
    /// The 64 hex digits.
    public let hex: String

    public init(parsing text: String) throws {
        guard text.hasPrefix("sha256:") else {
            throw OCIError.unsupported(what: text, reason: "digest algorithm (only sha256 is accepted)")
        }
        let digits = text.dropFirst(7)
        guard digits.count == 64, digits.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw OCIError.malformed(what: text, reason: "a sha256 digest is 64 lower-case hex digits")
        }
        hex = String(digits)
    }

    init(hex: String) { self.hex = hex }

    public var description: String { "sha256:" + hex }

    /// The digest of `bytes`.
    public static func of(_ bytes: some Sequence<UInt8>) -> Digest {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        return Digest(hex: hexString(hasher.finalize()))
    }

    /// Hashes the file at `path` (1 MiB reads) and returns its digest and size.
    /// - Throws: ``OCIError/system(path:operation:message:)`` when it cannot be read.
    public static func ofFile(at path: String) throws -> (digest: Digest, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIError.system(path: path, operation: "open", message: errnoText()) }
        defer { close(fd) }
        var hasher = SHA256()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIError.system(path: path, operation: "read", message: errnoText())
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        return (Digest(hex: hexString(hasher.finalize())), total)
    }

    /// Checks that the file at `path` is exactly the blob `descriptor` names.
    /// - Throws: ``OCIError/sizeMismatch(what:expected:actual:)`` or
    ///   ``OCIError/digestMismatch(what:expected:actual:)``, naming `what`.
    public static func verify(file path: String, against descriptor: Descriptor, what: String) throws {
        let (digest, size) = try ofFile(at: path)
        if size != descriptor.size { throw OCIError.sizeMismatch(what: what, expected: descriptor.size, actual: size) }
        if digest != descriptor.digest {
            throw OCIError.digestMismatch(what: what, expected: descriptor.digest.description, actual: digest.description)
        }
    }
}

func hexString(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in digest {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// `strerror(errno)`, lower-cased at the start.
func errnoText(_ code: Int32 = errno) -> String {
    let text = String(cString: strerror(code))
    return text.prefix(1).lowercased() + text.dropFirst()
}
