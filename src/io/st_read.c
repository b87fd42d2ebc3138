/* safetensors reader: reading a file or a buffer whole (validated by
 * st_header.c), then looking its tensors and metadata up. */
#include "io/st_internal.h"
#include "util/try.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cp_status file_new(const char *label, cp_st_file **out)
{
    *out = NULL;
    cp_st_file *f = calloc(1, sizeof *f);
    if (!f) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", label);
    f->label = malloc(strlen(label) + 1);
    if (!f->label) {
        free(f);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", label);
    }
    strcpy(f->label, label);
    *out = f;
    return CP_OK;
}

static cp_status finish(cp_st_file *f, cp_st_file **out)
{
    cp_status st = cp_st_parse_buffer(f);
    if (st != CP_OK) {
        cp_st_close(f);
        return st;
    }
    *out = f;
    return CP_OK;
}

cp_status cp_st_parse(const uint8_t *data, size_t size, const char *label,
                      cp_st_file **out)
{
    if (!out || (!data && size))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_parse: NULL data or out");
    *out = NULL;
    if (!label) label = "<memory>";
    cp_st_file *f;
    CP_TRY(file_new(label, &f));
    /* An exact-size copy: the caller keeps its buffer, and sanitizers see
     * any read past the end. */
    f->buf = malloc(size ? size : 1);
    if (!f->buf) {
        cp_st_close(f);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                            "%s: out of host memory while reading the header", label);
    }
    if (size) memcpy(f->buf, data, size);
    f->size = size;
    return finish(f, out);
}

cp_status cp_st_open(const char *path, cp_st_file **out)
{
    if (!path || !out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_open: NULL path or out");
    *out = NULL;
    char eb[128];
    /* O_NONBLOCK: open() on a FIFO would otherwise wait for a writer
     * forever; fstat below refuses anything but a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cp_set_error(CP_ERR_IO, "%s: cannot open: %s", path,
                            cp_st_strerror(errno, eb, sizeof eb));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return cp_set_error(CP_ERR_IO, "%s: cannot stat: %s", path,
                            cp_st_strerror(e, eb, sizeof eb));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return cp_set_error(CP_ERR_IO, "%s: not a regular file (%s): refused", path,
                            S_ISDIR(sb.st_mode) ? "a folder" : S_ISFIFO(sb.st_mode) ? "a FIFO"
                            : S_ISSOCK(sb.st_mode) ? "a socket" : "a device");
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return cp_set_error(CP_ERR_IO, "%s: file too large for memory", path);
    }
    cp_st_file *f;
    cp_status st = file_new(path, &f);
    if (st != CP_OK) {
        close(fd);
        return st;
    }
    size_t size = (size_t)sb.st_size;
    f->buf = malloc(size ? size : 1);
    if (!f->buf) {
        close(fd);
        cp_st_close(f);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                            "%s: out of host memory reading %zu bytes", path,
                            size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, f->buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            cp_st_close(f);
            if (r == 0)
                return cp_set_error(CP_ERR_IO,
                                    "%s: file shrank while being read (%zu of "
                                    "%zu bytes)", path, got, size);
            return cp_set_error(CP_ERR_IO, "%s: read failed: %s", path,
                                cp_st_strerror(e, eb, sizeof eb));
        }
        got += (size_t)r;
    }
    close(fd);
    f->size = size;
    return finish(f, out);
}

void cp_st_close(cp_st_file *f)
{
    if (!f) return;
    cJSON_Delete(f->root);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->buf);
    free(f->label);
    free(f);
}

const char *cp_st_label(const cp_st_file *f) { return f->label; }

size_t cp_st_count(const cp_st_file *f) { return f->count; }

const cp_st_tensor *cp_st_at(const cp_st_file *f, size_t index)
{
    return index < f->count ? &f->tensors[index] : NULL;
}

const cp_st_tensor *cp_st_find(const cp_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

cp_status cp_st_get_f32(const cp_st_file *f, const char *name, int ndim,
                        const int64_t *expected_shape, float *out)
{
    if (!f || !name || ndim < 0 || ndim > CP_ST_MAX_DIMS ||
        (ndim && !expected_shape))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_get_f32: bad arguments for '%s'",
                            name ? name : "(null)");
    const cp_st_tensor *t = cp_st_find(f, name);
    if (!t)
        return cp_set_error(CP_ERR_FORMAT, "%s: tensor '%s' not found",
                            f->label, name);
    if (t->dtype != CP_ST_F32)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: %s: dtype %s in file, model expects F32",
                            f->label, name, cp_st_dtype_name(t->dtype));
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == expected_shape[i];
    if (!same) {
        char a[256], b[256];
        cp_st_format_shape(a, sizeof a, t->ndim, t->shape);
        cp_st_format_shape(b, sizeof b, ndim, expected_shape);
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: %s: shape %s in file, model expects %s",
                            f->label, name, a, b);
    }
    if (t->numel && !out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_get_f32: NULL output for '%s'", name);
    /* Explicit little-endian decode: correct on any host, and the data may
     * be unaligned. Compilers turn this into plain loads on x86/ARM. */
    const uint8_t *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, sizeof u);
    }
    return CP_OK;
}

size_t cp_st_meta_count(const cp_st_file *f) { return f->meta_count; }

const char *cp_st_meta_key(const cp_st_file *f, size_t index)
{
    return index < f->meta_count ? f->meta[index]->string : NULL;
}

const char *cp_st_meta(const cp_st_file *f, const char *key)
{
    size_t lo = 0, hi = f->meta_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta[mid]->string);
        if (c == 0) return f->meta[mid]->valuestring;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}
