/* Files: atomic replacement of a result file, reading a whole file with a
 * size cap, and the kernel cache folder
 * (for programs that report on it, as `clinpaint` does). */
#ifndef CLINPAINT_FILES_H
#define CLINPAINT_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replaces path with data: a temporary file next to it, every write
 * checked, fsync, then rename, so a crash or a full disk leaves the
 * previous version, never a torn or empty file. CP_ERR_IO naming the step
 * and the system error; nothing left behind. */
cp_status cp_write_file_atomic(const char *path, const char *data, size_t len);

/* The whole of a regular file of at most max_bytes (0: no limit) as a
 * malloc'd buffer (free() it) with a NUL after its *size bytes. CP_ERR_IO
 * naming the file and the system error, or saying it is not a regular file
 * or is larger than max_bytes; CP_ERR_OUT_OF_HOST_MEMORY. */
cp_status cp_read_file(const char *path, size_t max_bytes, char **data, size_t *size);

/* Whether `dir` can hold the compiled-kernel cache (cp_context_options.
 * cache_dir). It is created if missing (mode 0700) and refused when it
 * cannot be, is not owned by this user, or is writable by its group or
 * others: cached binaries run as native code on CPU drivers. If refused,
 * why (in `why`; "" for NULL or ""). Each folder is checked once per
 * process. */
bool cp_cache_dir_usable(const char *dir, char *why, size_t why_size);

#ifdef __cplusplus
}
#endif
#endif
