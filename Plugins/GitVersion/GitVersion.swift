import Foundation
import PackagePlugin

/// Stamps the executables with `git describe` at build time: before each build, a shell writes
/// `GitVersion.swift` (`gitDescribe`, `gitCommitCount`; nil outside a git checkout) into the
/// plugin's work directory, and rewrites it only when it changed, so an unchanged checkout
/// recompiles nothing. `StampVersion.number(describe:commits:)` turns them into the number the
/// programs print.
@main
struct GitVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = """
            set -eu
            mkdir -p "$2"
            describe=$(git -C "$1" describe --tags --long --always 2>/dev/null | tr -cd 'A-Za-z0-9._-' || true)
            commits=$(git -C "$1" rev-list --count HEAD 2>/dev/null | tr -cd '0-9' || true)
            {
              echo '// Written by the GitVersion plugin (Plugins/GitVersion) at build time.'
              if [ -n "$describe" ]; then echo "let gitDescribe: String? = \\"$describe\\""; else echo 'let gitDescribe: String? = nil'; fi
              if [ -n "$commits" ]; then echo "let gitCommitCount: Int? = $commits"; else echo 'let gitCommitCount: Int? = nil'; fi
            } > "$2/.GitVersion.swift.new"
            if cmp -s "$2/.GitVersion.swift.new" "$2/GitVersion.swift"; then rm "$2/.GitVersion.swift.new"; else mv "$2/.GitVersion.swift.new" "$2/GitVersion.swift"; fi
            """
        return [
            .prebuildCommand(
                displayName: "git describe for \(target.name)", executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "git-version", context.package.directoryURL.path, output.path],
                outputFilesDirectory: output)
        ]
    }
}
