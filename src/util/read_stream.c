/* Reading a whole stream into one buffer (kernel files, run-folder CSVs),
 * and a whole file with a size cap (clinpaint/files.h). */
#include "util/read_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/files.h"
#include "clinpaint/status.h"

char *cp_read_stream(FILE *f, size_t *size, bool *no_memory)
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
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        close(fd);
        return cp_set_error(CP_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return cp_set_error(CP_ERR_IO, "%s is larger than %zu bytes", path, max_bytes);
    }
    bool no_memory;
    char *buf = cp_read_stream(f, size, &no_memory);
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
