/* Files: atomic replacement of a result file, and the kernel cache folder
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

/* Folder of the compiled-kernel cache, or false when disabled
 * (CLINPAINT_NO_CACHE=1) or no folder can be found. The folder is created
 * if missing (mode 0700). It is refused (false) when it cannot be created,
 * is not owned by this user, or is writable by its group or others: cached
 * binaries run as native code on CPU drivers. Each folder is checked once
 * per process. */
bool cp_cache_dir(char *dir, size_t size);
/* Why the last folder checked was refused (for one warning), or NULL. */
const char *cp_cache_dir_problem(void);

#ifdef __cplusplus
}
#endif
#endif
