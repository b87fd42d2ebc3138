/* Internal helpers shared by the data modules (src/data/). */
#ifndef CP_DATA_INTERNAL_H
#define CP_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"
#include "util/try.h"
#include "util/warning_internal.h"
#include "clinpaint/image.h"       /* cp_resize_square_rgb */
#include "clinpaint/image_files.h" /* cp_scan_images, cp_path_join */

/* Returns a failed status unchanged (its message is already set). */
#define CP_DATA_TRY(expr) CP_TRY(expr)

/* Mixes two 64-bit words into one well-distributed word (splitmix64 finaliser
 * of a combination); used to derive RNG streams and per-sample decisions. */
static inline uint64_t cp_mix64(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* True when the name ends in an image extension we decode: .jpg .jpeg .png
 * .bmp .tga .gif (any case). */
bool cp_has_image_ext(const char *name);


#endif
