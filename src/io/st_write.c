/* safetensors writer: tensors are copied in as little-endian bytes at add
 * time; save writes a temporary file and renames it, so a crash or a full
 * disk never leaves a half-written checkpoint under the final name. */
#include "io/st_internal.h"
#include "util/try.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *name;
    int ndim;
    int64_t shape[CP_ST_MAX_DIMS];
    uint8_t *bytes; /* little-endian F32 */
    size_t nbytes;
} wtensor;

typedef struct {
    char *key, *value;
} wmeta;

struct cp_st_writer {
    wtensor *t;
    size_t n, cap;
    wmeta *m;
    size_t nm, mcap;
};

/* ---- test hooks ---- */
static _Thread_local int64_t fail_after = -1;
static _Thread_local bool fail_fsync, fail_rename;

void cp_st_debug_fail_after_bytes(int64_t n) { fail_after = n < 0 ? -1 : n; }
void cp_st_debug_fail_fsync(bool on) { fail_fsync = on; }
void cp_st_debug_fail_rename(bool on) { fail_rename = on; }

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static cp_status oom(void)
{
    return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                        "safetensors writer: out of host memory");
}

cp_status cp_st_writer_create(cp_st_writer **out)
{
    if (!out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_writer_create: NULL out");
    *out = calloc(1, sizeof **out);
    return *out ? CP_OK : oom();
}

void cp_st_writer_free(cp_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].bytes);
    }
    for (size_t i = 0; i < w->nm; i++) {
        free(w->m[i].key);
        free(w->m[i].value);
    }
    free(w->t);
    free(w->m);
    free(w);
}

static bool utf8_str(const char *s)
{
    return cp_st_utf8_valid((const uint8_t *)s, strlen(s), NULL);
}

cp_status cp_st_writer_add_f32(cp_st_writer *w, const char *name, int ndim,
                               const int64_t *shape, const float *data)
{
    if (!w || !name)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_writer_add_f32: NULL writer or name");
    if (name[0] == '\0' || strcmp(name, "__metadata__") == 0 ||
        !utf8_str(name))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "safetensors writer: invalid tensor name '%s' "
                            "(must be non-empty UTF-8, not __metadata__)",
                            name);
    if (ndim < 0 || ndim > CP_ST_MAX_DIMS || (ndim && !shape))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "safetensors writer: tensor '%s': ndim %d not in "
                            "0..%d", name, ndim, CP_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "safetensors writer: tensor '%s': shape[%d] "
                                "is %lld", name, i, (long long)shape[i]);
        uint64_t d = (uint64_t)shape[i];
        if (d && numel > (SIZE_MAX / 4) / d)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "safetensors writer: tensor '%s': shape too "
                                "large", name);
        numel *= d;
    }
    if (numel && !data)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "safetensors writer: tensor '%s': NULL data",
                            name);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "safetensors writer: duplicate tensor name "
                                "'%s'", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return oom();
        w->t = t;
        w->cap = cap;
    }
    wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->nbytes = (size_t)numel * 4;
    t->name = dup_str(name);
    t->bytes = malloc(t->nbytes ? t->nbytes : 1);
    if (!t->name || !t->bytes) {
        free(t->name);
        free(t->bytes);
        return oom();
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    /* Explicit little-endian encode, independent of the host byte order. */
    for (uint64_t i = 0; i < numel; i++) {
        uint32_t u;
        memcpy(&u, &data[i], sizeof u);
        uint8_t *p = t->bytes + 4 * i;
        p[0] = (uint8_t)u;
        p[1] = (uint8_t)(u >> 8);
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 24);
    }
    w->n++;
    return CP_OK;
}

cp_status cp_st_writer_set_meta(cp_st_writer *w, const char *key,
                                const char *value)
{
    if (!w || !key || !value)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_writer_set_meta: NULL argument");
    if (!utf8_str(key) || !utf8_str(value))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "safetensors writer: metadata '%s' is not valid "
                            "UTF-8", key);
    char *v = dup_str(value);
    if (!v) return oom();
    for (size_t i = 0; i < w->nm; i++) {
        if (strcmp(w->m[i].key, key) == 0) {
            free(w->m[i].value);
            w->m[i].value = v;
            return CP_OK;
        }
    }
    if (w->nm == w->mcap) {
        size_t cap = w->mcap ? 2 * w->mcap : 16;
        wmeta *m = realloc(w->m, cap * sizeof *m);
        if (!m) {
            free(v);
            return oom();
        }
        w->m = m;
        w->mcap = cap;
    }
    char *k = dup_str(key);
    if (!k) {
        free(v);
        return oom();
    }
    w->m[w->nm].key = k;
    w->m[w->nm].value = v;
    w->nm++;
    return CP_OK;
}

/* An integer as a raw JSON token: cJSON would print doubles past 1e15 in
 * exponent form, which integer-only readers reject. */
static bool add_uint(cJSON *arr, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRIu64, v);
    cJSON *n = cJSON_CreateRaw(s);
    return n && cJSON_AddItemToArray(arr, n);
}

/* The header JSON: __metadata__ first (if any), then the tensors in the
 * order added, with contiguous data_offsets in that order. */
static char *build_header(const cp_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (w->nm) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto fail;
        for (size_t i = 0; i < w->nm; i++)
            if (!cJSON_AddStringToObject(m, w->m[i].key, w->m[i].value))
                goto fail;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const wtensor *t = &w->t[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", "F32")) goto fail;
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        if (!sh) goto fail;
        for (int d = 0; d < t->ndim; d++)
            if (!add_uint(sh, (uint64_t)t->shape[d])) goto fail;
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        if (!of || !add_uint(of, off) || !add_uint(of, off + t->nbytes))
            goto fail;
        off += t->nbytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
fail:
    cJSON_Delete(root);
    return NULL;
}

typedef struct {
    int fd;
    const char *path, *tmp;
} out_file;

/* Writes all n bytes; the test hook fails it with ENOSPC partway. */
static cp_status write_all(out_file *o, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    char eb[128];
    while (n) {
        size_t chunk = n;
        bool inject = false;
        if (fail_after >= 0) {
            if ((uint64_t)fail_after < chunk) {
                chunk = (size_t)fail_after;
                inject = true;
            }
        }
        ssize_t r = chunk ? write(o->fd, p, chunk) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || (r == 0 && inject)) {
            int e = r < 0 ? errno : ENOSPC;
            return cp_set_error(CP_ERR_IO,
                                "%s: writing the temporary file %s failed: "
                                "%s", o->path, o->tmp,
                                cp_st_strerror(e, eb, sizeof eb));
        }
        if (r == 0)
            return cp_set_error(CP_ERR_IO,
                                "%s: writing the temporary file %s made no "
                                "progress", o->path, o->tmp);
        if (fail_after >= 0) fail_after -= r;
        p += r;
        n -= (size_t)r;
    }
    return CP_OK;
}

/* Folder of `path` ("." if none), malloc'd. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_str(".");
    if (slash == path) return dup_str("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

cp_status cp_st_writer_save(const cp_st_writer *w, const char *path)
{
    if (!w || !path || !path[0])
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_st_writer_save: NULL writer or empty path");
    char eb[128];
    cp_status st = CP_OK;
    char *json = build_header(w);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    char *dir = folder_of(path);
    out_file o = {-1, path, tmp};
    bool tmp_exists = false;
    if (!json || !tmp || !dir) {
        st = oom();
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");

    /* Pad with spaces so the data area starts 8-byte aligned, as the
     * reference writer does. */
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) & ~(size_t)7;
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

    o.fd = mkstemp(tmp);
    if (o.fd < 0) {
        st = cp_set_error(CP_ERR_IO,
                          "%s: cannot create a temporary file in folder %s: "
                          "%s", path, dir, cp_st_strerror(errno, eb, sizeof eb));
        goto done;
    }
    tmp_exists = true;
    /* mkstemp makes 0600; keep the mode of the file being replaced. */
    struct stat sb;
    mode_t mode = 0644;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) mode = sb.st_mode & 07777;
    if (fchmod(o.fd, mode) != 0) {
        st = cp_set_error(CP_ERR_IO, "%s: chmod of the temporary file %s "
                          "failed: %s", path, tmp,
                          cp_st_strerror(errno, eb, sizeof eb));
        goto done;
    }

    CP_TRY_GOTO(write_all(&o, prefix, 8), done);
    CP_TRY_GOTO(write_all(&o, json, jlen), done);
    CP_TRY_GOTO(write_all(&o, spaces, hlen - jlen), done);
    for (size_t i = 0; i < w->n; i++)
        CP_TRY_GOTO(write_all(&o, w->t[i].bytes, w->t[i].nbytes), done);

    /* Data must be on disk before the rename makes it visible, or a crash
     * could leave an empty file under the final name. */
    if (fail_fsync || fsync(o.fd) != 0) {
        st = cp_set_error(CP_ERR_IO, "%s: fsync of the temporary file %s "
                          "failed: %s", path, tmp,
                          cp_st_strerror(fail_fsync ? EIO : errno, eb,
                                         sizeof eb));
        goto done;
    }
    int fd = o.fd;
    o.fd = -1;
    if (close(fd) != 0) {
        st = cp_set_error(CP_ERR_IO, "%s: closing the temporary file %s "
                          "failed: %s", path, tmp,
                          cp_st_strerror(errno, eb, sizeof eb));
        goto done;
    }
    if (fail_rename || rename(tmp, path) != 0) {
        st = cp_set_error(CP_ERR_IO, "%s: renaming the temporary file %s "
                          "onto it failed: %s", path, tmp,
                          cp_st_strerror(fail_rename ? EXDEV : errno, eb,
                                         sizeof eb));
        goto done;
    }
    tmp_exists = false;

    /* Make the rename itself durable. Some file systems cannot fsync a
     * folder (EINVAL); the file is in place then, so that is not an error. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {
        st = cp_set_error(CP_ERR_IO, "%s: the checkpoint was written, but "
                          "syncing folder %s failed: %s", path, dir,
                          cp_st_strerror(errno, eb, sizeof eb));
    }
    if (dfd >= 0) close(dfd);

done:
    if (o.fd >= 0) close(o.fd);
    if (tmp_exists) unlink(tmp);
    free(json);
    free(tmp);
    free(dir);
    return st;
}
