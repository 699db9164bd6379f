import Crypto
import Foundation
import StampIO
import StampOCI
import SystemPackage

/// Stamped images kept by what made them, so that the same image stamped the same way again is
/// a copy, not a build (`--image-cache DIR`; `stamp images` lists and prunes).
///
/// ```
/// DIR/<key>/entry.json      reference, manifest digest, formats, sizes, when
/// DIR/<key>/disk.<ext>      each output, as written (holes kept)
/// DIR/<key>/disk.<ext>.md5, .sha256   when --checksum was given
/// DIR/<key>/d/              OUT.d/ (image.json, image-manifest.json, image-config.json …)
/// ```
///
/// `key` is the sha256 of the manifest digest and every setting that changes the bytes
/// written (formats, layout, sizes, label, UUID, timestamps, compression, OVA settings; for
/// element builds, the elements and their environment). An entry is written under a
/// temporary name and renamed when complete, so a killed stamp never leaves half an entry.
/// Without `--uuid` the first stamp's random UUID is served again: that is the point.
public struct ImageCache: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The default: `$STAMP_IMAGE_CACHE`, else `$HOME/.cache/stamp/images`.
    public static var defaultDirectory: String {
        ProcessInfo.processInfo.environment["STAMP_IMAGE_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/stamp/images"
    }

    /// One cached stamp.
    public struct Entry: Sendable {
        public var key: String
        public var reference: String
        public var manifestDigest: String
        public var outputs: [String]
        public var bytes: UInt64
        public var created: Date
        public var lastUsed: Date
    }

    /// The key for stamping `manifestDigest` with `settings` (a canonical text of the options).
    public static func key(manifestDigest: String, settings: [String]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(("stamp-image-cache-v1\n" + manifestDigest + "\n" + settings.joined(separator: "\n")).utf8))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The settings of a pack request that change its bytes, as canonical lines.
    /// A request made from the settings table is keyed by their canonical encoding; the few
    /// fields a front end sets besides its settings (the tree's owner mapping) follow it.
    public static func settings(of request: PackRequest) -> [String] {
        if let lines = request.canonicalSettings {
            let owner = request.callerOwnsAsRoot.map { "\($0.uid):\($0.gid)" } ?? ""
            return lines + ["caller-owns-as-root=\(owner)", "extra-bytes=\(request.extraBytes.map(String.init) ?? "")"]
        }
        var canonical = request
        canonical.root = ""
        canonical.output = ""
        canonical.progress = false
        return [String(reflecting: canonical)]
    }

    func entryDirectory(_ key: String) -> String { directory + "/" + key }

    /// The entry for `key`, if complete.
    public func lookup(_ key: String) -> Entry? {
        let path = entryDirectory(key) + "/entry.json"
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return Self.entry(key: key, object: object, directory: entryDirectory(key))
    }

    static func entry(key: String, object: [String: Any], directory: String) -> Entry? {
        guard let reference = object["reference"] as? String, let digest = object["manifestDigest"] as? String,
            let outputs = object["outputs"] as? [String], let created = object["created"] as? Double
        else { return nil }
        var st = stat()
        let lastUsed = stat(directory + "/entry.json", &st) == 0 ? Double(st.st_atim.tv_sec) : created
        let bytes = (object["bytes"] as? NSNumber)?.uint64Value ?? 0
        return Entry(
            key: key, reference: reference, manifestDigest: digest, outputs: outputs, bytes: bytes,
            created: Date(timeIntervalSince1970: created), lastUsed: Date(timeIntervalSince1970: max(lastUsed, created)))
    }

    /// Copies a cached entry's files to `output` (`OUT.<ext>`, checksums, `OUT.d/`), each
    /// through a temporary name. Returns the disk outputs written.
    public func restore(_ entry: Entry, output: String) throws -> [String] {
        let source = entryDirectory(entry.key)
        var written: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: source).sorted() where name.hasPrefix("disk.") {
            let target = output + name.dropFirst("disk".count)
            try Self.copy(source + "/" + name, to: target)
            if entry.outputs.contains(String(name.dropFirst("disk.".count))) { written.append(target) }
        }
        let d = source + "/d"
        if FileManager.default.fileExists(atPath: d) {
            let targetD = output + ".d"
            if mkdir(targetD, 0o755) != 0 && errno != EEXIST {
                throw OCIError.system(path: targetD, operation: "mkdir", message: String(cString: strerror(errno)))
            }
            for name in try FileManager.default.contentsOfDirectory(atPath: d) {
                try Self.copy(d + "/" + name, to: targetD + "/" + name)
            }
        }
        // Touch entry.json: its atime is the entry's "last used" for pruning.
        // UTIME_NOW (2^30 - 1) for the atime, UTIME_OMIT (2^30 - 2) for the mtime.
        _ = utimensat(
            AT_FDCWD, source + "/entry.json",
            [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)], 0)
        return written
    }

    /// Stores the outputs of a finished stamp (`OUT.<ext>` for each of `extensions`, their
    /// checksum files, `OUT.d/`) under `key`.
    public func store(key: String, reference: String, manifestDigest: String, output: String, extensions: [String]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = directory + "/.\(key).stamp-\(getpid())-partial"
        try? TreeRemover.remove(path: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            var bytes: UInt64 = 0
            for ext in extensions {
                for suffix in ["", ".md5", ".sha256"] {
                    let path = output + "." + ext + suffix
                    guard FileManager.default.fileExists(atPath: path) else { continue }
                    bytes += try Self.copy(path, to: staging + "/disk." + ext + suffix)
                }
            }
            let d = output + ".d"
            if FileManager.default.fileExists(atPath: d) {
                try FileManager.default.createDirectory(atPath: staging + "/d", withIntermediateDirectories: false)
                for name in try FileManager.default.contentsOfDirectory(atPath: d) {
                    var isDirectory: ObjCBool = false
                    if FileManager.default.fileExists(atPath: d + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                        bytes += try Self.copy(d + "/" + name, to: staging + "/d/" + name)
                    }
                }
            }
            let object: [String: Any] = [
                "reference": reference, "manifestDigest": manifestDigest, "outputs": extensions, "bytes": bytes,
                "created": Date().timeIntervalSince1970,
            ]
            let json = try JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try ImagePacker.writeFile(staging + "/entry.json", Array(json) + [0x0A])
            let final = entryDirectory(key)
            try? TreeRemover.remove(path: final)
            try withPath(final, "rename") { try Syscalls.rename(staging, to: final) }
        } catch {
            try? TreeRemover.remove(path: staging)
            throw error
        }
    }

    /// Every complete entry, newest first.
    public func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.compactMap(lookup).sorted { $0.created > $1.created }
    }

    /// Removes entries last used before `cutoff` (all when nil), and leftovers of killed
    /// stores. Returns the entries removed.
    @discardableResult
    public func prune(unusedSince cutoff: Date?) throws -> [Entry] {
        var removed: [Entry] = []
        for entry in list() where cutoff.map({ entry.lastUsed < $0 }) ?? true {
            try TreeRemover.remove(path: entryDirectory(entry.key))
            removed.append(entry)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix(".") && name.hasSuffix("-partial") {
            let parts = name.split(separator: "-")
            let pid = parts.count >= 2 ? Int32(parts[parts.count - 2]) : nil
            // Only our own leftovers, through descriptors (a cache directory may be shared).
            if let pid, pid != getpid(), kill(pid, 0) != 0 {
                try? TreeRemover.remove(path: directory + "/" + name, owner: geteuid())
            }
        }
        return removed
    }

    /// Copies a file's data regions (holes stay holes) through an ``OutputFile``; returns the
    /// bytes of data copied.
    @discardableResult
    static func copy(_ source: String, to target: String) throws -> UInt64 {
        let input = try withPath(source, "open") { try FileDescriptor.open(FilePath(source), .readOnly) }
        defer { try? input.close() }
        let size = try withPath(source, "stat") { try Syscalls.size(of: input) }
        let output = try OutputFile(path: target)
        var copied: UInt64 = 0
        do {
            let regions = try withPath(source, "seek data") { try Syscalls.dataRegions(of: input, size: size) }
            for region in regions {
                var offset = region.lowerBound
                while offset < region.upperBound {
                    let chunk = Int(min(region.upperBound - offset, 1 << 30))
                    let n = try withPath(target, "copy") {
                        try Syscalls.copyFileRange(from: input, at: offset, to: output.descriptor, at: offset, length: chunk)
                    }
                    if n == 0 { break }
                    offset += UInt64(n)
                    copied += UInt64(n)
                }
            }
            try output.commit(size: size)
        } catch {
            output.discard()
            throw error
        }
        return copied
    }
}
