/* Internal: program binaries cached on disk, keyed by platform, device,
 * driver, source and options. Entries are checked (magic, key, size,
 * checksum) and a bad one is reported as a miss so the caller rebuilds and
 * replaces it. */
#ifndef CP_RUNTIME_PROGRAM_DISK_CACHE_H
#define CP_RUNTIME_PROGRAM_DISK_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/runtime.h"

typedef struct cp_cache_key {
    uint64_t h[2];
} cp_cache_key;

cp_cache_key cp_cache_key_make(const cp_device_info *dev, const char *source,
                               size_t source_size, const char *options);

/* Folder of the cache, or false when disabled (CLINPAINT_NO_CACHE=1) or no
 * folder can be found. The folder is created if missing (mode 0700). It is
 * refused (false) when it cannot be created, is not owned by this user, or
 * is writable by its group or others: cached binaries run as native code
 * on CPU drivers. Each folder is checked once per process. */
bool cp_cache_dir(char *dir, size_t size);
/* Why the last folder checked was refused (for one warning), or NULL. */
const char *cp_cache_dir_problem(void);

/* Path of the entry for `key` inside `dir`. */
void cp_cache_entry_path(const char *dir, cp_cache_key key, char *path, size_t size);

typedef enum { CP_CACHE_MISS, CP_CACHE_HIT, CP_CACHE_BAD } cp_cache_result;

/* Loads the binary of `key`; on HIT the caller frees *binary. */
cp_cache_result cp_cache_load(const char *path, cp_cache_key key,
                              unsigned char **binary, size_t *size);

/* Stores atomically (temporary file + rename); failures are ignored: the
 * cache is an optimisation, never a reason to fail a run. */
void cp_cache_store(const char *path, cp_cache_key key,
                    const unsigned char *binary, size_t size);

#endif
