/* The argument checks, routing keys and workspace plans that convolution
 * and transposed convolution share (conv_common.h). */
#include "backend/opencl/ops/conv_common.h"

#include <stdio.h>

static bool out_size(bool transposed, const cp_conv_params *p, int64_t h, int64_t w,
                     int64_t *ho, int64_t *wo)
{
    return transposed ? cp_conv_transpose_out_size(p, h, w, ho, wo)
                      : cp_conv_out_size(p, h, w, ho, wo);
}

cp_status cp_conv_check_args(const char *op, bool transposed, const cp_conv_params *p,
                             const cp_tensor *x, const cp_tensor *w, cp_conv_shape *s)
{
    CP_TRY(cp_conv_check_params(op, p));
    if (!x || !x->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: x is NULL", op);
    if (!w || !w->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: w is NULL", op);
    s->n = x->shape[0];
    s->c_in = x->shape[1];
    s->h = x->shape[2];
    s->w = x->shape[3];
    s->c_out = w->shape[transposed ? 1 : 0];
    if (w->shape[transposed ? 0 : 1] != s->c_in || w->shape[2] != p->kh ||
        w->shape[3] != p->kw) {
        char a[160], b[160], want[96];
        if (transposed)
            snprintf(want, sizeof want, "[%lld,C_out,%d,%d]", (long long)s->c_in, p->kh, p->kw);
        else
            snprintf(want, sizeof want, "[C_out,%lld,%d,%d]", (long long)s->c_in, p->kh, p->kw);
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: weights %s do not fit input %s and kernel %dx%d (expected %s)",
                            op, cp_tensor_describe(w, a, sizeof a),
                            cp_tensor_describe(x, b, sizeof b), p->kh, p->kw, want);
    }
    if (!out_size(transposed, p, s->h, s->w, &s->ho, &s->wo)) {
        char a[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: input %s %s", op,
                            cp_tensor_describe(x, a, sizeof a),
                            transposed ? "gives an empty output" : "is smaller than the kernel");
    }
    CP_TRY(cp_ops_check_fits(op, x, cp_tensor_numel(x)));
    CP_TRY(cp_ops_check_fits(op, w, cp_tensor_numel(w)));
    /* The column matrix [K, P]: K = (image channels)·kh·kw, P = the
     * positions of the other side (a transposed convolution's image is its
     * output). */
    size_t P = (size_t)(transposed ? s->n * s->h * s->w : s->n * s->ho * s->wo);
    size_t K = (size_t)(transposed ? s->c_out : s->c_in) * (size_t)(p->kh * p->kw);
    size_t nx = transposed ? (size_t)s->c_in * P : cp_tensor_numel(x);
    if (!transposed) CP_TRY(cp_ops_check_u32(op, nx, "x"));
    CP_TRY(cp_ops_check_u32(op, K * P, "the column matrix"));
    if (transposed) CP_TRY(cp_ops_check_u32(op, nx, "x"));
    CP_TRY(cp_ops_check_u32(op, (size_t)s->c_out * (size_t)(s->n * s->ho * s->wo), "y"));
    return CP_OK;
}

cp_conv_layer cp_conv_layer_of(bool transposed, const cp_conv_params *p, const cp_conv_shape *s)
{
    return (cp_conv_layer){.transposed = transposed, .p = *p, .n = s->n, .c_in = s->c_in,
                           .h = s->h, .w = s->w, .c_out = s->c_out};
}

cp_igemm_geom cp_conv_igemm_geom_of(bool transposed, const cp_conv_params *p,
                                    const cp_conv_shape *s)
{
    if (transposed) /* image = the output side [n, c_out, ho, wo] */
        return (cp_igemm_geom){p, (uint32_t)s->n, (uint32_t)s->c_out, (uint32_t)s->ho,
                               (uint32_t)s->wo, (uint32_t)s->c_in, (uint32_t)s->h,
                               (uint32_t)s->w};
    return (cp_igemm_geom){p, (uint32_t)s->n, (uint32_t)s->c_in, (uint32_t)s->h,
                           (uint32_t)s->w, (uint32_t)s->c_out, (uint32_t)s->ho,
                           (uint32_t)s->wo};
}

bool cp_conv_direct_plan_of(bool transposed, const cp_conv_choice *ch, const cp_conv_params *p,
                            const cp_conv_shape *s, cp_conv_direct_cfg *dc)
{
    bool passes[3];
    if (!cp_conv_passes_on(ch, CP_CONV_DIRECT, passes)) return false;
    return transposed ? cp_up2_direct_plan(p, s->n, s->c_in, s->h, s->w, s->c_out, passes, dc)
                      : cp_conv_direct_plan(p, s->n, s->c_in, s->h, s->w, s->c_out, passes, dc);
}

cp_conv_gemm_plan cp_conv_gemm_plan_of(cp_context *ctx, bool transposed,
                                       const cp_conv_params *p, const cp_conv_shape *s)
{
    cp_igemm_geom g = cp_conv_igemm_geom_of(transposed, p, s);
    cp_conv_gemm_plan pl;
    size_t m = g.co;
    pl.m = m;
    pl.k = (size_t)g.c * (size_t)p->kh * (size_t)p->kw;
    pl.p = (size_t)g.n * (size_t)g.ho * (size_t)g.wo;
    /* The forward's, dx's and dw's GEMMs (for a transposed convolution the
     * first two swap roles). */
    size_t t1 = cp_gemm_worst_workspace_floats(ctx, false, false, m, pl.p, pl.k);
    size_t t2 = cp_gemm_worst_workspace_floats(ctx, true, false, pl.k, pl.p, m);
    size_t t3 = cp_gemm_worst_workspace_floats(ctx, false, true, m, pl.k, pl.p);
    pl.gemm_t = t1 > t2 ? t1 : t2;
    if (t3 > pl.gemm_t) pl.gemm_t = t3;
    pl.col = pl.k * pl.p;
    pl.perm = m * pl.p;
    return pl;
}

cp_status cp_conv_gemm_wt(cp_context *ctx, const cp_conv_gemm_plan *pl, const cp_tensor *w,
                          cl_mem b, size_t b_off, cl_mem col, size_t col_off, cl_mem gemm_tmp)
{
    cp_gemm_args ga = {.trans_a = true, .trans_b = false, .m = pl->k, .n = pl->p, .k = pl->m,
                       .alpha = 1.0f, .beta = 0.0f, .a = w->buf, .a_off = w->offset,
                       .lda = pl->k, .b = b, .b_off = b_off, .ldb = pl->p, .c = col,
                       .c_off = col_off, .ldc = pl->p};
    return cp_gemm(ctx, &ga, gemm_tmp, 0);
}

cp_status cp_conv_gemm_dw(cp_context *ctx, const cp_conv_gemm_plan *pl, cl_mem a, size_t a_off,
                          cl_mem col, size_t col_off, cp_tensor *dw, bool accumulate,
                          cl_mem gemm_tmp)
{
    cp_gemm_args ga = {.trans_a = false, .trans_b = true, .m = pl->m, .n = pl->k, .k = pl->p,
                       .alpha = 1.0f, .beta = accumulate ? 1.0f : 0.0f, .a = a,
                       .a_off = a_off, .lda = pl->p, .b = col, .b_off = col_off,
                       .ldb = pl->p, .c = dw->buf, .c_off = dw->offset, .ldc = pl->k};
    return cp_gemm(ctx, &ga, gemm_tmp, 0);
}

cp_status cp_conv_cnhw_of(cp_context *ctx, const cp_tensor *x, uint32_t n, uint32_t c,
                          uint32_t hw, cl_mem ws, cl_mem *t, size_t *t_off)
{
    if (n == 1) {
        *t = x->buf;
        *t_off = x->offset;
        return CP_OK;
    }
    *t = ws;
    return cp_nchw_to_cnhw(ctx, n, c, hw, x->buf, x->offset, ws, *t_off);
}

size_t cp_conv_workspace_floats_of(cp_context *ctx, bool transposed, const cp_conv_params *p,
                                   int64_t n, int64_t c_in, int64_t h, int64_t w,
                                   int64_t c_out)
{
    cp_conv_shape s = {n, c_in, h, w, c_out, 0, 0};
    if (n < 1 || c_in < 1 || c_out < 1 || !out_size(transposed, p, h, w, &s.ho, &s.wo))
        return 0;
    cp_conv_layer l = cp_conv_layer_of(transposed, p, &s);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    size_t need = 0;
    bool gemm_passes[3];
    if (cp_conv_passes_on(&ch, CP_CONV_GEMM, gemm_passes)) {
        cp_conv_gemm_plan pl = cp_conv_gemm_plan_of(ctx, transposed, p, &s);
        need = pl.gemm_t + pl.col + pl.perm;
    }
    cp_conv_direct_cfg dc;
    bool direct = cp_conv_direct_plan_of(transposed, &ch, p, &s, &dc);
    cp_igemm_geom g = cp_conv_igemm_geom_of(transposed, p, &s);
    return cp_conv_routed_workspace(&ch, need, direct ? &dc : NULL, &g);
}

cp_status cp_conv_forward_start(cp_context *ctx, const char *op, bool transposed,
                                const cp_conv_params *p, const cp_tensor *x,
                                const cp_tensor *w, const cp_tensor *b, cp_fused_act act,
                                cp_tensor *y, cp_conv_shape *s, bool *done)
{
    *done = false;
    if (act != CP_FUSED_NONE && act != CP_FUSED_ELU)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: unknown fused activation %d", op,
                            (int)act);
    bool elu = act == CP_FUSED_ELU;
    CP_TRY(cp_conv_check_args(op, transposed, p, x, w, s));
    if (b) CP_TRY(cp_ops_expect_numel(op, b, (size_t)s->c_out, "bias"));
    CP_TRY(cp_ops_expect_shape4(op, y, s->n, s->c_out, s->ho, s->wo));
    cp_conv_layer l = cp_conv_layer_of(transposed, p, s);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    cp_conv_direct_cfg dc;
    if (ch.pass[CP_CONV_FWD] == CP_CONV_DIRECT &&
        cp_conv_direct_plan_of(transposed, &ch, p, s, &dc)) {
        *done = true;
        return transposed ? cp_up2_direct_forward(ctx, &dc, x, w, b, y, elu)
                          : cp_conv_direct_forward(ctx, &dc, p, x, w, b, y, elu);
    }
    if (ch.pass[CP_CONV_FWD] == CP_CONV_IGEMM) {
        *done = true;
        /* a transposed convolution's forward is its adjoint's data gradient */
        cp_igemm_geom g = cp_conv_igemm_geom_of(transposed, p, s);
        return transposed ? cp_igemm_data_grad(ctx, &g, x, w, b, y, false, elu, NULL)
                          : cp_igemm_forward(ctx, &g, x, w, b, y, false, elu, NULL);
    }
    return CP_OK;
}

cp_status cp_conv_backward_start(cp_context *ctx, const char *op, bool transposed,
                                 const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                 cp_tensor **dw, cp_tensor *db, bool accumulate,
                                 cp_fused_act x_act, const cp_tensor *workspace,
                                 cp_conv_shape *s)
{
    if (x_act != CP_FUSED_NONE && x_act != CP_FUSED_ELU)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: unknown fused activation %d", op,
                            (int)x_act);
    bool elu_grad = x_act == CP_FUSED_ELU;
    CP_TRY(cp_conv_check_args(op, transposed, p, x, w, s));
    CP_TRY(cp_ops_expect_shape4(op, dy, s->n, s->c_out, s->ho, s->wo));
    if (*dx) CP_TRY(cp_ops_expect_shape4(op, *dx, s->n, s->c_in, s->h, s->w));
    if (*dw) CP_TRY(cp_ops_expect_numel(op, *dw, cp_tensor_numel(w), "dw"));
    if (db) CP_TRY(cp_ops_expect_numel(op, db, (size_t)s->c_out, "db"));
    if (db)
        CP_TRY(cp_conv_bias_grad(ctx, (uint32_t)s->n, (uint32_t)s->c_out,
                                 (uint32_t)(s->ho * s->wo), dy, db, accumulate));
    if (!*dx && !*dw) return CP_OK;

    /* Each pass on its route: direct kernels, implicit GEMM, or (what is
     * left) im2col + GEMM. */
    cp_conv_layer l = cp_conv_layer_of(transposed, p, s);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    cp_conv_direct_cfg dc;
    if (cp_conv_direct_plan_of(transposed, &ch, p, s, &dc))
        CP_TRY(transposed ? cp_up2_direct_backward(ctx, op, &dc, x, w, dy, dx, dw, accumulate,
                                                   elu_grad, workspace)
                          : cp_conv_direct_backward(ctx, op, &dc, p, x, w, dy, dx, dw,
                                                    accumulate, elu_grad, workspace));
    cp_igemm_geom ig = cp_conv_igemm_geom_of(transposed, p, s);
    return cp_conv_igemm_backward(ctx, op, &ch, &ig, transposed, x, w, dy, dx, dw, accumulate,
                                  elu_grad, workspace);
}
