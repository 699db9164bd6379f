import ArgumentParser
import Foundation
import StampPipeline

/// `stamp images [list|prune]`: the cache of stamped container images (``ImageCache``).
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or prune the cache of stamped container images (stamp pack IMAGE_REF --image-cache DIR).",
        discussion: """
            Examples:
              stamp images --image-cache /var/cache/stamp-images
              stamp images prune --unused-days 14
              stamp images prune            (everything)
            """)

    @Argument(help: "list (the default) or prune.")
    var action: String = "list"

    @Option(help: ArgumentHelp("The cache directory (default $STAMP_IMAGE_CACHE, else ~/.cache/stamp/images).", valueName: "dir"))
    var imageCache: String?

    @Option(help: "prune: only entries not used for this many days.")
    var unusedDays: Int?

    func validate() throws {
        if action != "list" && action != "prune" { throw ValidationError("unknown action '\(action)' (use list or prune)") }
        if let unusedDays, unusedDays < 0 { throw ValidationError("--unused-days must be 0 or more") }
        if unusedDays != nil && action != "prune" { throw ValidationError("--unused-days applies to prune") }
    }

    func run() throws {
        let cache = ImageCache(directory: imageCache ?? ImageCache.defaultDirectory)
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
