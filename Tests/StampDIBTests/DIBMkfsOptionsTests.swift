import Testing

@testable import StampDIB

/// `--mkfs-options` / `DIB_MKFS_OPTS` and `--max-online-resize`, read as mke2fs reads them after
/// DIB's own `-i 4096 -J size=…`: applied, warned about, or refused — never silently dropped.
@Suite struct DIBMkfsOptionsTests {
    func parse(_ options: String?, resize: String? = nil) throws(DIBMkfsOptions.Problems) -> DIBMkfsOptions {
        try DIBMkfsOptions.parse(options: options, maxOnlineResize: resize, journalMiB: 64)
    }

    @Test func nothingGivenIsDIBsDefaults() throws {
        let o = try parse(nil)
        #expect(o.inodeRatio == 4096 && o.journalMiB == 64 && o.reservedPercent == 5)
        #expect(o.resizeLimitBlocks == nil && o.warnings.isEmpty)
    }

    @Test func appliedOptionsOverrideDIBs() throws {
        let o = try parse("-i 8192 -m1 -J size=32 -O metadata_csum,extent -b 4096 -q", resize: "1000000")
        #expect(o.inodeRatio == 8192 && o.reservedPercent == 1 && o.journalMiB == 32)
        #expect(o.resizeLimitBlocks == 1_000_000)
        // Turning a feature off would change stamp's feature set: refused.
        #expect(throws: DIBMkfsOptions.Problems.self) { try parse("-O ^huge_file") }
    }

    @Test func resizeTakesBlocksOrSizes() throws {
        #expect(try parse(nil, resize: "262144").resizeLimitBlocks == 262_144)
        #expect(try parse(nil, resize: "4G").resizeLimitBlocks == 1_048_576)
        #expect(try parse(nil, resize: "512M").resizeLimitBlocks == 131_072)
        #expect(try parse(nil, resize: "16s").resizeLimitBlocks == 2)
        // mke2fs keeps only the last -E: the user's replaces --max-online-resize, with a warning.
        let user = try parse("-E resize=9999", resize: "4G")
        #expect(user.resizeLimitBlocks == 9999 && user.warnings.isEmpty)
        let other = try parse("-E lazy_itable_init=1", resize: "4G")
        #expect(other.resizeLimitBlocks == nil)
        #expect(other.warnings.count == 2, "\(other.warnings)")
        for bad in ["0", "x", "4Q", "-5", "99999999999T"] {
            #expect(throws: DIBMkfsOptions.Problems.self, "resize=\(bad)") { try parse(nil, resize: bad) }
        }
    }

    @Test func optionsWithoutEffectWarnAndNameTheOption() throws {
        let o = try parse("-L other -U random -T news -e remount-ro")
        #expect(o.warnings.count == 4, "\(o.warnings)")
        #expect(o.warnings.allSatisfy { $0.hasPrefix("--mkfs-options -") })
        #expect(o.warnings.first?.contains("-L other") == true)
    }

    @Test func optionsStampCannotHonourAreErrorsNamingEachOne() {
        do {
            _ = try parse("-N 100 -b 1024 -I 128 -t ext3 -J device=/dev/sdb /dev/sda -i")
            Issue.record("expected DIBMkfsOptions.Problems")
        } catch {
            let text = error.problems.joined(separator: "\n")
            #expect(error.problems.count == 7, "\(text)")
            for needle in ["-N 100", "-b 1024", "-I 128", "-t ext3", "device=", "'/dev/sda'", "-i needs a value"] {
                #expect(text.contains(needle), "\(needle) not in: \(text)")
            }
        }
    }
}
