/* clinpaint: safetensors checkpoints (reader and atomic writer).
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * u64 header length N, N bytes of UTF-8 JSON, then the data area. The JSON
 * maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data area) plus an optional "__metadata__" object
 * of string values. See docs/checkpoints.md.
 *
 * The reader validates every field before use; any problem is CP_ERR_FORMAT
 * with a message naming the file and what is wrong, I/O problems CP_ERR_IO.
 */
#ifndef CLINPAINT_SAFETENSORS_H
#define CLINPAINT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_ST_MAX_DIMS 8
/* Largest accepted JSON header, as the reference implementation caps it. */
#define CP_ST_MAX_HEADER_BYTES 100000000u

typedef enum cp_st_dtype {
    CP_ST_BOOL, CP_ST_U8, CP_ST_I8, CP_ST_F8_E5M2, CP_ST_F8_E4M3,
    CP_ST_I16, CP_ST_U16, CP_ST_F16, CP_ST_BF16,
    CP_ST_I32, CP_ST_U32, CP_ST_F32,
    CP_ST_I64, CP_ST_U64, CP_ST_F64,
    CP_ST_DTYPE_COUNT
} cp_st_dtype;

/* "F32", "BF16", ...; "?" for an out-of-range value. */
const char *cp_st_dtype_name(cp_st_dtype dtype);
/* Bytes per element (1, 2, 4 or 8); 0 for an out-of-range value. */
size_t cp_st_dtype_size(cp_st_dtype dtype);

/* ---------------------------------------------------------------- reader */

typedef struct cp_st_file cp_st_file;

/* One tensor of an open file; valid until cp_st_close. */
typedef struct cp_st_tensor {
    const char *name;
    cp_st_dtype dtype;
    int ndim;                         /* 0 (scalar) .. CP_ST_MAX_DIMS */
    int64_t shape[CP_ST_MAX_DIMS];    /* first ndim entries used */
    uint64_t numel;                   /* product of shape (1 for a scalar) */
    size_t nbytes;                    /* numel * dtype size */
    /* Raw little-endian bytes inside the file buffer. Not necessarily
     * aligned for the element type: copy (cp_st_get_f32) rather than cast. */
    const uint8_t *data;
} cp_st_tensor;

/* Reads and validates the whole file at `path`. */
cp_status cp_st_open(const char *path, cp_st_file **out);

/* Validates `size` bytes in memory; the bytes are copied, so `data` may be
 * freed afterwards. `label` names the source in messages (NULL: "<memory>"). */
cp_status cp_st_parse(const uint8_t *data, size_t size, const char *label,
                      cp_st_file **out);

/* Frees everything. NULL is allowed. */
void cp_st_close(cp_st_file *f);

/* The path or label given at open. */
const char *cp_st_label(const cp_st_file *f);

/* Tensors, in data-area order (ascending data_offsets, ties by name). */
size_t cp_st_count(const cp_st_file *f);
const cp_st_tensor *cp_st_at(const cp_st_file *f, size_t index);

/* Tensor by name, or NULL (binary search). */
const cp_st_tensor *cp_st_find(const cp_st_file *f, const char *name);

/* Copies tensor `name` into `out` (numel floats) after checking that it
 * exists, is F32 and has exactly the shape `expected_shape[0..ndim)`.
 * Failures are CP_ERR_FORMAT, e.g. "ckpt.safetensors: G.enc1.conv3.weight:
 * shape [16,4,3,3] in file, model expects [32,4,3,3]". */
cp_status cp_st_get_f32(const cp_st_file *f, const char *name, int ndim,
                        const int64_t *expected_shape, float *out);

/* __metadata__ entries, sorted by key. cp_st_meta returns NULL if absent. */
size_t cp_st_meta_count(const cp_st_file *f);
const char *cp_st_meta_key(const cp_st_file *f, size_t index);
const char *cp_st_meta(const cp_st_file *f, const char *key);

/* ---------------------------------------------------------------- writer */

typedef struct cp_st_writer cp_st_writer;

cp_status cp_st_writer_create(cp_st_writer **out);
void cp_st_writer_free(cp_st_writer *w); /* NULL is allowed */

/* Adds an F32 tensor. The data (numel floats, numel = product of shape, 1
 * for ndim 0) is COPIED, so the caller may reuse its buffer right away.
 * ndim 0..CP_ST_MAX_DIMS, every dim >= 0; data may be NULL only if numel is
 * 0. Names must be non-empty UTF-8, not "__metadata__", and unique
 * (a duplicate is CP_ERR_INVALID_ARGUMENT). Tensors are written in the order
 * added, both in the header and in the data area. */
cp_status cp_st_writer_add_f32(cp_st_writer *w, const char *name, int ndim,
                               const int64_t *shape, const float *data);

/* Sets a __metadata__ string (UTF-8); setting a key again replaces it. */
cp_status cp_st_writer_set_meta(cp_st_writer *w, const char *key,
                                const char *value);

/* Writes the file atomically: a temporary `path.tmp.XXXXXX` in the same
 * folder, fsync, rename over `path`, fsync of the folder. On failure the
 * temporary file is removed and any previous `path` is left untouched; the
 * message names the step and the system error (e.g. "No space left on
 * device"). A new file gets mode 0644; an existing one keeps its mode.
 * The writer is unchanged and can be saved again. */
cp_status cp_st_writer_save(const cp_st_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
