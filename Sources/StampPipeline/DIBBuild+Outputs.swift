import Foundation
import StampElements
import StampIO

#if canImport(Glibc)
    import Glibc
#endif

/// What `disk-image-create` does around its outputs as DIB does: keeping an earlier image
/// under a dated name (the image size report is DIBBuild+Usage.swift).
extension DIBBuild {
    /// DIB keeps an image already at an output's path: `NAME.FMT` becomes
    /// `NAME-YYYY.MM.DD-HH.MM.SS.FMT` (local time, as `date +%Y.%m.%d-%H.%M.%S` prints it),
    /// its `.md5` and `.sha256` beside it renamed the same way, unless `OVERWRITE_OLD_IMAGE`
    /// is a non-zero number. The tarball (`-t tar`) is overwritten, as DIB writes it apart
    /// from the other images.
    /// - Returns: the `(old, new)` paths renamed.
    @discardableResult
    static func keepOldImages(
        _ paths: [String], environment: [String: String], now: Date = Date(), log: (String) -> Void
    ) throws -> [(String, String)] {
        let overwrite = environment["OVERWRITE_OLD_IMAGE"] ?? ""
        guard overwrite.isEmpty || Int(overwrite.trimmingCharacters(in: .whitespaces)) == 0 else { return [] }
        var renamed: [(String, String)] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            let old = datedName(path, now: now)
            log("Old image found. Renaming it to \(old)")
            for suffix in ["", ".md5", ".sha256"] {
                guard suffix.isEmpty || access(path + suffix, F_OK) == 0 else { continue }
                guard rename(path + suffix, old + suffix) == 0 else {
                    throw PackProblems(problems: [
                        "\(path + suffix): cannot keep the old image as \(old + suffix): \(String(cString: strerror(errno)).lowercased())"
                    ])
                }
                renamed.append((path + suffix, old + suffix))
            }
        }
        return renamed
    }

    /// `a/b/img.qcow2` → `a/b/img-2026.12.07-16.50.02.qcow2` (the last dot of the whole path
    /// splits it, as DIB's `${1%.*}` and `${1##*.}` do).
    static func datedName(_ path: String, now: Date) -> String {
        var seconds = time_t(now.timeIntervalSince1970)
        var t = tm()
        localtime_r(&seconds, &t)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y.%m.%d-%H.%M.%S", &t)
        let date = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let dot = path.lastIndex(of: ".") else { return path + "-" + date + "." + path }
        return String(path[..<dot]) + "-" + date + String(path[dot...])
    }
}
