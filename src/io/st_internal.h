/* Internal: the open file, shared helpers of the safetensors reader and writer, and the
 * test-only failure hooks of the writer. */
#ifndef CP_IO_ST_INTERNAL_H
#define CP_IO_ST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/safetensors.h"

/* An open file: the bytes, the parsed header and the lookup tables. */
struct cJSON;
struct cp_st_file {
    char *label;
    uint8_t *buf;            /* the whole file */
    size_t size;
    struct cJSON *root;             /* parsed header; names point into it */
    cp_st_tensor *tensors;   /* data-area order */
    size_t count;
    const cp_st_tensor **by_name;
    const struct cJSON **meta;      /* __metadata__ entries sorted by key */
    size_t meta_count;
};

/* Validates f->buf[0..f->size) and fills the tables (st_header.c). */
cp_status cp_st_parse_buffer(cp_st_file *f);

/* dtype from its header name ("F32"); false if unknown. */
bool cp_st_dtype_from_name(const char *name, cp_st_dtype *out);

/* True if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF), as the format requires of the header. On failure
 * *bad_at is the offset of the first bad byte. */
bool cp_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad_at);

/* Formats shape as "[2,3,4]" ("[]" for a scalar) into buf. */
void cp_st_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);

/* Thread-safe strerror into buf; returns buf. */
const char *cp_st_strerror(int err, char *buf, size_t cap);

/* ---- test-only hooks (per thread); they simulate write failures. ---- */
/* After `n` more bytes of checkpoint data, writes fail with ENOSPC, as on a
 * full disk; n < 0 turns the hook off (the default). */
void cp_st_debug_fail_after_bytes(int64_t n);
/* Makes the fsync of the temporary file fail with EIO (true) or not. */
void cp_st_debug_fail_fsync(bool on);
/* Makes the rename onto the final path fail with EXDEV (true) or not. */
void cp_st_debug_fail_rename(bool on);

#endif
