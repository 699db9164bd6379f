import Testing

import StampConfig

/// The version number from `git describe` (Plugins/GitVersion), numbered as pbr numbers
/// diskimage-builder's builds: a tag's own number, the next patch's `.devN` after it, the
/// release's `.devN` before the first tag, the release outside a checkout.
@Suite struct StampVersionTests {
    @Test(arguments: [
        ("v0.2.0-0-g1a2b3c4", 900, "0.2.0"), ("v0.2.0-5-g1a2b3c4", 900, "0.2.1.dev5"), ("0.3.1-12-gabcdef0", 9, "0.3.2.dev12"),
        ("1a2b3c4", 812, "\(StampVersion.release).dev812"), ("v-beta-3-g1a2b3c4", 4, StampVersion.release),
        ("release-2-1-g1a2b3c4", 4, StampVersion.release),
    ])
    func describedCheckouts(describe: String, commits: Int, number: String) {
        #expect(StampVersion.number(describe: describe, commits: commits) == number)
    }

    @Test func notACheckoutIsTheRelease() {
        #expect(StampVersion.number(describe: nil, commits: nil) == StampVersion.release)
        #expect(StampVersion.number(describe: "1a2b3c4", commits: nil) == StampVersion.release)
        #expect(StampVersion.release.split(separator: ".").count == 3)
    }
}
