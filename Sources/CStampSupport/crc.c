// Checksums. CRC-32C uses the SSE4.2 `crc32` instruction when the CPU has it (about 20 GB/s,
// three interleaved streams would be faster still but metadata blocks are small), and a
// slicing-by-8 table otherwise. CRC-32 (IEEE) is slicing-by-8.
#include "CStampSupport.h"
#include <string.h>

static uint32_t crc32c_table[8][256];
static uint32_t crc32_table[8][256];
static int tables_ready;
static int hw_crc;

static void build_table(uint32_t table[8][256], uint32_t poly) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int s = 1; s < 8; s++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[s][i] = c;
        }
    }
}

__attribute__((constructor)) static void stamp_crc_init(void) {
    build_table(crc32c_table, 0x82F63B78u);
    build_table(crc32_table, 0xEDB88320u);
#if defined(__x86_64__)
    __builtin_cpu_init();
    hw_crc = __builtin_cpu_supports("sse4.2");
#endif
    tables_ready = 1;
}

int stamp_has_hw_crc32c(void) { return hw_crc; }

static uint32_t slice8(uint32_t table[8][256], uint32_t crc, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8); n--; }
    while (n >= 8) {
        uint64_t v; memcpy(&v, p, 8);
        uint32_t lo = (uint32_t)v ^ crc, hi = (uint32_t)(v >> 32);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
              table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8; n -= 8;
    }
    while (n--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); n--; }
    while (n >= 8) { uint64_t v; memcpy(&v, p, 8); c = __builtin_ia32_crc32di(c, v); p += 8; n -= 8; }
    while (n--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

uint32_t stamp_crc32c(uint32_t crc, const void *data, size_t length) {
    if (!tables_ready) stamp_crc_init();
#if defined(__x86_64__)
    if (hw_crc) return crc32c_hw(crc, (const uint8_t *)data, length);
#endif
    return slice8(crc32c_table, crc, (const uint8_t *)data, length);
}

uint32_t stamp_crc32(uint32_t crc, const void *data, size_t length) {
    if (!tables_ready) stamp_crc_init();
    return ~slice8(crc32_table, ~crc, (const uint8_t *)data, length);
}
