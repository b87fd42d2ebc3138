/* Internal: replace a file atomically (a temporary file next to it, every
 * write checked, fsync, then rename), for results such as loss.svg,
 * config.json, bench JSON and tuning files: a crash or a full disk leaves
 * the previous version, never a torn or empty file. (Checkpoints use the
 * safetensors writer, which does the same.) */
#ifndef CP_UTIL_FILE_ATOMIC_H
#define CP_UTIL_FILE_ATOMIC_H
#include <stddef.h>

/* cp_write_file_atomic is public (clinpaint/files.h). */
#include "clinpaint/files.h"
#endif
