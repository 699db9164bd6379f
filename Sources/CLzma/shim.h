#include <lzma.h>

// liblzma's filter ids are macros Swift cannot import; the same values as constants.
static const lzma_vli stamp_lzma_filter_lzma1 = LZMA_FILTER_LZMA1;
static const lzma_vli stamp_lzma_vli_unknown = LZMA_VLI_UNKNOWN;
