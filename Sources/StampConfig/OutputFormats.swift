/// The output formats every front end names the same way (`-t`), and the file each writes.
///
/// ```swift
/// OutputFormats.canonical("vpc")          // "vhd"
/// OutputFormats.fileExtension("vmdk-sparse")  // "vmdk": OUT.vmdk
/// OutputFormats.fileExtension("squashfs")     // "squash": OUT.squash, as DIB names it
/// OutputFormats.fileExtension("docker")       // "docker.tar": a docker-archive (docker save)
/// OutputFormats.base("out/disk.qcow2", formats: ["qcow2"])  // "out/disk", as DIB strips it
/// ```
public enum OutputFormats {
    /// The names, in help order, with the extension of the file each writes. `squashfs` is
    /// DIB's `NAME.squash`; `docker`, which DIB imports into a Docker engine and writes no
    /// file for, is stamp's `NAME.docker.tar` (the `docker save` layout), imported too where
    /// a `docker` CLI is on PATH.
    public static let all: [(name: String, fileExtension: String)] = [
        ("raw", "raw"), ("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vmdk-sparse", "vmdk"), ("vhd", "vhd"), ("vhd-fixed", "vhd"),
        ("ova", "ova"), ("tar", "tar"), ("tgz", "tgz"), ("squashfs", "squash"), ("docker", "docker.tar"),
    ]

    /// The names `-t` accepts, for help and messages.
    public static let names = all.map(\.name)

    /// Other spellings qemu-img and DIB use for the same formats.
    public static let aliases: [String: String] = [
        "img": "raw", "vmdk-stream": "vmdk", "streamoptimized": "vmdk", "monolithicsparse": "vmdk-sparse", "vpc": "vhd",
        "vhd-dynamic": "vhd",
    ]

    /// The canonical name of `name` (any case, or an alias), or nil when stamp does not write it.
    public static func canonical(_ name: String) -> String? {
        let lower = name.lowercased()
        if names.contains(lower) { return lower }
        return aliases[lower]
    }

    /// The file-name extension `name` writes (`OUT.<ext>`).
    public static func fileExtension(_ name: String) -> String? {
        canonical(name).flatMap { c in all.first { $0.name == c }?.fileExtension }
    }

    /// The output base for `output`: with exactly one format, a trailing `.<ext>` of that
    /// format is dropped, as DIB does (`-o disk.qcow2 -t qcow2` writes `disk.qcow2`, not
    /// `disk.qcow2.qcow2`).
    public static func base(_ output: String, formats: [String]) -> String {
        guard formats.count == 1, let ext = fileExtension(formats[0]), output.hasSuffix("." + ext),
            output.count > ext.count + 1, !output.hasSuffix("/." + ext)
        else { return output }
        return String(output.dropLast(ext.count + 1))
    }

    /// The completions of a `-t` word being typed (`qcow2,v` gives `qcow2,vmdk`, `qcow2,vmdk-sparse`,
    /// `qcow2,vhd`, `qcow2,vhd-fixed`): the formats not yet in the list, nor writing a file one of
    /// them writes, after what is typed before the last comma.
    public static func completions(of word: String) -> [String] {
        let comma = word.lastIndex(of: ",")
        let head = comma.map { String(word[...$0]) } ?? ""
        let partial = comma.map { String(word[word.index(after: $0)...]) } ?? word
        let given = head.split(separator: ",").compactMap { canonical(String($0)) }
        let taken = Set(given.compactMap(fileExtension))
        return names.filter { $0.hasPrefix(partial.lowercased()) && !taken.contains(fileExtension($0)!) }.map { head + $0 }
    }

    /// Parses a `-t` list: every problem (unknown names, a name given twice, two formats that
    /// would write the same file) in one line each.
    public static func parse(_ list: String, option: String) -> (formats: [String], problems: [String]) {
        var formats: [String] = []
        var problems: [String] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingCharacters(in: " ")
            guard let c = canonical(name) else {
                problems.append(
                    name.isEmpty
                        ? "\(option) '\(list)' has an empty format name"
                        : "unknown format '\(name)' in \(option) (use \(names.joined(separator: ", ")))")
                continue
            }
            if formats.contains(c) {
                problems.append("format \(c) is given twice in \(option) '\(list)': each is written once")
                continue
            }
            if let other = formats.first(where: { fileExtension($0) == fileExtension(c) }) {
                problems.append("formats \(other) and \(c) in \(option) would both write OUT.\(fileExtension(c)!): pick one")
                continue
            }
            formats.append(c)
        }
        return (formats, problems)
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
