import ArgumentParser
import Foundation
import StampPipeline
import StampConfig

/// `stamp images [list|prune]`: the cache of stamped container images (``ImageCache``).
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or prune the cache of stamped container images (stamp pack IMAGE_REF --stamped-cache DIR).",
        usage: "stamp images [<options>] [list|prune]",
        discussion: """
            Examples:
              stamp images --stamped-cache /var/cache/stamp-images
              stamp images prune --unused-days 14
              stamp images prune            (everything)
            """)

    @Argument(help: "list (the default) or prune.", completion: .list(["list", "prune"]))
    var action: String = "list"

    @Option(
        name: .setting(.stampedCache, .images), help: .setting(.stampedCache, .images),
        completion: .setting(.stampedCache, .images))
    var stampedCache: String?
    @Option(name: .setting(.unusedDays, .images), help: .setting(.unusedDays, .images)) var unusedDays: String?

    @Flag(name: .setting(.quiet, .images), help: .setting(.quiet, .images)) var quiet = false
    @Flag(name: .setting(.verbose, .images), help: .setting(.verbose, .images)) var verbose = false

    var rawSettings: RawSettings {
        var raw = RawSettings(.images)
        raw[.stampedCache] = stampedCache
        raw[.unusedDays] = unusedDays
        raw.flag(.quiet, quiet)
        raw.flag(.verbose, verbose)
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
            if quiet { return }
            print("pruned \(removed.count) entries (\(bytes) bytes) from \(cache.directory)")
        default:
            let entries = cache.list()
            for e in entries {
                if quiet {
                    print(e.key)
                    continue
                }
                let (key, digest) =
                    verbose ? (e.key, e.manifestDigest) : (String(e.key.prefix(16)), String(e.manifestDigest.prefix(19)))
                print(
                    "\(key)  \(digest)  \(e.outputs.joined(separator: ",").padding(toLength: 10, withPad: " ", startingAt: 0))  \(String(format: "%10d", e.bytes))  \(formatter.string(from: e.created))  \(e.reference)"
                )
            }
            if !quiet { print("\(entries.count) entries in \(cache.directory)") }
        }
    }
}
