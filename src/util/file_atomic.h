/* Internal: replace a file atomically (a temporary file next to it, then
 * rename), for results such as loss.svg, config.json and tuning files. No
 * fsync: a crash may lose the newest version but never leaves a torn file.
 * (Checkpoints use the safetensors writer, which also fsyncs.) */
#ifndef CP_UTIL_FILE_ATOMIC_H
#define CP_UTIL_FILE_ATOMIC_H
#include <stddef.h>

#include "clinpaint/status.h"

/* CP_ERR_IO naming the step and the system error; nothing left behind. */
cp_status cp_write_file_atomic(const char *path, const char *data, size_t len);
#endif
