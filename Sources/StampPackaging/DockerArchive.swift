import Crypto
import Foundation
import StampIO
import StampTree
import SystemPackage

/// Writes a root tree as a one-layer docker-archive (`-t docker`): the layout `docker save`
/// writes and `docker load`, `podman load` and skopeo's `docker-archive:` transport read.
///
/// ```
/// offset  member                 contents
///      0  <layer-sha256>.tar     the tree as `-t tar` writes it (pax, numeric owners)
///      …  <config-sha256>.json   image config: architecture, os, created,
///                                rootfs {type: layers, diff_ids: [sha256:<layer-sha256>]}
///      …  manifest.json          [{"Config": "<config-sha256>.json",
///                                  "RepoTags": ["NAME:TAG"] or null,
///                                  "Layers": ["<layer-sha256>.tar"]}]
///      …  (two zero blocks)
/// ```
///
/// Every member is a plain ustar entry (``USTARHeader``: mode 0644, owner 0, the image's
/// creation time), its data padded to 512 bytes. The member names are the SHA-256 of their
/// contents, as `docker save` names its blobs; the layer's digest is its `diff_id` (the layer
/// is stored uncompressed). diskimage-builder pipes the same tarball of the tree into
/// `docker import` instead and writes no file.
///
/// The layer is written first to a scratch file beside the output (a temporary
/// ``OutputFile`` never committed, so a signal or the next run removes it), read once to
/// hash it and once to copy it in; the archive appears under its final name only complete.
public struct DockerArchive {
    /// `NAME:TAG` recorded in `RepoTags` (nil: none, `docker load` then keeps it untagged).
    public var tag: String?
    /// The image config's `architecture` (`amd64`, `arm64`).
    public var architecture: String
    /// The config's `created` time and every member's mtime, in seconds since the epoch.
    public var created: Int64
    /// Later modification times in the layer are clamped to this (SOURCE_DATE_EPOCH).
    public var clampTime: Timestamp?

    public init(tag: String?, architecture: String, created: Int64, clampTime: Timestamp? = nil) {
        self.tag = tag
        self.architecture = architecture
        self.created = created
        self.clampTime = clampTime
    }

    /// Writes `tree` to `path`.
    /// - Throws: `IOError` naming the path, ``PackagingError`` for the layer's tarball.
    public func write(_ tree: RootTree, to path: String) throws {
        let layer = try OutputFile(path: path + ".layer")
        defer { layer.discard() }
        try TreeTarball(format: .pax, clampTime: clampTime).write(tree, into: layer)
        let buffer = IOBuffer(size: 4 << 20)
        // First read: the layer's digest (its diff_id and member name).
        var hash = SHA256()
        var size: UInt64 = 0
        try copy(layer, path: path, buffer: buffer) { chunk in
            hash.update(bufferPointer: chunk)
            size += UInt64(chunk.count)
        }
        let layerHex = Self.hex(Array(hash.finalize()))
        let config = Self.config(architecture: architecture, created: created, diffID: "sha256:" + layerHex)
        let configHex = Self.hex(Array(SHA256.hash(data: config)))
        let manifest = Self.manifest(config: configHex + ".json", tag: tag, layer: layerHex + ".tar")

        let output = try OutputFile(path: path)
        var offset: Int64 = 0
        func append(_ bytes: UnsafeRawBufferPointer) throws {
            try withPath(path, "write") { _ = try output.descriptor.writeAll(toAbsoluteOffset: offset, bytes) }
            offset += Int64(bytes.count)
        }
        func member(_ name: String, size: UInt64, data: (() throws -> Void)) throws {
            try USTARHeader(name: name, fileSize: size, modificationTime: UInt64(max(created, 0))).encode().withUnsafeBytes {
                try append($0)
            }
            try data()
            let pad = Int((512 - size % 512) % 512)
            if pad > 0 { try [UInt8](repeating: 0, count: pad).withUnsafeBytes { try append($0) } }
        }
        do {
            // Second read: the layer copied in.
            try member(layerHex + ".tar", size: size) {
                var copied: UInt64 = 0
                try copy(layer, path: path, buffer: buffer) { chunk in
                    try append(chunk)
                    copied += UInt64(chunk.count)
                }
                guard copied == size else {
                    throw PackagingError.sizeChanged(path: layer.temporaryPath, expected: size, actual: copied)
                }
            }
            try member(configHex + ".json", size: UInt64(config.count)) { try config.withUnsafeBytes { try append($0) } }
            try member("manifest.json", size: UInt64(manifest.count)) { try manifest.withUnsafeBytes { try append($0) } }
            try [UInt8](repeating: 0, count: 1024).withUnsafeBytes { try append($0) }
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
    }

    /// Reads `file` from its start to its end in `buffer`-sized chunks.
    private func copy(
        _ file: OutputFile, path: String, buffer: IOBuffer, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var offset: Int64 = 0
        while true {
            let n = try withPath(file.temporaryPath, "read") {
                try file.descriptor.read(fromAbsoluteOffset: offset, into: buffer.bytes)
            }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<n]))
            offset += Int64(n)
        }
    }

    /// The image config (OCI image spec's config, which Docker's is): keys sorted, no
    /// whitespace, as the bytes its digest is taken over.
    static func config(architecture: String, created: Int64, diffID: String) -> [UInt8] {
        let time = rfc3339(created)
        let text =
            #"{"architecture":"# + quoted(architecture) + #","config":{},"created":"# + quoted(time)
            + #","history":[{"created":"# + quoted(time) + #","created_by":"stamp: the tree as one layer"}],"#
            + #""os":"linux","rootfs":{"diff_ids":["# + quoted(diffID) + #"],"type":"layers"}}"#
        return Array(text.utf8)
    }

    /// `manifest.json`: one image, its config, tags and layers.
    static func manifest(config: String, tag: String?, layer: String) -> [UInt8] {
        let tags = tag.map { "[" + quoted($0) + "]" } ?? "null"
        let text = #"[{"Config":"# + quoted(config) + #","RepoTags":"# + tags + #","Layers":["# + quoted(layer) + "]}]"
        return Array(text.utf8)
    }

    /// A JSON string. The values written are checked names and hex digests; anything below
    /// U+0020, `"` and `\` are escaped all the same.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `2026-12-07T18:00:00Z`.
    static func rfc3339(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// Why `target` cannot name an image (`NAME[:TAG]`, Docker's reference grammar without a
    /// digest: lower-case path components of `[a-z0-9]` joined by `.`, `_`, `__` or `-`,
    /// separated by `/`, an optional registry host first; a tag of `[A-Za-z0-9_.-]`, at most
    /// 128, not starting with `.` or `-`), or nil.
    public static func referenceProblem(_ target: String) -> String? {
        func matches(_ text: Substring, _ pattern: String) -> Bool { text.range(of: pattern, options: .regularExpression) != nil }
        var name = Substring(target)
        if let colon = target.lastIndex(of: ":"), !target[colon...].contains("/") {
            let tag = target[target.index(after: colon)...]
            name = target[..<colon]
            guard matches(tag, "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\\z") else {
                return "the tag '\(tag)' is not 1-128 of A-Z, a-z, 0-9, '_', '.', '-' (not first '.' or '-')"
            }
        }
        guard !name.isEmpty, name.utf8.count <= 255 else { return "the name is empty or longer than 255 bytes" }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        for (index, component) in components.enumerated() {
            // A first component with a '.' or ':', or 'localhost', is a registry host[:port].
            if index == 0, components.count > 1, component.contains(".") || component.contains(":") || component == "localhost" {
                guard matches(component, "^[A-Za-z0-9.-]+(:[0-9]+)?\\z") else { return "'\(component)' is not a registry host" }
                continue
            }
            guard matches(component, "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*\\z") else {
                return "'\(component)' is not a name component (lower-case letters and digits, joined by '.', '_', '__' or '-')"
            }
        }
        return nil
    }

    /// The tag an archive of `outputBase` gets without `--docker-target`: its file name,
    /// lower-cased, when that is a valid name (`out/Debian-12` → `debian-12:latest`), else none.
    public static func defaultTag(outputBase: String) -> String? {
        let name = (outputBase.split(separator: "/").last.map(String.init) ?? outputBase).lowercased()
        return referenceProblem(name) == nil ? name + ":latest" : nil
    }

    /// `target` with Docker's default tag when it names none (`web` → `web:latest`).
    public static func tagged(_ target: String) -> String {
        if let colon = target.lastIndex(of: ":"), !target[colon...].contains("/") { return target }
        return target + ":latest"
    }
}
