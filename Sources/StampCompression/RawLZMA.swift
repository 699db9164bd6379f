import CLzma

/// Raw LZMA1 streams (no `.xz` or `.lzma` header), through liblzma: what GRUB's i386-pc
/// `core.img` carries after its decompressor.
///
/// ```
///  .lzma ("alone") file:  | props (1) | dict size (4, LE) | size (8, LE) | range-coded data |
///  raw LZMA1 stream:                                                   | range-coded data |
/// ```
///
/// A raw stream has no header: both sides must agree on `lc`, `lp`, `pb` and the dictionary
/// size out of band. GRUB's `lzma_decompress.img` has them built in (lc 3, lp 0, pb 2, as
/// `grub-mkimage`'s `compress_kernel_lzma` sets them, with a 64 KiB dictionary) and is told
/// the compressed and uncompressed sizes in two fields of its own. liblzma's raw LZMA1
/// encoder always ends the stream with an end-of-payload marker; GRUB's decoder stops at
/// the uncompressed size it was given and never reads it.
public enum RawLZMA {
    /// The literal/position parameters of one raw stream.
    public struct Parameters: Sendable, Equatable {
        public var literalContextBits: UInt32 = 3
        public var literalPositionBits: UInt32 = 0
        public var positionBits: UInt32 = 2
        public var dictionarySize: UInt32 = 1 << 16

        public init() {}

        /// GRUB's i386-pc core image settings.
        public static let grub = Parameters()
    }

    /// An error liblzma reported, with its `lzma_ret` code.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var operation: String
        public var code: UInt32
        public var description: String { "lzma \(operation) failed (liblzma code \(code))" }
    }

    /// Compresses `input` into one raw LZMA1 stream (preset 9 plus `parameters`).
    public static func encode(_ input: [UInt8], parameters: Parameters = .grub) throws(Failure) -> [UInt8] {
        try withFilters(parameters, preset: 9) { (filters) throws(Failure) -> [UInt8] in
            var stream = lzma_stream()
            let status = lzma_raw_encoder(&stream, filters)
            guard status == LZMA_OK else { throw Failure(operation: "encoder setup", code: status.rawValue) }
            defer { lzma_end(&stream) }
            return try run(&stream, input: input, expected: input.count / 2 + 4096, operation: "encode")
        }
    }

    /// Decompresses a raw LZMA1 stream of `size` bytes (tests and `stamp inspect`); at most
    /// `size` bytes are produced, whatever the stream says.
    public static func decode(_ input: [UInt8], size: Int, parameters: Parameters = .grub) throws(Failure) -> [UInt8] {
        try withFilters(parameters, preset: nil) { (filters) throws(Failure) -> [UInt8] in
            var stream = lzma_stream()
            let status = lzma_raw_decoder(&stream, filters)
            guard status == LZMA_OK else { throw Failure(operation: "decoder setup", code: status.rawValue) }
            defer { lzma_end(&stream) }
            var out = [UInt8](repeating: 0, count: size)
            let produced = input.withUnsafeBufferPointer { source in
                out.withUnsafeMutableBufferPointer { target -> (Int, lzma_ret) in
                    stream.next_in = source.baseAddress
                    stream.avail_in = source.count
                    stream.next_out = target.baseAddress
                    stream.avail_out = target.count
                    var status = LZMA_OK
                    while stream.avail_out > 0 {
                        status = lzma_code(&stream, stream.avail_in == 0 ? LZMA_FINISH : LZMA_RUN)
                        if status != LZMA_OK { break }
                    }
                    return (target.count - stream.avail_out, status)
                }
            }
            guard produced.0 == size || produced.1 == LZMA_STREAM_END else {
                throw Failure(operation: "decode", code: produced.1.rawValue)
            }
            return Array(out.prefix(produced.0))
        }
    }

    /// Calls `body` with the filter chain of one LZMA1 stream with `parameters` (a preset's
    /// match finder and depth first, when encoding).
    private static func withFilters<R>(
        _ parameters: Parameters, preset: UInt32?, _ body: (UnsafeMutablePointer<lzma_filter>) throws(Failure) -> R
    ) throws(Failure) -> R {
        var options = lzma_options_lzma()
        if let preset, lzma_lzma_preset(&options, preset) != 0 { throw Failure(operation: "preset", code: 0) }
        options.dict_size = parameters.dictionarySize
        options.lc = parameters.literalContextBits
        options.lp = parameters.literalPositionBits
        options.pb = parameters.positionBits
        return try withUnsafeMutablePointer(to: &options) { (pointer) throws(Failure) -> R in
            var filters = [
                lzma_filter(id: stamp_lzma_filter_lzma1, options: UnsafeMutableRawPointer(pointer)),
                lzma_filter(id: stamp_lzma_vli_unknown, options: nil),
            ]
            return try filters.withUnsafeMutableBufferPointer { (buffer) throws(Failure) -> R in try body(buffer.baseAddress!) }
        }
    }

    private static func run(_ stream: inout lzma_stream, input: [UInt8], expected: Int, operation: String) throws(Failure)
        -> [UInt8]
    {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(expected, 1 << 16))
        let status: lzma_ret = input.withUnsafeBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = source.count
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { target -> (lzma_ret, Int) in
                    stream.next_out = target.baseAddress
                    stream.avail_out = target.count
                    let status = lzma_code(&stream, LZMA_FINISH)
                    return (status, target.count - stream.avail_out)
                }
                out += chunk.prefix(produced)
                if status != LZMA_OK { return status }
            }
        }
        guard status == LZMA_STREAM_END else { throw Failure(operation: operation, code: status.rawValue) }
        return out
    }
}
