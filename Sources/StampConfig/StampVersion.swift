/// stamp's version, the one number every front end prints (`stamp --version`, `stamp COMMAND
/// --version`, `disk-image-create --version`).
///
/// ``release`` is raised by hand at a release, which is tagged `v` + the number. A build from
/// a git checkout is stamped with `git describe` (Plugins/GitVersion) and numbered as pbr
/// numbers diskimage-builder's own builds, so that scripts comparing versions order them:
///
/// | checkout | number |
/// |---|---|
/// | at the tag `v0.2.0` | `0.2.0` |
/// | 5 commits after `v0.2.0` | `0.2.1.dev5` |
/// | no tag yet, 812 commits | `0.1.0.dev812` (``release`` not yet tagged) |
/// | not a checkout (a source tarball) | ``release`` |
public enum StampVersion {
    /// The release this source is, or leads to.
    public static let release = "0.1.0"

    /// The number for a build whose checkout `git describe --tags --long --always` describes
    /// as `describe` (`v0.2.0-5-g1a2b3c4`, or a bare hash without tags), with `commits`
    /// commits in all; ``release`` when either is unknown or the tag is not a version.
    public static func number(describe: String?, commits: Int?) -> String {
        guard let describe, let commits else { return release }
        let parts = describe.split(separator: "-")
        if parts.count >= 3, let distance = Int(parts[parts.count - 2]) {
            var tag = parts.dropLast(2).joined(separator: "-")
            if tag.hasPrefix("v") { tag.removeFirst() }
            let numbers = tag.split(separator: ".").map { Int($0) }
            guard numbers.count == 3, let major = numbers[0], let minor = numbers[1], let patch = numbers[2] else {
                return release
            }
            return distance == 0 ? "\(major).\(minor).\(patch)" : "\(major).\(minor).\(patch + 1).dev\(distance)"
        }
        return "\(release).dev\(commits)"
    }
}
