/* Shared helpers of the non-GEMM operators (see ops_internal.h) and the
 * whole-tensor sum. Reductions are deterministic work-group trees: each work
 * item keeps a compensated (Neumaier) sum of its strided elements, then the group
 * adds the items' sums pairwise in local memory; no float atomics. */
#include "ops/ops_internal.h"

#include <stdio.h>

size_t cp_opsi_reduce_wg_cap = 0;

cp_status cp_opsi_tensor(const char *op, const char *what, const cp_tensor *t,
                         cp_opsi_nchw *s)
{
    if (!t || !t->buf)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: tensor %s is missing", op, what);
    size_t n = cp_tensor_numel(t);
    char d[160];
    if (n == 0 || n > UINT32_MAX)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s %s has %zu elements (1 .. 2^32-1 supported)", op, what,
                            cp_tensor_describe(t, d, sizeof d), n);
    /* A view past the end of its buffer would write out of bounds on the
     * device, where nothing catches it. */
    size_t bytes = 0;
    CP_CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (t->offset > bytes / sizeof(float) || n > bytes / sizeof(float) - t->offset)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s %s at offset %zu runs past the end of its buffer (%zu "
                            "floats)",
                            op, what, cp_tensor_describe(t, d, sizeof d), t->offset,
                            bytes / sizeof(float));
    if (s) {
        s->n = (uint32_t)t->shape[0];
        s->c = (uint32_t)t->shape[1];
        s->h = (uint32_t)t->shape[2];
        s->w = (uint32_t)t->shape[3];
        s->hw = s->h * s->w;
        s->numel = (uint32_t)n;
    }
    return CP_OK;
}

cp_status cp_opsi_same_numel(const char *op, const cp_tensor *a, const cp_tensor *b)
{
    if (cp_tensor_numel(a) != cp_tensor_numel(b)) {
        char da[160], db[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s and %s differ in size", op,
                            cp_tensor_describe(a, da, sizeof da),
                            cp_tensor_describe(b, db, sizeof db));
    }
    return CP_OK;
}

cp_status cp_opsi_same_shape(const char *op, const cp_tensor *a, const cp_tensor *b)
{
    for (int i = 0; i < CP_MAX_DIMS; i++) {
        if (a->shape[i] != b->shape[i]) {
            char da[160], db[160];
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: shapes of %s and %s differ",
                                op, cp_tensor_describe(a, da, sizeof da),
                                cp_tensor_describe(b, db, sizeof db));
        }
    }
    return CP_OK;
}

cp_status cp_opsi_numel_is(const char *op, const cp_tensor *t, size_t n, const char *why)
{
    if (cp_tensor_numel(t) != n) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s must have %zu elements (%s)",
                            op, cp_tensor_describe(t, d, sizeof d), n, why);
    }
    return CP_OK;
}

cp_status cp_opsi_mask_for(const char *op, const cp_tensor *m, const cp_tensor *x)
{
    if (m->shape[0] != x->shape[0] || m->shape[1] != 1 || m->shape[2] != x->shape[2] ||
        m->shape[3] != x->shape[3]) {
        char dm[160], dx[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: mask %s must be [N, 1, H, W] for %s", op,
                            cp_tensor_describe(m, dm, sizeof dm),
                            cp_tensor_describe(x, dx, sizeof dx));
    }
    return CP_OK;
}

cp_status cp_opsi_launch_1d(cp_context *ctx, cl_kernel k, size_t n)
{
    return cp_enqueue_1d(ctx, k, n, CP_OPSI_WG, NULL);
}

cp_status cp_opsi_reduce_wg(cp_context *ctx, cl_kernel k, size_t want, size_t *wg)
{
    size_t kmax = 0;
    CP_CL_CHECK(clGetKernelWorkGroupInfo(k, cp_context_device(ctx)->device,
                                         CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                         NULL));
    size_t m = cp_context_wg_size(ctx, want);
    if (kmax && kmax < m) m = kmax;
    if (cp_opsi_reduce_wg_cap && cp_opsi_reduce_wg_cap < m) m = cp_opsi_reduce_wg_cap;
    size_t p = 1;
    while (p * 2 <= m) p *= 2;
    *wg = p;
    return CP_OK;
}

cp_status cp_opsi_launch_groups(cp_context *ctx, cl_kernel k, size_t groups, size_t wg)
{
    size_t global = groups * wg, local = wg;
    return cp_enqueue_nd(ctx, k, 1, &global, &local, NULL);
}

cp_status cp_reduce_sum(cp_context *ctx, const cp_tensor *x, float scale, cp_tensor *out)
{
    static const char *op = "cp_reduce_sum";
    cp_opsi_nchw sx = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &sx));
    CP_TRY(cp_opsi_tensor(op, "out", out, NULL));
    CP_TRY(cp_opsi_numel_is(op, out, 1, "a scalar"));
    cl_kernel k;
    size_t wg;
    CP_TRY(cp_kernel_get(ctx, "reduce.cl", "", "reduce_sum", &k));
    CP_TRY(cp_opsi_reduce_wg(ctx, k, CP_OPSI_WG, &wg));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_uint, sx.numel),
            CP_ARG(cl_float, scale), CP_ARG(cl_mem, out->buf),
            CP_ARG(cl_ulong, out->offset), CP_LOCAL(wg * sizeof(cl_float)));
    return cp_opsi_launch_groups(ctx, k, 1, wg);
}
