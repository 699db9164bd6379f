import Foundation
import StampContainers
import StampElements
import StampExt4
import StampIO
import StampPackaging
import StampTree
import SystemPackage

/// `stamp ova-compose` (and the `ova-compose` executable): open-vmdk's ova-compose over
/// stamp's readers and writers. The config is read as ova-compose reads it (paths relative
/// to the current directory), the descriptor is ``OVFComposeEnvelope``'s, the members and
/// their order are ova-compose's.
///
/// ```
/// config ──► plan: per hardware entry, in order ──► files (References) + disks (DiskSection)
///   disk_image: streamOptimized VMDK ─ checked (every grain read), used as it is
///   disk_image/raw_image: raw, qcow2, other VMDK, VHD ─ converted to streamOptimized
///   directory: an ext4 of that tree ─ written as streamOptimized
///   disk_capacity ─ no file        cd_drive/floppy image ─ the file as it is
/// ──► NAME.ovf ──► NAME.mf (--checksum-type) ──► NAME.cert (--sign / --sign-script)
/// ──► -f ova: tar NAME.ovf NAME.mf FILES… NAME.cert     (disks converted into their members)
///     -f ovf: NAME.ovf at -o, converted disks beside it, NAME.mf (with -m) in the current
///             directory, NAME.cert beside the .ovf — where ova-compose puts them
///     -f dir: a directory with NAME.ovf, NAME.mf, NAME.cert, converted disks, and symbolic
///             links to the files used as they are
/// ```
public struct OVACompose {
    public let options: OVAComposeCommandLine
    /// Progress lines (nothing with -q).
    public var log: (String) -> Void

    public init(options: OVAComposeCommandLine, log: @escaping (String) -> Void = { print($0) }) {
        self.options = options
        self.log = log
    }

    /// One problem, one line.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// A `References/File` and where its bytes are.
    struct PlannedFile {
        var file: OVFComposeEnvelope.File
        enum Source {
            case existing(path: String)
            case convert(reader: any DiskImageReader, from: String)
            case filesystem(image: Ext4Image, from: String)
        }
        var source: Source
        /// The hard disk it belongs to (nil for a CD/floppy image).
        var disk: String?
    }

    /// Runs the whole command.
    public func run() throws {
        guard let input = options.input, let output = options.output, let format = options.format else { return }
        let config = try loadConfig(input)
        let name = Self.baseName(output: output, format: format)
        let planned = try plan(config)
        if !options.quiet { log("creating '\(output)' with format '\(format.rawValue)' from '\(input)'") }
        var files = planned.0
        var disks = planned.1
        let imageFiles = planned.2
        let scratch = try ScratchDirectory(label: "stamp-ova-compose")
        defer { scratch.remove() }
        if format == .ova {
            try writeOVA(
                output: output, name: name, config: config, files: files, disks: disks, imageFiles: imageFiles,
                scratch: scratch.path)
            if !options.quiet { log("done.") }
            return
        }
        var staging = Self.directory(of: output)
        if format == .dir {
            guard access(output, F_OK) != 0 else { throw Problem(description: "\(output): already exists") }
            // Beside the output, so that the finished directory is renamed into place.
            staging += "/.\(name).stamp-\(getpid())-partial"
            guard mkdir(staging, 0o755) == 0 else {
                throw Problem(description: "\(staging): cannot create it: \(ErrorLine.systemReason(errno))")
            }
        }
        var finished = false
        defer { if format == .dir, !finished { try? FileManager.default.removeItem(atPath: staging) } }
        let paths = try convertDisks(&files, &disks, into: staging)
        let ovf = OVFComposeEnvelope(
            config: config, files: files.map(\.file), disks: disks, imageFiles: imageFiles, generated: Self.timestamp()
        ).text()
        let ovfBytes = Array(ovf.utf8)
        let digest = options.checksum
        var entries = [(name: "\(name).ovf", digest: OVAComposeArchive.digest(ovfBytes, digest))]
        for (planned, path) in zip(files, paths) {
            let fileDigest = try OVAComposeArchive.digest(path: path, digest)
            entries.append((name: planned.file.href, digest: fileDigest))
        }
        let manifest = Array(OVAComposeArchive.manifest(entries, digest).utf8)
        switch format {
        case .ova: preconditionFailure("written above")
        case .ovf:
            try Self.writeFile(output, ovfBytes)
            if options.manifest {
                try Self.writeFile("\(name).mf", manifest)
                let certFile = Self.certPath(ovf: output)
                if let cert = try signature(name: name, manifest: manifest, directory: ".", ovfFile: output, certFile: certFile) {
                    try Self.writeFile(certFile, cert)
                }
            }
        case .dir:
            try Self.writeFile("\(staging)/\(name).ovf", ovfBytes)
            try Self.writeFile("\(staging)/\(name).mf", manifest)
            for (planned, path) in zip(files, paths) where !path.hasPrefix(staging + "/") {
                let link = "\(staging)/\(planned.file.href)"
                if access(link, F_OK) == 0 { continue }  // the same file named twice
                guard symlink(Self.absolute(path), link) == 0 else {
                    throw Problem(description: "\(link): cannot link to \(path)")
                }
            }
            if let cert = try signature(
                name: name, manifest: manifest, directory: staging, ovfFile: "\(name).ovf", certFile: "\(name).cert")
            {
                try Self.writeFile("\(staging)/\(name).cert", cert)
            }
            guard rename(staging, output) == 0 else {
                throw Problem(description: "\(output): cannot move the directory into place: \(ErrorLine.systemReason(errno))")
            }
        }
        finished = true
        if !options.quiet { log("done.") }
    }

    /// The whole program: parses `words` (the arguments after the program's name), runs, and
    /// returns the exit status; a failure is one line on stderr, `PROGRAM: problem`.
    public static func main(_ words: [String], program: String) -> Int32 {
        func fail(_ message: String, _ status: Int32) -> Int32 {
            TemporaryFiles.shared.removeAll()
            FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
            return status
        }
        let options: OVAComposeCommandLine
        do {
            options = try OVAComposeCommandLine.parse(words)
        } catch {
            return fail("\(error)", 2)
        }
        if options.help {
            print(OVAComposeCommandLine.usage, terminator: "")
            return 0
        }
        do {
            try OVACompose(options: options).run()
            return 0
        } catch let problem as Problem {
            return fail(problem.description, 1)
        } catch {
            return fail(ErrorLine.describe(error), 1)
        }
    }

    func loadConfig(_ path: String) throws -> OVFConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(description: "\(path): cannot read the config")
        }
        guard data.count <= 16 << 20, let text = String(data: data, encoding: .utf8) else {
            throw Problem(description: "\(path): the config is not UTF-8 text of at most 16 MiB")
        }
        let config: OVFConfig
        do {
            config = try OVFConfig.parse(yaml: text, params: options.params, baseDirectory: ".")
        } catch {
            throw Problem(description: "\(path): \(error)")
        }
        for (item, source) in config.disks where source == .tree {
            throw Problem(
                description:
                    "\(path): hardware.\(item.id): a hard_disk needs disk_image, raw_image, disk_capacity or directory (give --param for a !param without a default)"
            )
        }
        return config
    }

    /// ova-compose's name for the package's files: the output's file name without its last
    /// four characters (`.ova`, `.ovf`), or the directory's name.
    static func baseName(output: String, format: OVAComposeCommandLine.Format) -> String {
        let file = output.split(separator: "/").last.map(String.init) ?? output
        return format == .dir ? file : String(file.dropLast(4))
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Python's `os.path.splitext(ovf)[0] + ".cert"`.
    static func certPath(ovf: String) -> String {
        let name = ovf.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex, name[..<dot].contains(where: { $0 != "." }) else {
            return ovf + ".cert"
        }
        return String(ovf.dropLast(name.distance(from: dot, to: name.endIndex))) + ".cert"
    }

    /// ova-compose's comment time, `DD-MM-YYYY HH:MM:SS +ZZZZ`, local (SOURCE_DATE_EPOCH: UTC).
    static func timestamp() -> String {
        var t = time(nil)
        var parts = tm()
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap({ Int($0) }) {
            t = time_t(epoch)
            gmtime_r(&t, &parts)
        } else {
            localtime_r(&t, &parts)
        }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%d-%m-%Y %H:%M:%S %z", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes a whole file under a temporary name, then renames it into place.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let file = try OutputFile(path: path)
        _ = try bytes.withUnsafeBytes { try file.descriptor.writeAll(toAbsoluteOffset: 0, $0) }
        try file.commit()
    }
}
