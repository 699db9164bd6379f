import StampPackaging

/// `ova-compose`'s command line (open-vmdk's `ova-compose.py`, Python getopt rules): short
/// options `-f -h -i -m -o -q -s` bundle (`-mq`) and take attached or separate values;
/// long options take `--opt=value` or `--opt value` and may be abbreviated to a unique prefix;
/// the first word that is not an option ends the options.
///
/// ```
/// -i, --input-file FILE      the YAML config (required)
/// -o, --output-file PATH     the .ova, .ovf or directory (required)
/// -f, --format ova|ovf|dir   default: from -o's extension (.ova, .ovf)
/// -m, --manifest             with -f ovf: also NAME.mf (always for ova and dir)
/// --checksum-type sha1|sha256|sha512   the manifest's digest (default sha256)
/// --param NAME=VALUE         a value for `!param NAME` scalars (repeatable)
/// -s, --sign KEYFILE         sign the manifest with the PEM key (its certificate in the same file)
/// --sign-alg sha1|sha256|sha512        default: the checksum type
/// --sign-script FORMAT       a shell command signing the manifest instead ({ovf_file} {mf_file}
///                            {sign_alg} {cert_file} {keyfile} are replaced)
/// --tar-format gnu|posix     the OVA's tar headers (default gnu; also pax = posix, ustar)
/// --vmdk-convert PATH        accepted and unused: stamp converts disks itself
/// -q                         quiet   -h  this help
/// ```
public struct OVAComposeCommandLine: Sendable, Equatable {
    public enum Format: String, Sendable { case ova, ovf, dir }

    public var input: String?
    public var output: String?
    public var format: Format?
    public var manifest = false
    public var checksum: OVAComposeArchive.Digest = .sha256
    public var params: [String: String] = [:]
    public var signKey: String?
    public var signAlgorithm: OVAComposeArchive.Digest?
    public var signScript: String?
    /// The OVA's tar dialect: GNU tar's `--format`, which ova-compose passes it (default gnu).
    public var tarFormat: USTARHeader.Format = .gnu
    public var quiet = false
    public var help = false

    /// One problem with the command line, one line.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    static let shortWithValue: Set<Character> = ["f", "i", "o", "s"]
    static let shortFlags: Set<Character> = ["h", "m", "q"]
    static let long: [(name: String, takesValue: Bool)] = [
        ("format", true), ("input-file", true), ("manifest", false), ("output-file", true), ("param", true),
        ("checksum-type", true), ("sign", true), ("sign-alg", true), ("sign-script", true), ("tar-format", true),
        ("vmdk-convert", true), ("help", false),
    ]

    public init() {}

    /// Parses the words after the program name.
    public static func parse(_ words: [String]) throws -> OVAComposeCommandLine {
        var c = OVAComposeCommandLine()
        var i = 0
        func value(_ option: String, attached: String?) throws -> String {
            if let attached { return attached }
            i += 1
            guard i < words.count else { throw Problem(description: "option \(option) requires an argument") }
            return words[i]
        }
        while i < words.count {
            let word = words[i]
            if word == "--" { break }
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                let attached = body.contains("=") ? String(body[body.index(after: body.firstIndex(of: "=")!)...]) : nil
                let exact = long.first { $0.name == name }
                let matches = exact.map { [$0] } ?? long.filter { $0.name.hasPrefix(name) && !name.isEmpty }
                guard matches.count == 1, let option = matches.first else {
                    throw Problem(
                        description: matches.isEmpty
                            ? "unrecognized option --\(name) (see ova-compose -h)" : "option --\(name) is not a unique prefix")
                }
                if !option.takesValue, attached != nil {
                    throw Problem(description: "option --\(option.name) must not have an argument")
                }
                if option.takesValue {
                    try c.apply(option.name, try value("--\(option.name)", attached: attached))
                } else {
                    try c.apply(option.name, "")
                }
            } else if word.hasPrefix("-") && word.count > 1 {
                var rest = Substring(word.dropFirst())
                while let flag = rest.first {
                    rest = rest.dropFirst()
                    if shortFlags.contains(flag) {
                        try c.apply(String(flag), "")
                    } else if shortWithValue.contains(flag) {
                        try c.apply(String(flag), try value("-\(flag)", attached: rest.isEmpty ? nil : String(rest)))
                        break
                    } else {
                        throw Problem(description: "unrecognized option -\(flag) (see ova-compose -h)")
                    }
                }
            } else {
                break  // getopt stops at the first operand; ova-compose ignores operands
            }
            i += 1
        }
        if c.help { return c }
        guard c.input != nil else { throw Problem(description: "no input file given (-i FILE)") }
        guard let output = c.output else { throw Problem(description: "no output file or directory given (-o PATH)") }
        if c.format == nil {
            if output.hasSuffix(".ova") { c.format = .ova } else if output.hasSuffix(".ovf") { c.format = .ovf }
        }
        guard c.format != nil else {
            throw Problem(description: "no output format: give -f ova|ovf|dir, or an output name ending in .ova or .ovf")
        }
        return c
    }

    mutating func apply(_ option: String, _ value: String) throws {
        func digest(_ name: String) throws -> OVAComposeArchive.Digest {
            guard let d = OVAComposeArchive.Digest(rawValue: value) else {
                throw Problem(description: "--\(name) '\(value)' is not sha1, sha256 or sha512")
            }
            return d
        }
        switch option {
        case "i", "input-file": input = value
        case "o", "output-file": output = value
        case "f", "format":
            guard let f = Format(rawValue: value) else {
                throw Problem(description: "--format '\(value)' is not ova, ovf or dir")
            }
            format = f
        case "m", "manifest": manifest = true
        case "checksum-type": checksum = try digest(option)
        case "param":
            guard let eq = value.firstIndex(of: "="), eq != value.startIndex else {
                throw Problem(description: "--param '\(value)' is not NAME=VALUE")
            }
            params[String(value[..<eq])] = String(value[value.index(after: eq)...])
        case "s", "sign": signKey = value
        case "sign-alg": signAlgorithm = try digest(option)
        case "sign-script": signScript = value
        case "tar-format":
            switch value {
            case "gnu": tarFormat = .gnu
            case "posix", "pax": tarFormat = .pax
            case "ustar": tarFormat = .ustar
            default: throw Problem(description: "--tar-format '\(value)' is not gnu or posix (or pax, ustar)")
            }
        case "vmdk-convert": break
        case "q": quiet = true
        default: help = true  // -h, --help
        }
    }

    /// The help text.
    public static let usage = """
        Usage: ova-compose -i CONFIG.yaml -o OUTPUT [-f ova|ovf|dir] [options]

        Writes an OVA (or an OVF with its files, or a directory) from an ova-compose YAML
        config, as open-vmdk's ova-compose does; disks named by the config (raw, qcow2, VMDK,
        VHD) are converted to streamOptimized VMDKs by stamp itself.

          -i, --input-file FILE        the config
          -o, --output-file PATH       the .ova, .ovf or directory to write
          -f, --format ova|ovf|dir     default: from the output name (.ova, .ovf)
          -m, --manifest               with ovf: also write NAME.mf (ova and dir always have one)
          --checksum-type sha1|sha256|sha512   the manifest's digest (default sha256)
          --param NAME=VALUE           the value of `!param NAME` in the config (repeatable)
          -s, --sign KEYFILE           sign the manifest (PEM: RSA key and its certificate)
          --sign-alg sha1|sha256|sha512        the signature's digest (default: the checksum type)
          --sign-script COMMAND        sign with a shell command instead; {ovf_file}, {mf_file},
                                       {sign_alg}, {cert_file} and {keyfile} are replaced
          --tar-format gnu|posix       the OVA's tar format (default gnu; also pax, ustar)
          --vmdk-convert PATH          accepted and not needed
          -q                           quiet
          -h, --help                   this text

        Paths in the config are relative to the current directory and are read as the user
        running the command. See docs/ova-compose.md.

        """
}
