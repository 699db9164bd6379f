import ArgumentParser
import Foundation
import StampPipeline
import StampConfig

/// `stamp images [list|prune]`: the cache of stamped container images (``ImageCache``).
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or prune the cache of stamped container images (stamp pack IMAGE_REF --stamped-cache DIR).",
        discussion: """
            Examples:
              stamp images --stamped-cache /var/cache/stamp-images
              stamp images prune --unused-days 14
              stamp images prune            (everything)
            """)

    @Argument(help: "list (the default) or prune.")
    var action: String = "list"

    @Option(name: .setting(.stampedCache, .images), help: .setting(.stampedCache, .images)) var stampedCache: String?
    @Option(name: .setting(.unusedDays, .images), help: .setting(.unusedDays, .images)) var unusedDays: String?

    var rawSettings: RawSettings {
        var raw = RawSettings(.images)
        raw[.stampedCache] = stampedCache
        raw[.unusedDays] = unusedDays
        return raw
    }

    func validate() throws {
        if action != "list" && action != "prune" { throw ValidationError("unknown action '\(action)' (use list or prune)") }
        _ = try rawSettings.resolved()
        if unusedDays != nil && action != "prune" { throw ValidationError("--unused-days applies to prune") }
    }

    func run() throws {
        let values = try rawSettings.resolved()
        let unusedDays = values.integer(.unusedDays)
        let cache = ImageCache(directory: values.text(.stampedCache) ?? ImageCache.defaultDirectory)
        let formatter = ISO8601DateFormatter()
        switch action {
        case "prune":
            let cutoff = unusedDays.map { Date().addingTimeInterval(-Double($0) * 86400) }
            let removed = try cache.prune(unusedSince: cutoff)
            let bytes = removed.reduce(UInt64(0)) { $0 + $1.bytes }
            print("pruned \(removed.count) entries (\(bytes) bytes) from \(cache.directory)")
        default:
            let entries = cache.list()
            for e in entries {
                print(
                    "\(e.key.prefix(16))  \(e.manifestDigest.prefix(19))  \(e.outputs.joined(separator: ",").padding(toLength: 10, withPad: " ", startingAt: 0))  \(String(format: "%10d", e.bytes))  \(formatter.string(from: e.created))  \(e.reference)"
                )
            }
            print("\(entries.count) entries in \(cache.directory)")
        }
    }
}
