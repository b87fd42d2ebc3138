/* safetensors: dtype table, UTF-8 check, small formatting helpers. */
#include "io/st_internal.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[CP_ST_DTYPE_COUNT] = {
    [CP_ST_BOOL] = {"BOOL", 1},       [CP_ST_U8] = {"U8", 1},
    [CP_ST_I8] = {"I8", 1},           [CP_ST_F8_E5M2] = {"F8_E5M2", 1},
    [CP_ST_F8_E4M3] = {"F8_E4M3", 1}, [CP_ST_I16] = {"I16", 2},
    [CP_ST_U16] = {"U16", 2},         [CP_ST_F16] = {"F16", 2},
    [CP_ST_BF16] = {"BF16", 2},       [CP_ST_I32] = {"I32", 4},
    [CP_ST_U32] = {"U32", 4},         [CP_ST_F32] = {"F32", 4},
    [CP_ST_I64] = {"I64", 8},         [CP_ST_U64] = {"U64", 8},
    [CP_ST_F64] = {"F64", 8},
};

const char *cp_st_dtype_name(cp_st_dtype dtype)
{
    if ((unsigned)dtype >= CP_ST_DTYPE_COUNT) return "?";
    return dtypes[dtype].name;
}

size_t cp_st_dtype_size(cp_st_dtype dtype)
{
    if ((unsigned)dtype >= CP_ST_DTYPE_COUNT) return 0;
    return dtypes[dtype].size;
}

bool cp_st_dtype_from_name(const char *name, cp_st_dtype *out)
{
    for (int i = 0; i < CP_ST_DTYPE_COUNT; i++) {
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (cp_st_dtype)i;
            return true;
        }
    }
    return false;
}

bool cp_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad_at)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else goto bad;
        if (n - i < len) goto bad;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += len;
    }
    return true;
bad:
    if (bad_at) *bad_at = i;
    return false;
}

void cp_st_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t pos = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    pos += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && pos < cap; i++)
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s%lld", i ? "," : "",
                                (long long)shape[i]);
    if (pos < cap) snprintf(buf + pos, cap - pos, "]");
}

const char *cp_st_strerror(int err, char *buf, size_t cap)
{
    /* XSI strerror_r (we build with _POSIX_C_SOURCE, not _GNU_SOURCE). */
    if (strerror_r(err, buf, cap) != 0) snprintf(buf, cap, "error %d", err);
    return buf;
}
