/* Reading a whole stream into one buffer (kernel files, run-folder CSVs). */
#include "util/read_stream.h"

#include <stdlib.h>

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
