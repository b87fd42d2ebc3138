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
 * layer shape.
 * The argument checks, routing and workspace plan that convolution and
 * transposed convolution share are in conv_common.c. */
#include "backend/opencl/ops/conv_common.h"
#include "backend/opencl/ops/conv_fused.h"
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

size_t cp_conv_transpose2d_workspace_floats(cp_context *ctx, const cp_conv_params *p,
                                            int64_t n, int64_t c_in, int64_t h, int64_t w,
                                            int64_t c_out)
{
    return cp_conv_workspace_floats_of(ctx, true, p, n, c_in, h, w, c_out);
}

/* The convolution this is the adjoint of: image = output side. */
static cp_col_geom geom(const cp_conv_params *p, const cp_conv_shape *s)
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
    cp_conv_shape s;
    bool done;
    CP_TRY(cp_conv_forward_start(ctx, op, true, p, x, w, b, act, y, &s, &done));
    if (done) return CP_OK;
    bool elu = act == CP_FUSED_ELU;
    cp_conv_gemm_plan pl = cp_conv_gemm_plan_of(ctx, true, p, &s);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.perm, &ws));
    size_t col_off = ws.off + pl.gemm_t, xp_off = col_off + pl.col;
    cl_mem gemm_ws = ws.off == 0 ? ws.buf : NULL;
    cp_col_geom g = geom(p, &s);

    /* X'[C_in, P]; with one image that is x itself. */
    cl_mem xp;
    cp_status st = cp_conv_cnhw_of(ctx, x, (uint32_t)s.n, (uint32_t)s.c_in,
                                   (uint32_t)(s.h * s.w), ws.buf, &xp, &xp_off);
    /* col[K', P] = Wᵀ × X' */
    if (st == CP_OK) st = cp_conv_gemm_wt(ctx, &pl, w, xp, xp_off, ws.buf, col_off, gemm_ws);
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
    cp_conv_shape s;
    CP_TRY(cp_conv_backward_start(ctx, op, true, p, x, w, dy, &dx, &dw, db, accumulate, x_act,
                                  workspace, &s));
    if (!dx && !dw) return CP_OK;
    bool elu_grad = x_act == CP_FUSED_ELU;
    cp_conv_gemm_plan pl = cp_conv_gemm_plan_of(ctx, true, p, &s);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.perm, &ws));
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
        cl_mem xp;
        st = cp_conv_cnhw_of(ctx, x, (uint32_t)s.n, (uint32_t)s.c_in, hw, ws.buf, &xp, &xp_off);
        if (st == CP_OK)
            st = cp_conv_gemm_dw(ctx, &pl, xp, xp_off, ws.buf, col_off, dw, accumulate, gemm_ws);
    }
    cp_ws_release(ctx, &ws);
    return st;
}
