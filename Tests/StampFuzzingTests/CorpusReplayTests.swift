import Foundation
import StampContainers
import StampFuzzing
import Testing

/// `Fuzz/` at the top of the checkout.
private let fuzzDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz")

/// The files of `Fuzz/<kind>/<target>/` (none when the directory does not exist).
private func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
    let dir = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
}

/// Replays the fuzzers' seed corpus and every crash reproducer ever found through the same
/// functions the fuzzers call, so a fixed crash stays fixed in the normal test run (a
/// regression traps this process). See Benchmarks/fuzz.sh for the fuzzing itself.
@Suite struct CorpusReplayTests {
    @Test(.serialized, arguments: FuzzTarget.allCases)  // serialized: the scratch check below sees only its own files
    func everyCorpusFileAndCrashReproducerRuns(target: FuzzTarget) throws {
        let corpus = inputs("corpus", target)
        #expect(corpus.count >= 3, "Fuzz/corpus/\(target.rawValue) needs seeds (Fuzz/make-corpus.sh)")
        for url in corpus + inputs("crashes", target) {
            let data = try Data(contentsOf: url)
            data.withUnsafeBytes { target.run($0) }
        }
        // Scratch files are per call and removed afterwards.
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [])
            .filter { $0.hasPrefix("stamp-fuzz-\(getpid())-") }
        #expect(leftovers.isEmpty)
    }

    /// The container seeds are real images: each corpus has at least two the reader opens
    /// and walks to the end, so mutations start from inputs that reach the tables.
    @Test(arguments: [FuzzTarget.qcow2, .vmdk, .vhd])
    func containerSeedsAreReadableImages(target: FuzzTarget) throws {
        var readable: [String] = []
        for url in inputs("corpus", target) {
            let reader: any DiskImageReader
            do {
                switch target {
                case .qcow2: reader = try Qcow2Reader(path: url.path)
                case .vmdk: reader = try VMDKReader(path: url.path)
                default: reader = try VHDReader(path: url.path)
                }
                try reader.forEachExtent { _ in }
            } catch {
                continue
            }
            readable.append(reader.variant)
        }
        #expect(readable.count >= 2, "readable \(target.rawValue) seeds: \(readable)")
        if target == .vmdk {
            #expect(Set(readable) == ["streamOptimized", "monolithicSparse"])
        }
    }
}
