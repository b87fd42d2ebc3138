/* Whole-file writes that a reader never sees half done. */
#include "util/file_atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err_text(int e, char *buf, size_t n)
{
    if (strerror_r(e, buf, n) != 0) snprintf(buf, n, "error %d", e);
    return buf;
}

cp_status cp_write_file_atomic(const char *path, const char *data, size_t len)
{
    char eb[128];
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    cp_status st = CP_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = cp_set_error(CP_ERR_IO, "%s: cannot create a temporary file next to it: %s",
                          path, err_text(errno, eb, sizeof eb));
        free(tmp);
        return st;
    }
    (void)fchmod(fd, 0644); /* mkstemp makes 0600; these files are for everyone to read */
    const char *q = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, q, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            st = cp_set_error(CP_ERR_IO, "%s: writing the temporary file %s failed: %s", path,
                              tmp, w < 0 ? err_text(errno, eb, sizeof eb) : "no progress");
            break;
        }
        q += w;
        left -= (size_t)w;
    }
    /* On disk before the rename makes it visible: after a crash the file
     * is the old version or the new one, never an empty one. */
    if (st == CP_OK && fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        st = cp_set_error(CP_ERR_IO, "%s: fsync of the temporary file %s failed: %s", path, tmp,
                          err_text(errno, eb, sizeof eb));
    if (close(fd) != 0 && st == CP_OK)
        st = cp_set_error(CP_ERR_IO, "%s: closing the temporary file %s failed: %s", path, tmp,
                          err_text(errno, eb, sizeof eb));
    if (st == CP_OK && rename(tmp, path) != 0)
        st = cp_set_error(CP_ERR_IO, "%s: renaming the temporary file %s onto it failed: %s",
                          path, tmp, err_text(errno, eb, sizeof eb));
    if (st != CP_OK) unlink(tmp);
    free(tmp);
    return st;
}
