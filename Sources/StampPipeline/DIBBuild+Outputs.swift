import Foundation
import StampElements
import StampIO

#if canImport(Glibc)
    import Glibc
#endif

/// What `disk-image-create` does around its outputs as DIB does: keeping an earlier image
/// under a dated name, and the image size report.
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

    /// `DIB_SHOW_IMAGE_USAGE` (any value but empty or `0`): DIB's image size report on the
    /// built tree, `du -a -c -x` sorted largest first with sizes in IEC units
    /// (`numfmt --to=iec-i --suffix=B --padding=7`). Without `DIB_SHOW_IMAGE_USAGE_FULL`
    /// (empty or `0`) only lines of 10 MiB and more are kept, DIB's filter: those naming
    /// `MiB`, `GiB`, `TiB` or `PiB`, less the one-decimal `MiB` sizes numfmt prints below
    /// 10 MiB. Returns nil when the report is not asked for.
    static func imageUsageReport(root: String, environment: [String: String]) throws -> [String]? {
        let show = environment["DIB_SHOW_IMAGE_USAGE"] ?? ""
        guard !show.isEmpty && show != "0" else { return nil }
        let full = !(environment["DIB_SHOW_IMAGE_USAGE_FULL"] ?? "").isEmpty && environment["DIB_SHOW_IMAGE_USAGE_FULL"] != "0"
        // The root is passed as an argument, never spliced into the script.
        let script =
            "set -o pipefail; du -a -c -x -- \"$1\" | sort -nr | numfmt --to=iec-i --padding=7 --suffix=B --field=1 --from-unit=1024"
        var command = Spawn.Command(Spawn.which("bash") ?? "/bin/bash", ["-c", script, "usage-report", root])
        command.stdout = .pipe
        command.stderr = .null
        let data: [UInt8]
        let termination: Spawn.Termination
        do {
            let child = try command.start()
            data = child.output()
            termination = child.wait()
        } catch {
            throw PackProblems(problems: ["image size report: \(ErrorLine.describe(error))"])
        }
        guard termination.succeeded else {
            throw PackProblems(problems: ["image size report: du | sort | numfmt failed (\(termination))"])
        }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        if !full {
            lines = lines.filter { line in
                ["MiB", "GiB", "TiB", "PiB"].contains { line.contains($0) }
                    && line.range(of: #"\..MiB"#, options: .regularExpression) == nil
            }
        }
        let title = full ? "Image size report" : "Image size report (files > 10MiB)"
        let rule = String(repeating: "=", count: title.count)
        return [rule, title, rule] + lines + ["", "===== end image size report =====", ""]
    }
}
