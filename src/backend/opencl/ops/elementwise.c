/* Element-wise operators: add, mul, scale, bias (forward and its gradient),
 * channel concatenation and the mask operations (cl/elementwise.cl; the bias
 * gradient is a per-channel tree reduction in cl/reduce.cl). */
#include "backend/opencl/ops/ops_internal.h"

#define ACC(a) CP_ARG(cl_uint, (a) ? 1u : 0u)

cp_status cp_add(cp_context *ctx, float alpha, const cp_tensor *a, float beta,
                 const cp_tensor *b, cp_tensor *y)
{
    static const char *op = "cp_add";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "a", a, &s));
    CP_TRY(cp_opsi_tensor(op, "b", b, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_numel(op, a, b));
    CP_TRY(cp_opsi_same_numel(op, a, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "add_f32", &k));
    CP_ARGS(k, CP_ARG(cl_float, alpha), CP_ARG(cl_mem, a->buf), CP_ARG(cl_ulong, a->offset),
            CP_ARG(cl_float, beta), CP_ARG(cl_mem, b->buf), CP_ARG(cl_ulong, b->offset),
            CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_mul(cp_context *ctx, const cp_tensor *a, const cp_tensor *b, cp_tensor *y)
{
    static const char *op = "cp_mul";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "a", a, &s));
    CP_TRY(cp_opsi_tensor(op, "b", b, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_numel(op, a, b));
    CP_TRY(cp_opsi_same_numel(op, a, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "mul_f32", &k));
    CP_ARGS(k, CP_ARG(cl_mem, a->buf), CP_ARG(cl_ulong, a->offset), CP_ARG(cl_mem, b->buf),
            CP_ARG(cl_ulong, b->offset), CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset),
            CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_scale(cp_context *ctx, float alpha, const cp_tensor *x, cp_tensor *y,
                   bool accumulate)
{
    static const char *op = "cp_scale";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_numel(op, x, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "scale_f32", &k));
    CP_ARGS(k, CP_ARG(cl_float, alpha), CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset),
            CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset), ACC(accumulate),
            CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_bias_add(cp_context *ctx, const cp_tensor *x, const cp_tensor *b, cp_tensor *y)
{
    static const char *op = "cp_bias_add";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "b", b, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_numel_is(op, b, s.c, "one bias per channel of x"));
    CP_TRY(cp_opsi_same_shape(op, x, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "bias_add", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, b->buf),
            CP_ARG(cl_ulong, b->offset), CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset),
            CP_ARG(cl_uint, s.c), CP_ARG(cl_uint, s.hw), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_bias_backward(cp_context *ctx, const cp_tensor *dy, cp_tensor *db,
                           bool accumulate)
{
    static const char *op = "cp_bias_backward";
    if (!db) return CP_OK;
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "dy", dy, &s));
    CP_TRY(cp_opsi_tensor(op, "db", db, NULL));
    CP_TRY(cp_opsi_numel_is(op, db, s.c, "one bias per channel of dy"));
    return cp_opsi_channel_sum(ctx, dy, s.n, s.c, s.hw, db, accumulate);
}

/* dst (+)= src for `n` samples of `inner` floats, at strides (floats). */
static cp_status slice_copy(cp_context *ctx, cl_mem src, size_t src_off, uint32_t src_stride,
                            cl_mem dst, size_t dst_off, uint32_t dst_stride, uint32_t inner,
                            uint32_t n, bool accumulate)
{
    cl_kernel k;
    uint32_t count = n * inner;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "slice_copy", &k));
    CP_ARGS(k, CP_ARG(cl_mem, src), CP_ARG(cl_ulong, src_off), CP_ARG(cl_uint, src_stride),
            CP_ARG(cl_mem, dst), CP_ARG(cl_ulong, dst_off), CP_ARG(cl_uint, dst_stride),
            CP_ARG(cl_uint, inner), ACC(accumulate), CP_ARG(cl_uint, count));
    return cp_opsi_launch_1d(ctx, k, count);
}

static cp_status concat_part(const char *op, const char *what, const cp_tensor *part,
                             const cp_opsi_nchw *sy, cp_opsi_nchw *sp)
{
    if (part->shape[0] != sy->n || part->shape[2] != sy->h || part->shape[3] != sy->w ||
        part->shape[1] >= sy->c) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s does not match the concatenation [%u, %u, %u, %u]", op,
                            cp_tensor_describe(part, d, sizeof d), sy->n, sy->c, sy->h,
                            sy->w);
    }
    return cp_opsi_tensor(op, what, part, sp);
}

cp_status cp_concat_channels(cp_context *ctx, const cp_tensor *a, const cp_tensor *b,
                             cp_tensor *y)
{
    static const char *op = "cp_concat_channels";
    cp_opsi_nchw sy = {0}, sa = {0}, sb = {0};
    CP_TRY(cp_opsi_tensor(op, "a", a, NULL));
    CP_TRY(cp_opsi_tensor(op, "b", b, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, &sy));
    CP_TRY(concat_part(op, "a", a, &sy, &sa));
    CP_TRY(concat_part(op, "b", b, &sy, &sb));
    if (sa.c + sb.c != sy.c) {
        char da[160], db[160], dy[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: channels of %s and %s do not add "
                            "up to those of %s", op, cp_tensor_describe(a, da, sizeof da),
                            cp_tensor_describe(b, db, sizeof db),
                            cp_tensor_describe(y, dy, sizeof dy));
    }
    uint32_t ia = sa.c * sy.hw, ib = sb.c * sy.hw, iy = sy.c * sy.hw;
    CP_TRY(slice_copy(ctx, a->buf, a->offset, ia, y->buf, y->offset, iy, ia, sy.n, false));
    return slice_copy(ctx, b->buf, b->offset, ib, y->buf, y->offset + ia, iy, ib, sy.n,
                      false);
}

cp_status cp_concat_channels_backward(cp_context *ctx, const cp_tensor *dy, cp_tensor *da,
                                      cp_tensor *db, bool accumulate)
{
    static const char *op = "cp_concat_channels_backward";
    if (!da && !db) return CP_OK;
    cp_opsi_nchw sy = {0}, sa = {0}, sb = {0};
    CP_TRY(cp_opsi_tensor(op, "dy", dy, &sy));
    if (da) CP_TRY(concat_part(op, "da", da, &sy, &sa));
    if (db) CP_TRY(concat_part(op, "db", db, &sy, &sb));
    if (da && db && sa.c + sb.c != sy.c) {
        char d1[160], d2[160], d3[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: channels of %s and %s do not add "
                            "up to those of %s", op, cp_tensor_describe(da, d1, sizeof d1),
                            cp_tensor_describe(db, d2, sizeof d2),
                            cp_tensor_describe(dy, d3, sizeof d3));
    }
    uint32_t iy = sy.c * sy.hw;
    if (da) {
        uint32_t ia = sa.c * sy.hw;
        CP_TRY(slice_copy(ctx, dy->buf, dy->offset, iy, da->buf, da->offset, ia, ia, sy.n,
                          accumulate));
    }
    if (db) {
        uint32_t ib = sb.c * sy.hw;
        CP_TRY(slice_copy(ctx, dy->buf, dy->offset + (iy - ib), iy, db->buf, db->offset, ib,
                          ib, sy.n, accumulate));
    }
    return CP_OK;
}

cp_status cp_mask_known(cp_context *ctx, const cp_tensor *x, const cp_tensor *m,
                        cp_tensor *y)
{
    static const char *op = "cp_mask_known";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "m", m, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_mask_for(op, m, x));
    CP_TRY(cp_opsi_same_shape(op, x, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "mask_known", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, m->buf),
            CP_ARG(cl_ulong, m->offset), CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset),
            CP_ARG(cl_uint, s.c), CP_ARG(cl_uint, s.hw), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_composite(cp_context *ctx, const cp_tensor *g, const cp_tensor *x,
                       const cp_tensor *m, cp_tensor *y)
{
    static const char *op = "cp_composite";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "g", g, &s));
    CP_TRY(cp_opsi_tensor(op, "x", x, NULL));
    CP_TRY(cp_opsi_tensor(op, "m", m, NULL));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_shape(op, g, x));
    CP_TRY(cp_opsi_same_shape(op, g, y));
    CP_TRY(cp_opsi_mask_for(op, m, g));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "composite", &k));
    CP_ARGS(k, CP_ARG(cl_mem, g->buf), CP_ARG(cl_ulong, g->offset), CP_ARG(cl_mem, x->buf),
            CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, m->buf), CP_ARG(cl_ulong, m->offset),
            CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, s.c),
            CP_ARG(cl_uint, s.hw), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_composite_backward(cp_context *ctx, const cp_tensor *m, const cp_tensor *dy,
                                cp_tensor *dg, bool accumulate)
{
    static const char *op = "cp_composite_backward";
    if (!dg) return CP_OK;
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "dy", dy, &s));
    CP_TRY(cp_opsi_tensor(op, "m", m, NULL));
    CP_TRY(cp_opsi_tensor(op, "dg", dg, NULL));
    CP_TRY(cp_opsi_same_shape(op, dy, dg));
    CP_TRY(cp_opsi_mask_for(op, m, dy));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", "composite_bwd", &k));
    CP_ARGS(k, CP_ARG(cl_mem, m->buf), CP_ARG(cl_ulong, m->offset), CP_ARG(cl_mem, dy->buf),
            CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, dg->buf),
            CP_ARG(cl_ulong, dg->offset), CP_ARG(cl_uint, s.c), CP_ARG(cl_uint, s.hw),
            ACC(accumulate), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}
