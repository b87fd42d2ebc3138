/* Reading a whole regular file with a size cap (clinpaint/files.h): the
 * tuning and conv-route files, kernel folders, run-folder logs, bench
 * files. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/files.h"
#include "clinpaint/status.h"

/* The rest of f as a malloc'd, NUL-terminated buffer holding *size bytes
 * before the NUL. NULL on a read error or when memory runs out; *no_memory
 * says which. Does not close f. */
static char *read_rest(FILE *f, size_t *size, bool *no_memory)
{
    *size = 0;
    *no_memory = false;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            /* Doubling keeps the copies linear in the file's size. */
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (!buf) {
        *no_memory = true;
        return NULL;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *size = n;
    return buf;
}

cp_status cp_read_file(const char *path, size_t max_bytes, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer; it is refused below, once fstat has said what it is. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return cp_set_error(CP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cp_set_error(CP_ERR_IO, "%s is not a regular file", path);
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return cp_set_error(CP_ERR_IO, "%s is larger than %zu bytes", path, max_bytes);
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        close(fd);
        return cp_set_error(CP_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    bool no_memory;
    char *buf = read_rest(f, size, &no_memory);
    int read_errno = errno;
    fclose(f);
    if (!buf)
        return no_memory ? cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "reading %s", path)
                         : cp_set_error(CP_ERR_IO, "cannot read %s: %s", path,
                                        strerror(read_errno));
    if (max_bytes && *size > max_bytes) { /* grew while being read */
        free(buf);
        *size = 0;
        return cp_set_error(CP_ERR_IO, "%s is larger than %zu bytes", path, max_bytes);
    }
    *data = buf;
    return CP_OK;
}
