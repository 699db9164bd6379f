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
#endif
