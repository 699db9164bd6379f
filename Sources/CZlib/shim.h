#ifndef STAMP_CZLIB_SHIM_H
#define STAMP_CZLIB_SHIM_H
#include <zlib.h>

/// zlib's init functions are macros that Swift cannot call; these wrappers can be.
static inline int CZlib_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}
static inline int CZlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
