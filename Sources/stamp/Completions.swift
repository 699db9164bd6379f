import Foundation
import StampElements

/// The element names a shell completes for `stamp build` and `stamp elements`: those in the
/// directories of `ELEMENTS_PATH` and the built-in ones (where the binary finds them), sorted,
/// that start with `prefix`. Only directory names are listed; nothing in them is read.
func elementNames(_ prefix: String) -> [String] {
    let environment = ProcessInfo.processInfo.environment
    var directories = (environment["ELEMENTS_PATH"] ?? "").split(separator: ":").map { URL(fileURLWithPath: String($0)) }
    if let builtin = ElementBuildPlan.locateBuiltinElements(
        executable: URL(fileURLWithPath: CommandLine.arguments[0]), environment: environment)
    {
        directories.append(builtin)
    }
    var names: Set<String> = []
    for directory in directories {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in entries where name.hasPrefix(prefix) && !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory),
                isDirectory.boolValue
            {
                names.insert(name)
            }
        }
    }
    return names.sorted()
}
