/* Internal: incremental FNV-1a 64-bit hashing. The whole-buffer form is
 * cp_fnv1a64(), public in clinpaint/dataset.h (MODEL.md's split uses it)
 * and defined in util/hash.c. */
#ifndef CP_UTIL_HASH_H
#define CP_UTIL_HASH_H
#include <stddef.h>
#include <stdint.h>


#define CP_FNV1A64_INIT 0xcbf29ce484222325ULL

/* The whole buffer from CP_FNV1A64_INIT (as declared in clinpaint/dataset.h). */
uint64_t cp_fnv1a64(const void *data, size_t size);

static inline uint64_t cp_fnv1a64_update(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#endif
