import CIsal

/// The Huffman code ISA-L's level 0 writes with (`--fast`): a fixed code trained once on
/// typical system files instead of one built for every chunk.
///
/// ```
///  level 1:  chunk ─► match search + symbol histogram ─► build a code ─► encode   (per chunk)
///  level 0:  chunk ─► match search ─► encode with this code                      (code built once)
///            every 64 KiB grain is one deflate block with a dynamic-Huffman header holding
///            the same code, so any inflater reads it; only its size depends on the code's fit
/// ```
///
/// Building a code per 64 KiB grain (histogram, tree, header) is about a tenth of level 1's
/// time. Level 0 skips it and uses the code of its stream; ISA-L's built-in default code is
/// generic, so its output is about 10% larger than level 1's. A code from the symbol counts
/// of real system files closes most of that gap. The counts below are the lit/len and
/// distance symbol frequencies `isal_update_histogram` reported for 200 MB of a Debian
/// bookworm host's shared libraries (`/usr/lib/x86_64-linux-gnu`, as one tar, in 64 KiB
/// pieces), scaled so the largest is 10^6, plus one so that every symbol has a code.
/// Measured on the bootable root's disk (Benchmarks/pack.sh's tree, which it was not
/// trained on): 292.1 MB of grains against 290.8 MB with a code trained on that disk
/// itself, 305.1 MB with ISA-L's default code and 275.4 MB at level 1, at 12% more MB/s
/// per core than level 1.
enum IsalTrainedCode {
    /// Literal/length symbols 0…285 (256 is end-of-block).
    static let literalLength: [UInt32] = [
        541535, 141258, 83643, 65942, 84103, 97989, 41523, 33848, 80567, 33888, 38819, 34055,
        37250, 29256, 46365, 144948, 65894, 28791, 21782, 22155, 33742, 28493, 21033, 18852,
        47516, 19394, 19849, 17704, 24103, 16740, 16182, 23064, 84697, 27043, 20389, 17578,
        92717, 22353, 16209, 17491, 41037, 28349, 16306, 15967, 26539, 21294, 21819, 18813,
        63256, 69131, 29065, 24105, 32298, 33199, 25422, 22842, 42357, 50316, 17903, 20557,
        28507, 24760, 16838, 18911, 55801, 90855, 32542, 35914, 84696, 61132, 30538, 28428,
        209414, 73001, 20740, 20291, 89267, 38347, 26045, 22950, 51038, 18984, 25520, 31822,
        36938, 29103, 20648, 21381, 32034, 18635, 16469, 22690, 25693, 20358, 17468, 36059,
        40673, 38815, 26167, 36763, 35711, 49762, 46881, 23978, 34052, 37170, 16780, 20444,
        38599, 26662, 36077, 40383, 43507, 16831, 40889, 43918, 82097, 56603, 23148, 22242,
        34128, 21592, 17159, 18807, 27229, 21908, 20883, 21521, 82714, 26508, 22574, 80825,
        59061, 70106, 20976, 20478, 30963, 182235, 17076, 129210, 21784, 97742, 19119, 20305,
        45113, 16769, 15449, 16450, 21207, 18193, 16732, 16243, 23456, 15419, 14912, 14793,
        18448, 15451, 14991, 16586, 26590, 15053, 16649, 15239, 18326, 14478, 15113, 14410,
        24073, 14544, 15587, 15310, 17894, 14478, 14448, 16640, 26213, 15352, 14816, 15639,
        18554, 15965, 25875, 19463, 26840, 18908, 21987, 17767, 20014, 18820, 22436, 21085,
        60284, 49652, 27060, 32219, 30202, 31434, 30486, 39455, 27847, 23767, 18724, 15184,
        16832, 15917, 17650, 16190, 32993, 20711, 25987, 17666, 17681, 16750, 18161, 16159,
        34729, 16003, 17506, 20126, 18568, 17723, 19256, 26571, 36007, 20111, 23407, 19225,
        22947, 24996, 27038, 27030, 136197, 78470, 21818, 41415, 25091, 25416, 24681, 32086,
        34034, 20413, 23967, 23002, 20537, 21879, 34240, 27121, 38501, 25664, 31607, 28839,
        36631, 33203, 49425, 203856, 546, 1, 1_000_001, 393335, 246038, 297734, 206073, 86743,
        68729, 153078, 61451, 144783, 28049, 44348, 40204, 13556, 9993, 13098, 7218, 5122,
        3799, 3931, 2612, 1839, 1323, 1547, 1284, 901, 13019, 4,
    ]
    /// Distance symbols 0…29.
    static let distance: [UInt32] = [
        24383, 6602, 2117, 11493, 29251, 64099, 51987, 79474, 255667, 79489, 143619, 88745,
        146342, 99916, 141165, 106559, 150891, 110162, 158835, 112794, 162265, 112027, 149700, 100027,
        128648, 81730, 100236, 60742, 62230, 28613,
    ]

    /// A new ISA-L code table built from the counts (the caller owns and frees it).
    /// - Throws: ``CompressionError/initializationFailed(backend:code:)`` if ISA-L rejects them.
    static func makeTable() throws(CompressionError) -> UnsafeMutablePointer<isal_hufftables> {
        let table = UnsafeMutablePointer<isal_hufftables>.allocate(capacity: 1)
        let rc = literalLength.withUnsafeBufferPointer { lit in
            distance.withUnsafeBufferPointer { dist in
                CIsal_buildTable(table, lit.baseAddress, Int32(lit.count), dist.baseAddress, Int32(dist.count))
            }
        }
        guard rc == 0 else {
            table.deallocate()
            throw .initializationFailed(backend: .isal, code: rc)
        }
        return table
    }
}
