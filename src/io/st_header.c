/* safetensors header validation: every field of the header is checked
 * before any offset or size from it is used, since checkpoints may come
 * from anywhere. */
#include "io/st_internal.h"
#include "util/try.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON parses numbers as doubles, which hold every integer below 2^53
 * exactly; 2^53 and above may be a rounded larger value, so they are refused
 * (no real tensor or offset comes near: 2^53 bytes is 8 PiB). */
#define ST_MAX_INT 9007199254740992.0
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static cp_status oom(const char *label)
{
    return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                        "%s: out of host memory while reading the header",
                        label);
}

/* Lexical checks that cJSON does not make but strict JSON readers (the
 * reference implementation's serde_json) do, so that we accept no file they
 * refuse: cJSON treats any control byte as whitespace, skips a UTF-8 BOM,
 * allows raw control bytes in strings and leading zeros in numbers, and
 * would take 1.0 or 1e3 as an integer shape. A "\u0000" escape would also
 * cut a name short in C and make two different names compare equal. */
static cp_status scan_header(const char *label, const uint8_t *h, size_t n)
{
    size_t bad;
    if (!cp_st_utf8_valid(h, n, &bad))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: header is not valid UTF-8 (byte %zu)",
                            label, 8 + bad);
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        if (c == '\0')
            return cp_set_error(CP_ERR_FORMAT,
                                "%s: header contains a NUL byte (at byte %zu)",
                                label, 8 + i);
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c < 0x20) {
                return cp_set_error(CP_ERR_FORMAT,
                                    "%s: header has an unescaped control "
                                    "character 0x%02x in a string (at byte "
                                    "%zu)", label, c, 8 + i);
            } else if (c == '\\' && i + 1 < n) {
                if (h[i + 1] == 'u') {
                    /* cJSON decodes a malformed \\u escape as U+0000 */
                    bool hex = n - i >= 6;
                    for (size_t k = 2; hex && k < 6; k++)
                        hex = strchr("0123456789abcdefABCDEF", h[i + k]) &&
                              h[i + k] != '\0';
                    if (!hex)
                        return cp_set_error(CP_ERR_FORMAT,
                                            "%s: header string has a malformed "
                                            "\\u escape (at byte %zu)", label,
                                            8 + i);
                    if (memcmp(h + i + 2, "0000", 4) == 0)
                        return cp_set_error(CP_ERR_FORMAT,
                                            "%s: header string contains a "
                                            "\\u0000 escape (at byte %zu)",
                                            label, 8 + i);
                }
                i++; /* skip the escaped character */
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            bool integer = true;
            while (j < n && h[j] != '\0' && strchr("0123456789+-.eE", h[j])) {
                if (h[j] == '.' || h[j] == 'e' || h[j] == 'E') integer = false;
                j++;
            }
            int shown = (int)(j - i > 40 ? 40 : j - i);
            if (!integer)
                return cp_set_error(CP_ERR_FORMAT,
                                    "%s: non-integer number '%.*s' at byte %zu "
                                    "of the header (shapes and offsets must be "
                                    "integers)", label, shown,
                                    (const char *)h + i, 8 + i);
            size_t d = c == '-' ? i + 1 : i;
            if (d + 1 < j && h[d] == '0')
                return cp_set_error(CP_ERR_FORMAT,
                                    "%s: number '%.*s' with a leading zero at "
                                    "byte %zu of the header", label, shown,
                                    (const char *)h + i, 8 + i);
            i = j - 1;
        } else if ((c < 0x20 && c != ' ' && c != '\t' && c != '\n' &&
                    c != '\r') || c >= 0x7f) {
            return cp_set_error(CP_ERR_FORMAT,
                                "%s: header has an invalid byte 0x%02x outside "
                                "any JSON string (at byte %zu)", label, c,
                                8 + i);
        }
    }
    return CP_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps duplicate keys; JSON readers disagree on which wins, so a
 * duplicate is an error. */
static cp_status check_duplicates(const char *label, const cJSON *obj,
                                  const char *where)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    if (n < 2) return CP_OK;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return oom(label);
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) keys[i++] = c->string;
    qsort(keys, n, sizeof *keys, cmp_str_ptr);
    cp_status st = CP_OK;
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            st = cp_set_error(CP_ERR_FORMAT, "%s: duplicate key '%s' in %s",
                              label, keys[i], where);
            break;
        }
    }
    free(keys);
    return st;
}

/* A non-negative integer below 2^53 (exact as a double). */
static cp_status get_uint(const char *label, const char *tname,
                          const char *field, int index, const cJSON *item,
                          uint64_t *out)
{
    char what[64];
    snprintf(what, sizeof what, "%s[%d]", field, index);
    if (!cJSON_IsNumber(item))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': %s is not a number", label,
                            tname, what);
    double d = item->valuedouble;
    if (!(d >= 0.0))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': %s is %g, must be a "
                            "non-negative integer", label, tname, what, d);
    if (d >= ST_MAX_INT)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': %s is %g, too large (limit "
                            "2^53 - 1)", label, tname, what, d);
    if ((double)(uint64_t)d != d)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': %s is %g, must be an integer",
                            label, tname, what, d);
    *out = (uint64_t)d;
    return CP_OK;
}

static const cJSON *get_field(const cJSON *obj, const char *key)
{
    for (const cJSON *c = obj->child; c; c = c->next)
        if (strcmp(c->string, key) == 0) return c;
    return NULL;
}

/* Fills t from one header entry; begin/end are the data_offsets. */
static cp_status parse_entry(const char *label, const cJSON *e,
                             size_t data_size, cp_st_tensor *t,
                             uint64_t *begin, uint64_t *end)
{
    const char *name = e->string;
    t->name = name;
    if (name[0] == '\0')
        return cp_set_error(CP_ERR_FORMAT, "%s: tensor with an empty name",
                            label);
    if (!cJSON_IsObject(e))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': entry is not a JSON object",
                            label, name);
    char where[96];
    snprintf(where, sizeof where, "the entry of tensor '%.60s'", name);
    CP_TRY(check_duplicates(label, e, where));

    const cJSON *dt = get_field(e, "dtype");
    const cJSON *sh = get_field(e, "shape");
    const cJSON *of = get_field(e, "data_offsets");
    if (!dt || !sh || !of)
        return cp_set_error(CP_ERR_FORMAT, "%s: tensor '%s': missing \"%s\"",
                            label, name,
                            !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': dtype is not a string", label,
                            name);
    if (!cp_st_dtype_from_name(dt->valuestring, &t->dtype))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': unknown or unsupported dtype "
                            "'%.40s'", label, name, dt->valuestring);

    if (!cJSON_IsArray(sh))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': shape is not an array", label,
                            name);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > CP_ST_MAX_DIMS)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': shape has %d dimensions, at "
                            "most %d are supported", label, name, ndim,
                            CP_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    bool overflow = false;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        CP_TRY(get_uint(label, name, "shape", i, d, &v));
        t->shape[i] = (int64_t)v;
        if (v != 0 && numel > UINT64_MAX / v) overflow = true;
        else numel *= v;
    }
    size_t esize = cp_st_dtype_size(t->dtype);
    /* A zero dimension makes the product 0 whatever overflowed before. */
    for (i = 0; i < ndim; i++)
        if (t->shape[i] == 0) { overflow = false; numel = 0; }
    if (overflow || numel > SIZE_MAX / esize) {
        char s[256];
        cp_st_format_shape(s, sizeof s, ndim, t->shape);
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': shape %s of %s overflows the "
                            "byte size", label, name, s,
                            cp_st_dtype_name(t->dtype));
    }
    t->numel = numel;
    t->nbytes = (size_t)numel * esize;

    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets is not an array of "
                            "two integers", label, name);
    CP_TRY(get_uint(label, name, "data_offsets", 0, of->child, begin));
    CP_TRY(get_uint(label, name, "data_offsets", 1, of->child->next, end));
    if (*begin > *end)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu,%llu] end "
                            "before they begin", label, name,
                            (unsigned long long)*begin,
                            (unsigned long long)*end);
    if (*end > data_size)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu,%llu] lie "
                            "outside the data area of %zu bytes (file "
                            "truncated?)", label, name,
                            (unsigned long long)*begin,
                            (unsigned long long)*end, data_size);
    if (*end - *begin != t->nbytes) {
        char s[256];
        cp_st_format_shape(s, sizeof s, ndim, t->shape);
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: tensor '%s': shape %s of %s needs %zu bytes "
                            "but data_offsets [%llu,%llu] span %llu", label,
                            name, s, cp_st_dtype_name(t->dtype), t->nbytes,
                            (unsigned long long)*begin,
                            (unsigned long long)*end,
                            (unsigned long long)(*end - *begin));
    }
    return CP_OK;
}

typedef struct {
    cp_st_tensor t;
    uint64_t begin, end;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->t.name, y->t.name);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const cp_st_tensor *const *)a)->name,
                  (*(const cp_st_tensor *const *)b)->name);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string,
                  (*(const cJSON *const *)b)->string);
}

static cp_status parse_metadata(cp_st_file *f, const cJSON *m)
{
    const char *label = f->label;
    if (!cJSON_IsObject(m))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: __metadata__ is not a JSON object", label);
    CP_TRY(check_duplicates(label, m, "__metadata__"));
    size_t n = 0;
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return cp_set_error(CP_ERR_FORMAT,
                                "%s: __metadata__ value of '%s' is not a "
                                "string", label, c->string);
        n++;
    }
    if (n == 0) return CP_OK;
    f->meta = malloc(n * sizeof *f->meta);
    if (!f->meta) return oom(label);
    for (const cJSON *c = m->child; c; c = c->next) f->meta[f->meta_count++] = c;
    qsort(f->meta, n, sizeof *f->meta, cmp_meta);
    return CP_OK;
}

cp_status cp_st_parse_buffer(cp_st_file *f)
{
    const char *label = f->label;
    if (f->size < 8)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: file is %zu bytes, too short for a "
                            "safetensors file (needs at least the 8-byte "
                            "header length)", label, f->size);
    uint64_t hlen = load_le64(f->buf);
    if (hlen > CP_ST_MAX_HEADER_BYTES)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: header length %llu exceeds the limit of %u "
                            "bytes (not a safetensors file?)", label,
                            (unsigned long long)hlen, CP_ST_MAX_HEADER_BYTES);
    if (hlen > f->size - 8)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: header length %llu exceeds file size %zu "
                            "minus 8 (file truncated or not safetensors)",
                            label, (unsigned long long)hlen, f->size);
    const uint8_t *h = f->buf + 8;
    size_t n = (size_t)hlen;
    CP_TRY(scan_header(label, h, n));

    char *text = malloc(n + 1);
    if (!text) return oom(label);
    memcpy(text, h, n);
    text[n] = '\0';
    const char *end = NULL;
    f->root = cJSON_ParseWithOpts(text, &end, 1);
    size_t err_at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!f->root)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: header is not valid JSON (error near byte "
                            "%zu)", label, 8 + err_at);
    if (!cJSON_IsObject(f->root))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: header is JSON but not an object", label);
    CP_TRY(check_duplicates(label, f->root, "the header"));

    size_t data_size = f->size - 8 - n;
    size_t count = 0;
    for (const cJSON *e = f->root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) count++;
    span *spans = count ? calloc(count, sizeof *spans) : NULL;
    if (count && !spans) return oom(label);

    cp_status st = CP_OK;
    size_t i = 0;
    for (const cJSON *e = f->root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            st = parse_metadata(f, e);
        } else {
            st = parse_entry(label, e, data_size, &spans[i].t,
                             &spans[i].begin, &spans[i].end);
            i++;
        }
        if (st != CP_OK) goto done;
    }

    /* Tensors must tile the data area exactly, as in the reference reader:
     * no overlap (aliasing), no gap or tail (truncation, smuggled bytes). */
    if (count) qsort(spans, count, sizeof *spans, cmp_span);
    uint64_t pos = 0;
    for (i = 0; i < count; i++) {
        if (spans[i].begin < pos) {
            st = cp_set_error(CP_ERR_FORMAT,
                              "%s: tensors '%s' and '%s' overlap in the data "
                              "area (data_offsets [%llu,%llu] and "
                              "[%llu,%llu])", label, spans[i - 1].t.name,
                              spans[i].t.name,
                              (unsigned long long)spans[i - 1].begin,
                              (unsigned long long)spans[i - 1].end,
                              (unsigned long long)spans[i].begin,
                              (unsigned long long)spans[i].end);
            goto done;
        }
        if (spans[i].begin > pos) {
            st = cp_set_error(CP_ERR_FORMAT,
                              "%s: gap in the data area: bytes [%llu,%llu) "
                              "before tensor '%s' belong to no tensor", label,
                              (unsigned long long)pos,
                              (unsigned long long)spans[i].begin,
                              spans[i].t.name);
            goto done;
        }
        pos = spans[i].end;
    }
    if (pos != data_size) {
        st = cp_set_error(CP_ERR_FORMAT,
                          "%s: data area has %llu bytes after the last tensor "
                          "that belong to no tensor (data area %zu bytes, "
                          "tensors end at %llu)", label,
                          (unsigned long long)(data_size - pos), data_size,
                          (unsigned long long)pos);
        goto done;
    }

    f->count = count;
    if (count) {
        f->tensors = calloc(count, sizeof *f->tensors);
        f->by_name = calloc(count, sizeof *f->by_name);
        if (!f->tensors || !f->by_name) { st = oom(label); goto done; }
    }
    const uint8_t *data = f->buf + 8 + n;
    for (i = 0; i < count; i++) {
        f->tensors[i] = spans[i].t;
        f->tensors[i].data = data + spans[i].begin;
        f->by_name[i] = &f->tensors[i];
    }
    if (count) qsort(f->by_name, count, sizeof *f->by_name, cmp_tensor_name);
done:
    free(spans);
    return st;
}
