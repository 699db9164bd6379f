#ifndef STAMP_CISAL_SHIM_H
#define STAMP_CISAL_SHIM_H
#include <isa-l/igzip_lib.h>

/// ISA-L's level buffer sizes are macros built from other macros; these make them callable.
static inline uint32_t CIsal_levelBufferSize(int level) {
    switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return 0;
    }
}
static inline uint16_t CIsal_zlibFlag(void) { return IGZIP_ZLIB; }
static inline int CIsal_overflow(void) { return STATELESS_OVERFLOW; }
static inline int CIsal_customTables(void) { return IGZIP_HUFFTABLE_CUSTOM; }

/// Fills `table` with the Huffman code ISA-L builds for these symbol counts (lit/len 0…285,
/// distance 0…29); 0 on success, -1 if the counts are not that many.
static inline int CIsal_buildTable(struct isal_hufftables *table, const uint32_t *litlen, int litlenCount,
                                   const uint32_t *dist, int distCount) {
    if (litlenCount != ISAL_DEF_LIT_LEN_SYMBOLS || distCount != ISAL_DEF_DIST_SYMBOLS) return -1;
    struct isal_huff_histogram histogram = {0};
    for (int i = 0; i < litlenCount; i++) histogram.lit_len_histogram[i] = litlen[i];
    for (int i = 0; i < distCount; i++) histogram.dist_histogram[i] = dist[i];
    return isal_create_hufftables(table, &histogram);
}
#endif
