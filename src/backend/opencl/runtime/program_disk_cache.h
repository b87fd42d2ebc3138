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

/* Folder of the context's cache (cp_context_options.cache_dir), or false
 * when it has none or cp_cache_dir_usable refuses it. */
bool cp_cache_dir(const cp_context *ctx, char *dir, size_t size);

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
