/* Device tensors: (buffer, offset in elements), shape and name. */
#include "clinpaint/tensor.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/profile.h"

#include <stdio.h>
#include <string.h>

size_t cp_tensor_numel(const cp_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

static cp_status check_shape(int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > CP_MAX_DIMS)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "tensor rank %d is not in 1..%d",
                            ndim, CP_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || (uint64_t)shape[i] > SIZE_MAX / sizeof(float) / n)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "tensor dimension %d has bad size %lld", i,
                                (long long)shape[i]);
        n *= (size_t)shape[i];
    }
    return CP_OK;
}

static void set_meta(cp_tensor *t, int ndim, const int64_t *shape, const char *name)
{
    t->ndim = ndim;
    for (int i = 0; i < CP_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}

cp_status cp_tensor_create(cp_context *ctx, int ndim, const int64_t *shape,
                           const char *name, cp_tensor *out)
{
    memset(out, 0, sizeof *out);
    CP_TRY(check_shape(ndim, shape));
    set_meta(out, ndim, shape, name);
    CP_TRY(cp_buffer_alloc(ctx, cp_tensor_numel(out) * sizeof(float), &out->buf));
    out->owns_buffer = true;
    return CP_OK;
}

cp_status cp_tensor_create4(cp_context *ctx, int64_t n, int64_t c, int64_t h, int64_t w,
                            const char *name, cp_tensor *out)
{
    int64_t shape[4] = {n, c, h, w};
    return cp_tensor_create(ctx, 4, shape, name, out);
}

cp_tensor cp_tensor_view(cl_mem buf, size_t offset, int ndim, const int64_t *shape,
                         const char *name)
{
    cp_tensor t;
    memset(&t, 0, sizeof t);
    set_meta(&t, ndim < 1 ? 1 : ndim > CP_MAX_DIMS ? CP_MAX_DIMS : ndim, shape, name);
    t.buf = buf;
    t.offset = offset;
    return t;
}

void cp_tensor_free(cp_context *ctx, cp_tensor *t)
{
    if (t->owns_buffer && t->buf) cp_buffer_free(ctx, t->buf);
    memset(t, 0, sizeof *t);
}

cp_status cp_tensor_upload(cp_context *ctx, cp_tensor *t, const float *host)
{
    CP_CL_CHECK(clEnqueueWriteBuffer(cp_context_queue(ctx), t->buf, CL_TRUE,
                                     t->offset * sizeof(float),
                                     cp_tensor_numel(t) * sizeof(float), host, 0, NULL,
                                     NULL));
    return CP_OK;
}

cp_status cp_tensor_download(cp_context *ctx, const cp_tensor *t, float *host)
{
    CP_CL_CHECK(clEnqueueReadBuffer(cp_context_queue(ctx), t->buf, CL_TRUE,
                                    t->offset * sizeof(float),
                                    cp_tensor_numel(t) * sizeof(float), host, 0, NULL,
                                    NULL));
    return CP_OK;
}

cp_status cp_buffer_fill(cp_context *ctx, cl_mem buf, size_t offset, size_t count,
                         float value)
{
    if (count == 0) return CP_OK;
    CP_CL_CHECK(clEnqueueFillBuffer(cp_context_queue(ctx), buf, &value, sizeof value,
                                    offset * sizeof(float), count * sizeof(float), 0,
                                    NULL, cp_profile_slot(ctx)));
    return CP_OK;
}

cp_status cp_buffer_copy(cp_context *ctx, cl_mem src, size_t src_offset, cl_mem dst,
                         size_t dst_offset, size_t count)
{
    if (count == 0) return CP_OK;
    CP_CL_CHECK(clEnqueueCopyBuffer(cp_context_queue(ctx), src, dst,
                                    src_offset * sizeof(float), dst_offset * sizeof(float),
                                    count * sizeof(float), 0, NULL, cp_profile_slot(ctx)));
    return CP_OK;
}

cp_status cp_tensor_fill(cp_context *ctx, cp_tensor *t, float value)
{
    return cp_buffer_fill(ctx, t->buf, t->offset, cp_tensor_numel(t), value);
}

cp_status cp_tensor_copy(cp_context *ctx, const cp_tensor *src, cp_tensor *dst)
{
    size_t n = cp_tensor_numel(src);
    if (n != cp_tensor_numel(dst)) {
        char a[160], b[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "copy from %s to %s: sizes differ",
                            cp_tensor_describe(src, a, sizeof a),
                            cp_tensor_describe(dst, b, sizeof b));
    }
    return cp_buffer_copy(ctx, src->buf, src->offset, dst->buf, dst->offset, n);
}

const char *cp_tensor_describe(const cp_tensor *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s[", t->name[0] ? t->name : "tensor");
    for (int i = 0; i < t->ndim && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, i ? ",%lld" : "%lld",
                      (long long)t->shape[i]);
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
    return buf;
}
