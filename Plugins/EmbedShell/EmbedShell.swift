import Foundation
import PackagePlugin

/// Embeds the shell programs of a target's `Shell/` directory in the target at build time, so
/// that the static binary (the container image has no resource bundle) carries them: one
/// generated Swift file, `EmbeddedShell.generated.swift`, with each `Shell/NAME.sh` as a raw
/// string constant of ``EmbeddedShell`` (`stage-driver.sh` → `stageDriver`) and `all`, the
/// scripts by file name. The `.sh` files stay ordinary files that shellcheck reads
/// (`EmbeddedShellTests`); nothing is read from the repository at run time.
///
/// The text of a file is the literal's content byte for byte: it sits between a `"""#######`
/// pair at column 0 (nothing is stripped as indentation, no escape or interpolation applies),
/// followed by one newline more than the file has, which the closing delimiter's line takes away.
@main
struct EmbedShell: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        // The target's own directory (`Sources/NAME`, SwiftPM's default layout, which this
        // package keeps).
        let shell = context.package.directoryURL.appending(path: "Sources").appending(path: target.name)
            .appending(path: "Shell")
        let names = try FileManager.default.contentsOfDirectory(atPath: shell.path)
            .filter { $0.hasSuffix(".sh") }.sorted()
        guard !names.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
            .appending(path: "EmbeddedShell.generated.swift")
        var arguments = ["-c", Self.script, "embed-shell", output.path]
        for name in names {
            arguments += [shell.appending(path: name).path, name, Self.identifier(name)]
        }
        return [
            .buildCommand(
                displayName: "Embedding \(names.count) shell programs in \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"), arguments: arguments,
                inputFiles: names.map { shell.appending(path: $0) }, outputFiles: [output])
        ]
    }

    /// `stage-driver.sh` → `stageDriver`.
    static func identifier(_ name: String) -> String {
        let words = name.dropLast(3).split(whereSeparator: { !$0.isLetter && !$0.isNumber })
        return words.enumerated().map { $0.offset == 0 ? $0.element.lowercased() : $0.element.capitalized }.joined()
    }

    /// `sh -c SCRIPT embed-shell OUTPUT [PATH NAME IDENTIFIER]...`
    static let script = """
        set -eu
        out=$1; shift
        mkdir -p "$(dirname "$out")"
        {
          echo '// Written by the EmbedShell plugin (Plugins/EmbedShell) at build time from Shell/*.sh.'
          echo 'extension EmbeddedShell {'
          index=''
          while [ $# -ge 3 ]; do
            printf '    /// `Shell/%s`\\n    static let %s: String = #######\"""\\n' "$2" "$3"
            cat "$1"
            printf '\\n\"""#######\\n'
            index="$index        \\"$2\\": $3,
        "
            shift 3
          done
          echo '    /// Every embedded script, by its file name in Shell/.'
          echo '    static let all: [String: String] = ['
          printf '%s' "$index"
          echo '    ]'
          echo '}'
        } >"$out.new"
        mv "$out.new" "$out"
        """
}
