import Crypto
import Dispatch
import StampBytes
import StampContainers
import StampIO
import SystemPackage

/// The MD5 and SHA-256 of one output file, computed while it was written.
public struct Digests: Sendable, Equatable {
    public var md5: [UInt8]
    public var sha256: [UInt8]

    public init(md5: [UInt8], sha256: [UInt8]) {
        self.md5 = md5
        self.sha256 = sha256
    }

    /// Lower-case hex, as md5sum prints it.
    public var md5Hex: String { hex(md5) }
    /// Lower-case hex, as sha256sum prints it.
    public var sha256Hex: String { hex(sha256) }
}

/// Lower-case hex of `bytes`.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Feeds every byte of an output to MD5 and SHA-256 as it is written: no second pass.
///
/// Writers report bytes in pieces of any size (a 512-byte marker, a 1 MiB run of grains);
/// small pieces are gathered in a staging buffer so the hash functions always see big
/// chunks, and big pieces are hashed in place.
///
/// ```swift
/// let hashing = HashingObserver()
/// let vmdk = try VMDKStreamWriter(path: p, virtualSize: n, observer: hashing.observer)
/// …
/// let digests = hashing.finalize()
/// ```
///
/// Not thread-safe: the writer that owns it calls it from one thread at a time.
public final class HashingObserver {
    private var md5 = Insecure.MD5()
    private var sha256 = SHA256()
    /// Whether MD5 is computed too (only `--checksum` needs it; an OVA manifest needs SHA-256).
    private let withMD5: Bool
    private let staging: IOBuffer
    private var staged = 0
    /// Bytes seen so far.
    public private(set) var count: UInt64 = 0
    /// Thread CPU time spent hashing so far (the benchmark's checksum throughput).
    public private(set) var cpuNanoseconds: UInt64 = 0

    /// - Parameters:
    ///   - md5: compute MD5 as well as SHA-256 (without it, ``Digests/md5`` is empty).
    ///   - stagingSize: pieces smaller than this are gathered before hashing.
    public init(md5: Bool = true, stagingSize: Int = 1 << 20) {
        withMD5 = md5
        staging = IOBuffer(size: stagingSize)
    }

    /// A closure to pass as a container writer's `OutputObserver`.
    public var observer: OutputObserver {
        { [self] data in update(data) }
    }

    /// Hashes `data` (appended after everything seen so far).
    public func update(_ data: UnsafeRawBufferPointer) {
        count += UInt64(data.count)
        if staged + data.count <= staging.bytes.count {
            UnsafeMutableRawBufferPointer(rebasing: staging.bytes[staged..<(staged + data.count)]).copyMemory(from: data)
            staged += data.count
            return
        }
        flush()
        if data.count >= staging.bytes.count {
            hash(data)
        } else {
            UnsafeMutableRawBufferPointer(rebasing: staging.bytes[0..<data.count]).copyMemory(from: data)
            staged = data.count
        }
    }

    /// Hashes `data` with MD5 and SHA-256 on two threads at once, while `alongside` runs on
    /// a third (reading the next piece): a file hashed after it is written (an OVA, whose
    /// front is known last) takes the time of its slowest hash, not of all three summed.
    public func update(_ data: UnsafeRawBufferPointer, alongside: @escaping () -> Void) {
        flush()
        count += UInt64(data.count)
        let jobs = HashJobs(observer: self, data: data, alongside: alongside)
        DispatchQueue.concurrentPerform(iterations: 3) { jobs.run($0) }
        cpuNanoseconds += jobs.md5CPU &+ jobs.shaCPU
    }

    fileprivate func updateMD5(_ data: UnsafeRawBufferPointer) { if withMD5 { md5.update(bufferPointer: data) } }
    fileprivate func updateSHA256(_ data: UnsafeRawBufferPointer) { sha256.update(bufferPointer: data) }

    /// Hashes `bytes`.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digests of everything seen. The observer can keep going afterwards: this does not
    /// disturb the running state.
    public func finalize() -> Digests {
        flush()
        return Digests(md5: withMD5 ? Array(md5.finalize()) : [], sha256: Array(sha256.finalize()))
    }

    private func flush() {
        guard staged > 0 else { return }
        hash(UnsafeRawBufferPointer(rebasing: staging.bytes[0..<staged]))
        staged = 0
    }

    private func hash(_ data: UnsafeRawBufferPointer) {
        let start = Clocks.threadCPU()
        if withMD5 { md5.update(bufferPointer: data) }
        sha256.update(bufferPointer: data)
        cpuNanoseconds += Clocks.threadCPU() &- start
    }
}

/// The three jobs of ``HashingObserver/update(_:alongside:)``: MD5, SHA-256 and the caller's.
/// `@unchecked Sendable`: each job touches a disjoint part (MD5's state and `md5CPU`, SHA-256's
/// state and `shaCPU`, the caller's closure), and concurrentPerform returns after all three.
private final class HashJobs: @unchecked Sendable {
    let observer: HashingObserver
    let data: UnsafeRawBufferPointer
    let alongside: () -> Void
    var md5CPU: UInt64 = 0
    var shaCPU: UInt64 = 0

    init(observer: HashingObserver, data: UnsafeRawBufferPointer, alongside: @escaping () -> Void) {
        self.observer = observer
        self.data = data
        self.alongside = alongside
    }

    func run(_ job: Int) {
        let start = Clocks.threadCPU()
        switch job {
        case 0:
            observer.updateMD5(data)
            md5CPU = Clocks.threadCPU() &- start
        case 1:
            observer.updateSHA256(data)
            shaCPU = Clocks.threadCPU() &- start
        default: alongside()
        }
    }
}

/// `OUT.md5` and `OUT.sha256` beside an output, in md5sum/sha256sum format, so
/// `cd dir && sha256sum -c OUT.sha256` checks it.
public enum ChecksumFiles {
    /// The line md5sum/sha256sum print: `<hex>  <basename>\n` (two spaces: text mode).
    public static func line(hex: String, path: String) -> String {
        "\(hex)  \(basename(path))\n"
    }

    /// Writes `path.md5` and/or `path.sha256` (as `algorithms` names them), each under a
    /// temporary name renamed into place.
    /// - Returns: the paths written.
    @discardableResult
    public static func write(for path: String, digests: Digests, algorithms: [String] = ["md5", "sha256"]) throws -> [String] {
        let files = [(path + ".md5", digests.md5Hex, "md5"), (path + ".sha256", digests.sha256Hex, "sha256")]
            .filter { algorithms.contains($0.2) }.map { ($0.0, $0.1) }
        for (target, hexDigest) in files {
            let out = try OutputFile(path: target)
            let bytes = Array(line(hex: hexDigest, path: path).utf8)
            try withPath(target, "write") {
                _ = try bytes.withUnsafeBytes { try out.descriptor.writeAll(toAbsoluteOffset: 0, $0) }
            }
            try out.commit()
        }
        return files.map(\.0)
    }
}

/// The last path component.
func basename(_ path: String) -> String {
    path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
}
