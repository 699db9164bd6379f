import Foundation

/// The one line a failed command ends with, for any error.
///
/// stamp's own errors already describe themselves in one line that names the path or option
/// at fault. Foundation's do not: a `CocoaError` prints as
/// `Error Domain=NSCocoaErrorDomain Code=513 "You don’t have permission." UserInfo={…
/// NSFilePath=/nonexistent}`. This turns such an error into `/nonexistent: permission denied`
/// (the path, then the system's reason, lower-case), and folds any multi-line description
/// into one line, so both executables print exactly one line whatever reached them.
public enum ErrorLine {
    /// One line describing `error`.
    public static func describe(_ error: Error) -> String {
        let text: String
        if let cocoa = error as? CocoaError {
            let path = cocoa.filePath ?? cocoa.url?.path
            text = path.map { "\($0): \(reason(cocoa))" } ?? reason(cocoa)
        } else if let posix = error as? POSIXError {
            text = systemReason(posix.code.rawValue)
        } else {
            text = "\(error)"
        }
        return oneLine(text)
    }

    /// The system's reason for a Foundation error (`permission denied`, `read-only file
    /// system`), without the path; Foundation's own text when there is no POSIX error under it.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return systemReason(Int32(underlying.code))
        }
        if ns.domain == NSPOSIXErrorDomain { return systemReason(Int32(ns.code)) }
        if error is CocoaError {
            return lowercasedFirst(ns.localizedDescription.trimmingCharacters(in: CharacterSet(charactersIn: ". ")))
        }
        return oneLine("\(error)")
    }

    /// `strerror(code)`, lower-case first letter (`No such file or directory` → `no such …`).
    public static func systemReason(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return lowercasedFirst(String(cString: text))
    }

    /// Lines joined with "; ", surrounding space trimmed, blank lines dropped.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
