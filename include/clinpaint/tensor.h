/* clinpaint tensors: up to 4-D NCHW float32 on a device, stored as a buffer
 * and an offset in elements (no sub-buffers: their alignment rules break on
 * several drivers, and CLBlast takes (buffer, offset) pairs anyway). */
#ifndef CLINPAINT_TENSOR_H
#define CLINPAINT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_MAX_DIMS 4
#define CP_NAME_MAX 96

typedef struct cp_tensor {
    cl_mem buf;          /* device buffer holding the data */
    size_t offset;       /* first element, in floats, inside buf */
    int ndim;            /* 1..4 */
    int64_t shape[CP_MAX_DIMS]; /* NCHW order; unused trailing dims are 1 */
    char name[CP_NAME_MAX];
    bool owns_buffer;    /* cp_tensor_free releases buf */
} cp_tensor;

/* Number of elements. */
size_t cp_tensor_numel(const cp_tensor *t);

/* Allocates a tensor with its own buffer. shape has ndim entries (1..4),
 * each > 0. `name` may be NULL. Contents are undefined. */
cp_status cp_tensor_create(cp_context *ctx, int ndim, const int64_t *shape,
                           const char *name, cp_tensor *out);
/* Shorthand for a 4-D NCHW tensor. */
cp_status cp_tensor_create4(cp_context *ctx, int64_t n, int64_t c, int64_t h,
                            int64_t w, const char *name, cp_tensor *out);

/* A tensor that views `numel` floats of an existing buffer at `offset`
 * (elements); it does not own the buffer. */
cp_tensor cp_tensor_view(cl_mem buf, size_t offset, int ndim,
                         const int64_t *shape, const char *name);

/* Releases the buffer if owned and zeroes the struct. Safe on a zeroed one. */
void cp_tensor_free(cp_context *ctx, cp_tensor *t);

/* Blocking copies between host floats and the tensor (all its elements). */
cp_status cp_tensor_upload(cp_context *ctx, cp_tensor *t, const float *host);
cp_status cp_tensor_download(cp_context *ctx, const cp_tensor *t, float *host);
/* Non-blocking fill of every element with `value` (enqueued). */
cp_status cp_tensor_fill(cp_context *ctx, cp_tensor *t, float value);
/* Non-blocking device copy; the element counts must match. */
cp_status cp_tensor_copy(cp_context *ctx, const cp_tensor *src, cp_tensor *dst);

/* Raw (buffer, offset) helpers used by the operators and the scheduler. */
cp_status cp_buffer_fill(cp_context *ctx, cl_mem buf, size_t offset_elems,
                         size_t count, float value);
cp_status cp_buffer_copy(cp_context *ctx, cl_mem src, size_t src_offset,
                         cl_mem dst, size_t dst_offset, size_t count);

/* "name[2,3,4,5]" into buf, for messages. */
const char *cp_tensor_describe(const cp_tensor *t, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
