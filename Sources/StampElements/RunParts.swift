import Foundation

/// dib-run-parts: which scripts of a phase directory run, and in which order.
///
/// DIB's rules (diskimage-builder's dib-run-parts):
/// - only regular files (symbolic links to files count) that are executable;
/// - the name must match `^[0-9A-Za-z_-]+$` (`RUN_PARTS_REGEX` overrides it), so
///   `10-foo.sh` is silently skipped;
/// - order is `LANG=C sort -n`: by the leading number, numerically, ties byte-wise;
/// - before the first script, `<phase>.d/../environment.d/*` is sourced (names
///   `[0-9A-Za-z_.-]+`, same order); any non-zero exit ends the build.
///
/// The Swift functions here describe the rules for plans and tests; the same rules are
/// implemented by ``runnerScript``, the POSIX shell program stamp puts at the root of the
/// hooks tree (`tmp/in_target.d/dib-run-parts` inside the chroot), which is what actually
/// runs the scripts. A test checks that both agree.
public enum RunParts {
    /// Whether a script name passes DIB's default name filter.
    public static func isRunnableName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "0"..."9", "A"..."Z", "a"..."z", "_", "-": return true
                default: return false
                }
            }
    }

    /// Whether an `environment.d` file name is sourced.
    public static func isEnvironmentName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "0"..."9", "A"..."Z", "a"..."z", "_", "-", ".": return true
                default: return false
                }
            }
    }

    /// `LC_ALL=C sort -n`: leading (optionally negative) decimal number first, lines without
    /// one count as 0; equal numbers fall back to a byte-wise comparison of the whole name.
    public static func order(_ names: [String]) -> [String] {
        names.sorted { lhs, rhs in
            let (a, b) = (leadingNumber(lhs), leadingNumber(rhs))
            if a != b { return a < b }
            return Array(lhs.utf8).lexicographicallyPrecedes(Array(rhs.utf8))
        }
    }

    static func leadingNumber(_ name: String) -> Double {
        var text = Substring(name)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        var sign = 1.0
        if text.first == "-" {
            sign = -1
            text = text.dropFirst()
        }
        let digits = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        return sign * (Double(digits) ?? Double(digits.split(separator: ".").first ?? "") ?? 0)
    }

    /// The scripts of `directory` that dib-run-parts will run, in order.
    public static func scripts(in directory: URL) -> [String] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        return order(
            names.filter { name in
                let path = directory.appendingPathComponent(name).path
                var isDirectory: ObjCBool = false
                return isRunnableName(name) && fm.fileExists(atPath: path, isDirectory: &isDirectory)
                    && !isDirectory.boolValue && fm.isExecutableFile(atPath: path)
            })
    }

    /// The marker every runner line for the engine starts with; element output never needs it.
    static let marker = "@@stamp@@"

    /// The runner: `dib-run-parts <phase directory>`.
    ///
    /// POSIX sh, so it also runs in a busybox chroot; re-executes itself under bash when
    /// bash exists, because upstream `environment.d` files use bash syntax. For each script it
    /// prints `@@stamp@@ start <phase> <name>` and `@@stamp@@ end <phase> <name> <status>`;
    /// the engine turns those into the log lines and the per-script timing table.
    public static let runnerScript = EmbeddedShell.dibRunParts
}
