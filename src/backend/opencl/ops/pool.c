/* 2x2 max pooling, stride 2 (floor for odd sizes); the first maximum of a
 * window in row-major order takes the gradient (cl/pool.cl). */
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/ops_internal.h"

static cp_status pool_shapes(const char *op, const cp_tensor *x, const cp_tensor *y,
                             cp_opsi_nchw *sx)
{
    cp_opsi_nchw sy = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, sx));
    CP_TRY(cp_opsi_tensor(op, "y", y, &sy));
    if (sx->h < 2 || sx->w < 2 || sy.n != sx->n || sy.c != sx->c || sy.h != sx->h / 2 ||
        sy.w != sx->w / 2) {
        char dx[160], dy[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s must be [N, C, H/2, W/2] for %s (H, W >= 2)", op,
                            cp_tensor_describe(y, dy, sizeof dy),
                            cp_tensor_describe(x, dx, sizeof dx));
    }
    return CP_OK;
}

cp_status cp_maxpool2_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y)
{
    cp_opsi_nchw s = {0};
    CP_TRY(pool_shapes("cp_maxpool2_forward", x, y, &s));
    uint32_t ho = s.h / 2, wo = s.w / 2;
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "pool.cl", "", "maxpool2_fwd", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, y->buf),
            CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, s.h), CP_ARG(cl_uint, s.w),
            CP_ARG(cl_uint, ho), CP_ARG(cl_uint, wo));
    size_t global[3] = {(wo + 7) / 8, ho, (size_t)s.n * s.c}; /* 8 windows per item */
    return cp_enqueue_nd(ctx, k, 3, global, NULL, NULL);
}

cp_status cp_maxpool2_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *dy,
                               cp_tensor *dx, bool accumulate)
{
    return cp_maxpool2_backward_act(ctx, x, dy, dx, accumulate, CP_FUSED_NONE);
}

cp_status cp_maxpool2_backward_act(cp_context *ctx, const cp_tensor *x, const cp_tensor *dy,
                                   cp_tensor *dx, bool accumulate, cp_fused_act x_act)
{
    static const char *op = "cp_maxpool2_backward";
    if (x_act != CP_FUSED_NONE && x_act != CP_FUSED_ELU)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: unknown fused activation %d", op,
                            (int)x_act);
    if (!dx) return CP_OK;
    cp_opsi_nchw s = {0};
    CP_TRY(pool_shapes(op, x, dy, &s));
    CP_TRY(cp_opsi_tensor(op, "dx", dx, NULL));
    CP_TRY(cp_opsi_same_shape(op, dx, x));
    uint32_t ho = s.h / 2, wo = s.w / 2;
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "pool.cl", "", "maxpool2_bwd", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, dy->buf),
            CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, dx->buf),
            CP_ARG(cl_ulong, dx->offset), CP_ARG(cl_uint, s.h), CP_ARG(cl_uint, s.w),
            CP_ARG(cl_uint, ho), CP_ARG(cl_uint, wo),
            CP_ARG(cl_uint, (accumulate ? 1u : 0u) | (x_act == CP_FUSED_ELU ? 2u : 0u)));
    size_t global[3] = {((s.w + 1) / 2 + 7) / 8, (s.h + 1) / 2, (size_t)s.n * s.c};
    return cp_enqueue_nd(ctx, k, 3, global, NULL, NULL);
}
