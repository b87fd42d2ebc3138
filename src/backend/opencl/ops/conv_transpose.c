/* Transposed 2-D convolution (general kernel, stride, padding), weights
 * [C_in, C_out, kh, kw], as the adjoint of the convolution that maps an
 * image [N, C_out, Ho, Wo] to [N, C_in, H, W] with the same parameters.
 * Reuses conv.cl's im2col/col2im with the "image" on the output side.
 *
 * K' = C_out*kh*kw, P = N*H*W (x's positions).
 * Forward:  X'[C_in, P] = permute(x); col[K', P] = Wᵀ × X';
 *           y = col2im(col) + b                      (gather, deterministic)
 * Backward: col = im2col(dy)
 *           dx: dX'[C_in, P] = W × col; dx (+)= permute(dX')
 *           dw: X' = permute(x); dW (+)= X' × colᵀ
 *           db: per-channel reduction of dy
 * With N = 1 the CNHW and NCHW layouts coincide: the permutes are skipped.
 * Workspace: [0, T) GEMM temporary | col [K', P] | X' [C_in, P].
 * Each pass may instead take the direct up2 kernels of conv_direct.c (2×2,
 * stride 2) or the implicit GEMM of conv_igemm.c: conv_route.c decides per
 * layer shape. */
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_passes.h"
#include "backend/opencl/ops/conv_route.h"

cp_conv_params cp_up2_params(void)
{
    return (cp_conv_params){.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2,
                            .pad_top = 0, .pad_left = 0, .pad_bottom = 0, .pad_right = 0};
}

bool cp_conv_transpose_out_size(const cp_conv_params *p, int64_t h, int64_t w, int64_t *ho,
                                int64_t *wo)
{
    if (!p || p->kh < 1 || p->kw < 1 || p->stride_h < 1 || p->stride_w < 1 || h < 1 || w < 1)
        return false;
    int64_t oh = (h - 1) * p->stride_h + p->kh - p->pad_top - p->pad_bottom;
    int64_t ow = (w - 1) * p->stride_w + p->kw - p->pad_left - p->pad_right;
    if (oh < 1 || ow < 1) return false;
    if (ho) *ho = oh;
    if (wo) *wo = ow;
    return true;
}

typedef struct tplan {
    size_t k, p, gemm_t, col, xp;
} tplan;

static tplan plan_t(cp_context *ctx, int64_t n, int64_t c_in, int64_t h, int64_t w,
                    int64_t c_out, const cp_conv_params *prm)
{
    tplan pl;
    size_t ci = (size_t)c_in;
    pl.k = (size_t)c_out * (size_t)prm->kh * (size_t)prm->kw;
    pl.p = (size_t)n * (size_t)h * (size_t)w;
    size_t t1 = cp_gemm_worst_workspace_floats(ctx, true, false, pl.k, pl.p, ci);
    size_t t2 = cp_gemm_worst_workspace_floats(ctx, false, false, ci, pl.p, pl.k);
    size_t t3 = cp_gemm_worst_workspace_floats(ctx, false, true, ci, pl.k, pl.p);
    pl.gemm_t = t1 > t2 ? t1 : t2;
    if (t3 > pl.gemm_t) pl.gemm_t = t3;
    pl.col = pl.k * pl.p;
    pl.xp = ci * pl.p;
    return pl;
}

static cp_conv_layer layer_of(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                              int64_t w, int64_t c_out)
{
    return (cp_conv_layer){.transposed = true, .p = *p, .n = n, .c_in = c_in, .h = h,
                           .w = w, .c_out = c_out};
}

/* The convolution this is the adjoint of, for the igemm kernels: image =
 * the output side [n, c_out, ho, wo], its output = the input side. */
static cp_igemm_geom igemm_geom(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                                int64_t w, int64_t c_out, int64_t ho, int64_t wo)
{
    return (cp_igemm_geom){p, (uint32_t)n, (uint32_t)c_out, (uint32_t)ho, (uint32_t)wo,
                           (uint32_t)c_in, (uint32_t)h, (uint32_t)w};
}

static bool direct_plan(const cp_conv_choice *ch, const cp_conv_params *p, int64_t n,
                        int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                        cp_conv_direct_cfg *dc)
{
    bool passes[3];
    return cp_conv_passes_on(ch, CP_CONV_DIRECT, passes) && cp_up2_direct_plan(p, n, c_in, h, w, c_out, passes, dc);
}

size_t cp_conv_transpose2d_workspace_floats(cp_context *ctx, const cp_conv_params *p,
                                            int64_t n, int64_t c_in, int64_t h, int64_t w,
                                            int64_t c_out)
{
    int64_t ho, wo;
    if (n < 1 || c_in < 1 || c_out < 1 || !cp_conv_transpose_out_size(p, h, w, &ho, &wo))
        return 0;
    cp_conv_layer l = layer_of(p, n, c_in, h, w, c_out);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    size_t need = 0;
    bool gemm_passes[3];
    if (cp_conv_passes_on(&ch, CP_CONV_GEMM, gemm_passes)) {
        tplan pl = plan_t(ctx, n, c_in, h, w, c_out, p);
        need = pl.gemm_t + pl.col + pl.xp;
    }
    cp_conv_direct_cfg dc;
    bool direct = direct_plan(&ch, p, n, c_in, h, w, c_out, &dc);
    cp_igemm_geom g = igemm_geom(p, n, c_in, h, w, c_out, ho, wo);
    return cp_conv_routed_workspace(&ch, need, direct ? &dc : NULL, &g);
}

typedef struct tshape {
    int64_t n, c_in, h, w, c_out, ho, wo;
} tshape;

static cp_status check_t(const char *op, const cp_conv_params *p, const cp_tensor *x,
                         const cp_tensor *w, tshape *s)
{
    CP_TRY(cp_conv_check_params(op, p));
    if (!x || !x->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: x is NULL", op);
    if (!w || !w->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: w is NULL", op);
    s->n = x->shape[0];
    s->c_in = x->shape[1];
    s->h = x->shape[2];
    s->w = x->shape[3];
    s->c_out = w->shape[1];
    if (w->shape[0] != s->c_in || w->shape[2] != p->kh || w->shape[3] != p->kw) {
        char a[160], b[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: weights %s do not fit input %s and kernel %dx%d (expected "
                            "[%lld,C_out,%d,%d])",
                            op, cp_tensor_describe(w, a, sizeof a),
                            cp_tensor_describe(x, b, sizeof b), p->kh, p->kw,
                            (long long)s->c_in, p->kh, p->kw);
    }
    if (!cp_conv_transpose_out_size(p, s->h, s->w, &s->ho, &s->wo)) {
        char a[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: input %s gives an empty output",
                            op, cp_tensor_describe(x, a, sizeof a));
    }
    CP_TRY(cp_ops_check_fits(op, x, cp_tensor_numel(x)));
    CP_TRY(cp_ops_check_fits(op, w, cp_tensor_numel(w)));
    size_t P = (size_t)(s->n * s->h * s->w);
    size_t K = (size_t)s->c_out * (size_t)(p->kh * p->kw);
    CP_TRY(cp_ops_check_u32(op, K * P, "the column matrix"));
    CP_TRY(cp_ops_check_u32(op, (size_t)s->c_in * P, "x"));
    CP_TRY(cp_ops_check_u32(op, (size_t)(s->n * s->c_out * s->ho * s->wo), "y"));
    return CP_OK;
}

/* The convolution this is the adjoint of: image = output side. */
static cp_col_geom geom(const cp_conv_params *p, const tshape *s)
{
    return (cp_col_geom){p, (uint32_t)s->n, (uint32_t)s->c_out, (uint32_t)s->ho,
                         (uint32_t)s->wo, (uint32_t)s->h, (uint32_t)s->w};
}

cp_status cp_conv_transpose2d_forward(cp_context *ctx, const cp_conv_params *p,
                                      const cp_tensor *x, const cp_tensor *w,
                                      const cp_tensor *b, cp_tensor *y,
                                      const cp_tensor *workspace)
{
    return cp_conv_transpose2d_forward_act(ctx, p, x, w, b, CP_FUSED_NONE, y, workspace);
}

cp_status cp_conv_transpose2d_forward_act(cp_context *ctx, const cp_conv_params *p,
                                          const cp_tensor *x, const cp_tensor *w,
                                          const cp_tensor *b, cp_fused_act act, cp_tensor *y,
                                          const cp_tensor *workspace)
{
    static const char op[] = "cp_conv_transpose2d_forward";
    if (act != CP_FUSED_NONE && act != CP_FUSED_ELU)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: unknown fused activation %d", op,
                            (int)act);
    bool elu = act == CP_FUSED_ELU;
    tshape s;
    CP_TRY(check_t(op, p, x, w, &s));
    if (b) CP_TRY(cp_ops_expect_numel(op, b, (size_t)s.c_out, "bias"));
    CP_TRY(cp_ops_expect_shape4(op, y, s.n, s.c_out, s.ho, s.wo));
    cp_conv_layer l = layer_of(p, s.n, s.c_in, s.h, s.w, s.c_out);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    cp_conv_direct_cfg dc;
    if (ch.pass[CP_CONV_FWD] == CP_CONV_DIRECT &&
        direct_plan(&ch, p, s.n, s.c_in, s.h, s.w, s.c_out, &dc))
        return cp_up2_direct_forward(ctx, &dc, x, w, b, y, elu);
    if (ch.pass[CP_CONV_FWD] == CP_CONV_IGEMM) {
        cp_igemm_geom g = igemm_geom(p, s.n, s.c_in, s.h, s.w, s.c_out, s.ho, s.wo);
        return cp_igemm_data_grad(ctx, &g, x, w, b, y, false, elu, NULL);
    }
    tplan pl = plan_t(ctx, s.n, s.c_in, s.h, s.w, s.c_out, p);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.xp, &ws));
    size_t col_off = ws.off + pl.gemm_t, xp_off = col_off + pl.col;
    cl_mem gemm_ws = ws.off == 0 ? ws.buf : NULL;
    cp_col_geom g = geom(p, &s);

    /* X'[C_in, P]; with one image that is x itself. */
    cl_mem xp = ws.buf;
    cp_status st = CP_OK;
    if (s.n == 1) {
        xp = x->buf;
        xp_off = x->offset;
    } else {
        st = cp_nchw_to_cnhw(ctx, (uint32_t)s.n, (uint32_t)s.c_in, (uint32_t)(s.h * s.w),
                             x->buf, x->offset, ws.buf, xp_off);
    }
    if (st == CP_OK) {
        cp_gemm_args ga = {.trans_a = true, .trans_b = false, .m = pl.k, .n = pl.p,
                           .k = (size_t)s.c_in, .alpha = 1.0f, .beta = 0.0f,
                           .a = w->buf, .a_off = w->offset, .lda = pl.k,
                           .b = xp, .b_off = xp_off, .ldb = pl.p,
                           .c = ws.buf, .c_off = col_off, .ldc = pl.p};
        st = cp_gemm(ctx, &ga, gemm_ws, 0);
    }
    if (st == CP_OK)
        st = cp_col2im(ctx, &g, ws.buf, col_off, y->buf, y->offset, b, false, elu, NULL);
    cp_ws_release(ctx, &ws);
    return st;
}

cp_status cp_conv_transpose2d_backward(cp_context *ctx, const cp_conv_params *p,
                                       const cp_tensor *x, const cp_tensor *w,
                                       const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                                       cp_tensor *db, bool accumulate,
                                       const cp_tensor *workspace)
{
    return cp_conv_transpose2d_backward_act(ctx, p, x, w, dy, dx, dw, db, accumulate,
                                            CP_FUSED_NONE, workspace);
}

cp_status cp_conv_transpose2d_backward_act(cp_context *ctx, const cp_conv_params *p,
                                           const cp_tensor *x, const cp_tensor *w,
                                           const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                                           cp_tensor *db, bool accumulate, cp_fused_act x_act,
                                           const cp_tensor *workspace)
{
    static const char op[] = "cp_conv_transpose2d_backward";
    if (x_act != CP_FUSED_NONE && x_act != CP_FUSED_ELU)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: unknown fused activation %d", op,
                            (int)x_act);
    bool elu_grad = x_act == CP_FUSED_ELU;
    tshape s;
    CP_TRY(check_t(op, p, x, w, &s));
    CP_TRY(cp_ops_expect_shape4(op, dy, s.n, s.c_out, s.ho, s.wo));
    if (dx) CP_TRY(cp_ops_expect_shape4(op, dx, s.n, s.c_in, s.h, s.w));
    if (dw) CP_TRY(cp_ops_expect_numel(op, dw, cp_tensor_numel(w), "dw"));
    if (db) CP_TRY(cp_ops_expect_numel(op, db, (size_t)s.c_out, "db"));
    if (db)
        CP_TRY(cp_conv_bias_grad(ctx, (uint32_t)s.n, (uint32_t)s.c_out,
                                 (uint32_t)(s.ho * s.wo), dy, db, accumulate));
    if (!dx && !dw) return CP_OK;

    cp_conv_layer l = layer_of(p, s.n, s.c_in, s.h, s.w, s.c_out);
    cp_conv_choice ch = cp_conv_route_for(ctx, &l);
    cp_conv_direct_cfg dc;
    if (direct_plan(&ch, p, s.n, s.c_in, s.h, s.w, s.c_out, &dc))
        CP_TRY(cp_up2_direct_backward(ctx, op, &dc, x, w, dy, &dx, &dw, accumulate, elu_grad,
                                      workspace));
    cp_igemm_geom ig = igemm_geom(p, s.n, s.c_in, s.h, s.w, s.c_out, s.ho, s.wo);
    CP_TRY(cp_conv_igemm_backward(ctx, op, &ch, &ig, true, x, w, dy, &dx, &dw, accumulate,
                                  elu_grad, workspace));
    if (!dx && !dw) return CP_OK;
    tplan pl = plan_t(ctx, s.n, s.c_in, s.h, s.w, s.c_out, p);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.xp, &ws));
    size_t col_off = ws.off + pl.gemm_t, xp_off = col_off + pl.col;
    cl_mem gemm_ws = ws.off == 0 ? ws.buf : NULL;
    cp_col_geom g = geom(p, &s);
    uint32_t hw = (uint32_t)(s.h * s.w);

    cp_status st = cp_im2col(ctx, &g, dy->buf, dy->offset, ws.buf, col_off);
    /* With one image the CNHW and NCHW layouts coincide: no permutes. */
    bool direct = s.n == 1;
    if (st == CP_OK && dx) {
        /* ELU'(x) is applied by the (then identity) permute pass. */
        bool direct_dx = direct && !elu_grad;
        cp_gemm_args ga = {.trans_a = false, .trans_b = false, .m = (size_t)s.c_in,
                           .n = pl.p, .k = pl.k, .alpha = 1.0f,
                           .beta = direct_dx && accumulate ? 1.0f : 0.0f,
                           .a = w->buf, .a_off = w->offset, .lda = pl.k,
                           .b = ws.buf, .b_off = col_off, .ldb = pl.p,
                           .c = direct_dx ? dx->buf : ws.buf,
                           .c_off = direct_dx ? dx->offset : xp_off, .ldc = pl.p};
        st = cp_gemm(ctx, &ga, gemm_ws, 0);
        if (st == CP_OK && !direct_dx)
            st = cp_cnhw_to_nchw(ctx, (uint32_t)s.n, (uint32_t)s.c_in, hw, ws.buf, xp_off,
                                 dx->buf, dx->offset, NULL, accumulate, false,
                                 elu_grad ? x : NULL);
    }
    if (st == CP_OK && dw) {
        cl_mem xp = ws.buf;
        if (direct) {
            xp = x->buf;
            xp_off = x->offset;
        } else {
            st = cp_nchw_to_cnhw(ctx, (uint32_t)s.n, (uint32_t)s.c_in, hw, x->buf, x->offset,
                                 ws.buf, xp_off);
        }
        if (st == CP_OK) {
            cp_gemm_args ga = {.trans_a = false, .trans_b = true, .m = (size_t)s.c_in,
                               .n = pl.k, .k = pl.p, .alpha = 1.0f,
                               .beta = accumulate ? 1.0f : 0.0f,
                               .a = xp, .a_off = xp_off, .lda = pl.p,
                               .b = ws.buf, .b_off = col_off, .ldb = pl.p,
                               .c = dw->buf, .c_off = dw->offset, .ldc = pl.k};
            st = cp_gemm(ctx, &ga, gemm_ws, 0);
        }
    }
    cp_ws_release(ctx, &ws);
    return st;
}
