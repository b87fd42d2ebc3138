/* FNV-1a 64 of a whole buffer (util/hash.h). */
#include "util/hash.h"

uint64_t cp_fnv1a64(const void *data, size_t size)
{
    return cp_fnv1a64_update(CP_FNV1A64_INIT, data, size);
}
