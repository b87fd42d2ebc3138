/* 2-D convolution as im2col + one SGEMM over the whole batch, and the
 * shared kernel wrappers of cl/conv.cl (also used by conv_transpose.c and
 * dense.c).
 *
 * Forward:  col[K, P] = im2col(x)   (K = C_in*kh*kw, P = N*Ho*Wo)
 *           tmp[C_out, P] = W[C_out, K] × col
 *           y[n, c, p] = tmp[c, n*HoWo + p] + b[c]   (permute + bias fused)
 * (With N = 1 the CNHW and NCHW layouts coincide: the permutes are skipped.)
 * Backward: dY'[C_out, P] = permute(dy)
 *           dx: dcol = Wᵀ × dY'; dx (+)= col2im(dcol)  (gather, deterministic)
 *           dw: col = im2col(x); dW = dY' × colᵀ (+ beta dW)
 *           db: per-channel reduction of dy
 * Workspace (floats, from the workspace tensor's offset):
 *   [0, T)          CLBlast's GEMM temporary (used only at buffer offset 0)
 *   [T, T+K*P)      col / dcol
 *   [T+K*P, +C_out*P) tmp / dY'
 * Each pass may instead take the direct kernels (conv_direct.c) or the
 * implicit GEMM (conv_igemm.c): conv_route.c decides per layer shape.
 * The argument checks, routing and workspace plan that convolution and
 * transposed convolution share are in conv_common.c. */
#include "backend/opencl/ops/conv_common.h"
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_route.h"
#include "backend/opencl/ops/ops_internal.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

cp_status cp_ops_check_fits(const char *op, const cp_tensor *t, size_t numel)
{
    size_t bytes = 0;
    CP_CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (t->offset > bytes / sizeof(float) || numel > bytes / sizeof(float) - t->offset) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s at offset %zu with %zu elements runs past the end of its "
                            "buffer (%zu floats)",
                            op, cp_tensor_describe(t, d, sizeof d), t->offset, numel,
                            bytes / sizeof(float));
    }
    return CP_OK;
}

cp_status cp_ops_expect_numel(const char *op, const cp_tensor *t, size_t numel,
                              const char *what)
{
    if (!t || !t->buf)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, what);
    if (cp_tensor_numel(t) != numel) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s %s has %zu elements, expected %zu",
                            op, what, cp_tensor_describe(t, d, sizeof d), cp_tensor_numel(t),
                            numel);
    }
    return cp_ops_check_fits(op, t, numel);
}

cp_status cp_ops_expect_shape4(const char *op, const cp_tensor *t, int64_t n, int64_t c,
                               int64_t h, int64_t w)
{
    if (!t || !t->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: NULL tensor", op);
    if (t->shape[0] != n || t->shape[1] != c || t->shape[2] != h || t->shape[3] != w) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s has the wrong shape, expected [%lld,%lld,%lld,%lld]", op,
                            cp_tensor_describe(t, d, sizeof d), (long long)n, (long long)c,
                            (long long)h, (long long)w);
    }
    return cp_ops_check_fits(op, t, cp_tensor_numel(t));
}

cp_status cp_ops_check_u32(const char *op, size_t count, const char *what)
{
    if (count > (size_t)INT32_MAX)
        return cp_set_error(CP_ERR_UNSUPPORTED,
                            "%s: %s has %zu elements, more than the kernels' 31-bit indices "
                            "allow: use a smaller batch",
                            op, what, count);
    return CP_OK;
}

cp_status cp_conv_check_params(const char *op, const cp_conv_params *p)
{
    if (!p || p->kh < 1 || p->kw < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0 ||
        p->kh > 64 || p->kw > 64 || p->stride_h > 64 || p->stride_w > 64 ||
        p->pad_top > 64 || p->pad_left > 64 || p->pad_bottom > 64 || p->pad_right > 64)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: bad convolution parameters (kernel, stride >= 1, "
                            "padding >= 0, all <= 64)",
                            op);
    return CP_OK;
}

/* Elementwise kernels run in 1-D groups of this size. */
#define CP_CONV_WG 256

static void build_options(cp_context *ctx, const cp_conv_params *p, char *buf, size_t size)
{
    (void)ctx;
    snprintf(buf, size, "-DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPT=%d -DPL=%d", p->kh, p->kw,
             p->stride_h, p->stride_w, p->pad_top, p->pad_left);
}

/* Kernels that do not depend on the window share the conv3 program. */
static cp_status kernel_plain(cp_context *ctx, const char *name, cl_kernel *k)
{
    cp_conv_params p = cp_conv3_params();
    char opts[160];
    build_options(ctx, &p, opts, sizeof opts);
    return cp_kernel_get(ctx, "conv.cl", opts, name, k);
}

static cp_status kernel_geom(cp_context *ctx, const cp_conv_params *p, const char *name,
                             cl_kernel *k)
{
    char opts[160];
    build_options(ctx, p, opts, sizeof opts);
    return cp_kernel_get(ctx, "conv.cl", opts, name, k);
}

/* (m, s) for the kernels' fdiv(): n / d = (mul_hi(n, m) + n) >> s, exact
 * for n, d < 2^31 (the operators check their sizes against that). */
/* A cl_uint2 kernel argument (CP_ARG's compound literal cannot wrap a union). */
#define ARG_U2(var) ((cp_kernel_arg){sizeof(cl_uint2), &(var)})

static cl_uint2 fastdiv(uint32_t d)
{
    cl_uint2 r;
    uint32_t s = 0;
    if (d == 0) d = 1;
    while ((UINT64_C(1) << s) < d) s++;
    r.s[0] = (cl_uint)(((UINT64_C(1) << 32) * ((UINT64_C(1) << s) - d)) / d + 1);
    r.s[1] = s;
    return r;
}

cp_status cp_im2col(cp_context *ctx, const cp_col_geom *g, cl_mem img, size_t img_off,
                    cl_mem col, size_t col_off)
{
    cl_kernel k;
    CP_TRY(kernel_geom(ctx, g->p, "im2col", &k));
    cl_uint hwo = g->ho * g->wo, P = g->n * hwo;
    cl_uint total = g->c * P;
    cl_uint2 dp = fastdiv(P), dhwo = fastdiv(hwo), dwo = fastdiv(g->wo);
    CP_ARGS(k, CP_ARG(cl_mem, img), CP_ARG(cl_ulong, img_off), CP_ARG(cl_mem, col),
            CP_ARG(cl_ulong, col_off), CP_ARG(cl_uint, g->c), CP_ARG(cl_uint, g->h),
            CP_ARG(cl_uint, g->w), CP_ARG(cl_uint, g->ho), CP_ARG(cl_uint, g->wo),
            CP_ARG(cl_uint, P), CP_ARG(cl_uint, total), ARG_U2(dp), ARG_U2(dhwo),
            ARG_U2(dwo));
    return cp_enqueue_1d(ctx, k, total, CP_CONV_WG, NULL);
}

cp_status cp_col2im(cp_context *ctx, const cp_col_geom *g, cl_mem col, size_t col_off,
                    cl_mem img, size_t img_off, const cp_tensor *bias, bool accumulate,
                    bool elu, const cp_tensor *gate)
{
    cl_kernel k;
    CP_TRY(kernel_geom(ctx, g->p, "col2im", &k));
    cl_uint P = g->n * g->ho * g->wo;
    cl_uint total = g->n * g->c * g->h * g->w;
    cl_uint flags = cp_epilogue_flags(accumulate, bias, elu, gate);
    cl_uint2 dw = fastdiv(g->w), dh = fastdiv(g->h), dc = fastdiv(g->c);
    /* Without a bias the kernel never reads it: pass any valid buffer. */
    CP_ARGS(k, CP_ARG(cl_mem, col), CP_ARG(cl_ulong, col_off), CP_ARG(cl_mem, img),
            CP_ARG(cl_ulong, img_off), CP_ARG(cl_mem, bias ? bias->buf : col),
            CP_ARG(cl_ulong, bias ? bias->offset : 0), CP_ARG(cl_uint, g->c),
            CP_ARG(cl_uint, g->h), CP_ARG(cl_uint, g->w), CP_ARG(cl_uint, g->ho),
            CP_ARG(cl_uint, g->wo), CP_ARG(cl_uint, P), CP_ARG(cl_uint, total),
            CP_ARG(cl_uint, flags), ARG_U2(dw), ARG_U2(dh), ARG_U2(dc),
            CP_ARG(cl_mem, gate ? gate->buf : col), CP_ARG(cl_ulong, gate ? gate->offset : 0));
    return cp_enqueue_1d(ctx, k, total, CP_CONV_WG, NULL);
}

cp_status cp_nchw_to_cnhw(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw, cl_mem x,
                          size_t x_off, cl_mem t, size_t t_off)
{
    cl_kernel k;
    CP_TRY(kernel_plain(ctx, "nchw_to_cnhw", &k));
    cl_uint total = n * c * hw;
    cl_uint2 dhw = fastdiv(hw), dc = fastdiv(c);
    CP_ARGS(k, CP_ARG(cl_mem, x), CP_ARG(cl_ulong, x_off), CP_ARG(cl_mem, t),
            CP_ARG(cl_ulong, t_off), CP_ARG(cl_uint, n), CP_ARG(cl_uint, c),
            CP_ARG(cl_uint, hw), CP_ARG(cl_uint, total), ARG_U2(dhw), ARG_U2(dc));
    return cp_enqueue_1d(ctx, k, total, CP_CONV_WG, NULL);
}

cp_status cp_cnhw_to_nchw(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw, cl_mem t,
                          size_t t_off, cl_mem y, size_t y_off, const cp_tensor *bias,
                          bool accumulate, bool elu, const cp_tensor *gate)
{
    cl_kernel k;
    CP_TRY(kernel_plain(ctx, "cnhw_to_nchw", &k));
    cl_uint total = n * c * hw;
    cl_uint2 dhw = fastdiv(hw), dc = fastdiv(c);
    cl_uint flags = cp_epilogue_flags(accumulate, bias, elu, gate);
    CP_ARGS(k, CP_ARG(cl_mem, t), CP_ARG(cl_ulong, t_off), CP_ARG(cl_mem, y),
            CP_ARG(cl_ulong, y_off), CP_ARG(cl_mem, bias ? bias->buf : t),
            CP_ARG(cl_ulong, bias ? bias->offset : 0), CP_ARG(cl_uint, n), CP_ARG(cl_uint, c),
            CP_ARG(cl_uint, hw), CP_ARG(cl_uint, total), CP_ARG(cl_uint, flags),
            ARG_U2(dhw), ARG_U2(dc), CP_ARG(cl_mem, gate ? gate->buf : t),
            CP_ARG(cl_ulong, gate ? gate->offset : 0));
    return cp_enqueue_1d(ctx, k, total, CP_CONV_WG, NULL);
}

cp_status cp_conv_bias_grad(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw,
                            const cp_tensor *dy, cp_tensor *db, bool accumulate)
{
    /* A bounded multi-pass sum per channel (ops_internal.h): one long loop
     * per channel would hit llvmpipe's loop limit and GPU watchdogs. */
    return cp_opsi_channel_sum(ctx, dy, n, c, hw, db, accumulate);
}

cp_status cp_conv_dw_reduce(cp_context *ctx, cl_mem part, size_t part_off, uint32_t chunks,
                            cp_tensor *dw, uint32_t count, bool accumulate)
{
    cl_kernel k;
    CP_TRY(kernel_plain(ctx, "conv_dw_reduce", &k));
    CP_ARGS(k, CP_ARG(cl_mem, part), CP_ARG(cl_ulong, part_off), CP_ARG(cl_mem, dw->buf),
            CP_ARG(cl_ulong, dw->offset), CP_ARG(cl_uint, count), CP_ARG(cl_uint, chunks),
            CP_ARG(cl_uint, accumulate ? 1u : 0u));
    return cp_enqueue_1d(ctx, k, count, 64, NULL);
}

cp_status cp_conv_bias_inplace(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw,
                               cl_mem y, size_t y_off, const cp_tensor *b, bool elu)
{
    cl_kernel k;
    CP_TRY(kernel_plain(ctx, "bias_inplace", &k));
    cl_uint total = n * c * hw;
    cl_uint2 dhw = fastdiv(hw), dc = fastdiv(c);
    cl_uint flags = cp_epilogue_flags(false, b, elu, false);
    CP_ARGS(k, CP_ARG(cl_mem, y), CP_ARG(cl_ulong, y_off), CP_ARG(cl_mem, b ? b->buf : y),
            CP_ARG(cl_ulong, b ? b->offset : 0), CP_ARG(cl_uint, c), CP_ARG(cl_uint, hw),
            CP_ARG(cl_uint, total), ARG_U2(dhw), ARG_U2(dc), CP_ARG(cl_uint, flags));
    return cp_enqueue_1d(ctx, k, total, CP_CONV_WG, NULL);
}

cp_status cp_ws_acquire(cp_context *ctx, const char *op, const cp_tensor *workspace,
                        size_t need, cp_ws *ws)
{
    memset(ws, 0, sizeof *ws);
    if (!workspace || !workspace->buf) {
        /* No workspace: a temporary buffer, released once enqueued (OpenCL
         * keeps it alive until the commands using it have finished). */
        if (need == 0) return CP_OK;
        CP_TRY(cp_buffer_alloc(ctx, need * sizeof(float), &ws->owned));
        ws->buf = ws->owned;
        ws->off = 0;
        return CP_OK;
    }
    if (cp_tensor_numel(workspace) < need) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: workspace %s has %zu floats, %zu needed (see the "
                            "*_workspace_floats functions)",
                            op, cp_tensor_describe(workspace, d, sizeof d),
                            cp_tensor_numel(workspace), need);
    }
    CP_TRY(cp_ops_check_fits(op, workspace, need));
    ws->buf = workspace->buf;
    ws->off = workspace->offset;
    return CP_OK;
}

void cp_ws_release(cp_context *ctx, cp_ws *ws)
{
    if (ws->owned) cp_buffer_free(ctx, ws->owned);
    memset(ws, 0, sizeof *ws);
}

/* ----------------------------------------------------------- convolution */

cp_conv_params cp_conv3_params(void)
{
    return (cp_conv_params){.kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1,
                            .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
}

cp_conv_params cp_conv2_params(void)
{
    return (cp_conv_params){.kh = 2, .kw = 2, .stride_h = 1, .stride_w = 1,
                            .pad_top = 0, .pad_left = 0, .pad_bottom = 1, .pad_right = 1};
}

bool cp_conv_out_size(const cp_conv_params *p, int64_t h, int64_t w, int64_t *ho, int64_t *wo)
{
    if (!p || p->kh < 1 || p->kw < 1 || p->stride_h < 1 || p->stride_w < 1 || h < 1 || w < 1)
        return false;
    int64_t eh = h + p->pad_top + p->pad_bottom - p->kh;
    int64_t ew = w + p->pad_left + p->pad_right - p->kw;
    if (eh < 0 || ew < 0) return false;
    if (ho) *ho = eh / p->stride_h + 1;
    if (wo) *wo = ew / p->stride_w + 1;
    return true;
}

size_t cp_conv2d_workspace_floats(cp_context *ctx, const cp_conv_params *p, int64_t n,
                                  int64_t c_in, int64_t h, int64_t w, int64_t c_out)
{
    return cp_conv_workspace_floats_of(ctx, false, p, n, c_in, h, w, c_out);
}

cp_status cp_conv2d_forward(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                            const cp_tensor *w, const cp_tensor *b, cp_tensor *y,
                            const cp_tensor *workspace)
{
    return cp_conv2d_forward_act(ctx, p, x, w, b, CP_FUSED_NONE, y, workspace);
}

cp_status cp_conv2d_forward_act(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                                const cp_tensor *w, const cp_tensor *b, cp_fused_act act,
                                cp_tensor *y, const cp_tensor *workspace)
{
    static const char op[] = "cp_conv2d_forward";
    cp_conv_shape s;
    bool done;
    CP_TRY(cp_conv_forward_start(ctx, op, false, p, x, w, b, act, y, &s, &done));
    if (done) return CP_OK;
    bool elu = act == CP_FUSED_ELU;
    cp_conv_gemm_plan pl = cp_conv_gemm_plan_of(ctx, false, p, &s);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.perm, &ws));
    size_t col_off = ws.off + pl.gemm_t, tmp_off = col_off + pl.col;
    cl_mem gemm_ws = ws.off == 0 ? ws.buf : NULL;

    cp_col_geom g = {p, (uint32_t)s.n, (uint32_t)s.c_in, (uint32_t)s.h, (uint32_t)s.w,
                     (uint32_t)s.ho, (uint32_t)s.wo};
    /* With one image, [C_out, HoWo] is already y's layout: no permute. */
    bool direct = s.n == 1;
    cp_status st = cp_im2col(ctx, &g, x->buf, x->offset, ws.buf, col_off);
    if (st == CP_OK) {
        cp_gemm_args ga = {.trans_a = false, .trans_b = false, .m = (size_t)s.c_out,
                           .n = pl.p, .k = pl.k, .alpha = 1.0f, .beta = 0.0f,
                           .a = w->buf, .a_off = w->offset, .lda = pl.k,
                           .b = ws.buf, .b_off = col_off, .ldb = pl.p,
                           .c = direct ? y->buf : ws.buf,
                           .c_off = direct ? y->offset : tmp_off, .ldc = pl.p};
        st = cp_gemm(ctx, &ga, gemm_ws, 0);
    }
    /* Bias and activation in one pass after the GEMM (with the permute). */
    if (st == CP_OK && direct && (b || elu))
        st = cp_conv_bias_inplace(ctx, 1, (uint32_t)s.c_out, (uint32_t)(s.ho * s.wo), y->buf,
                                  y->offset, b, elu);
    if (st == CP_OK && !direct)
        st = cp_cnhw_to_nchw(ctx, (uint32_t)s.n, (uint32_t)s.c_out, (uint32_t)(s.ho * s.wo),
                             ws.buf, tmp_off, y->buf, y->offset, b, false, elu, NULL);
    cp_ws_release(ctx, &ws);
    return st;
}

cp_status cp_conv2d_backward(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                             const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                             cp_tensor *dw, cp_tensor *db, bool accumulate,
                             const cp_tensor *workspace)
{
    return cp_conv2d_backward_act(ctx, p, x, w, dy, dx, dw, db, accumulate, CP_FUSED_NONE,
                                  workspace);
}

cp_status cp_conv2d_backward_act(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                                 cp_tensor *dw, cp_tensor *db, bool accumulate,
                                 cp_fused_act x_act, const cp_tensor *workspace)
{
    static const char op[] = "cp_conv2d_backward";
    cp_conv_shape s;
    CP_TRY(cp_conv_backward_start(ctx, op, false, p, x, w, dy, &dx, &dw, db, accumulate, x_act,
                                  workspace, &s));
    if (!dx && !dw) return CP_OK;
    bool elu_grad = x_act == CP_FUSED_ELU;
    uint32_t hwo = (uint32_t)(s.ho * s.wo);
    cp_conv_gemm_plan pl = cp_conv_gemm_plan_of(ctx, false, p, &s);
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, pl.gemm_t + pl.col + pl.perm, &ws));
    size_t col_off = ws.off + pl.gemm_t, dyp_off = col_off + pl.col;
    cl_mem gemm_ws = ws.off == 0 ? ws.buf : NULL;
    cp_col_geom g = {p, (uint32_t)s.n, (uint32_t)s.c_in, (uint32_t)s.h, (uint32_t)s.w,
                     (uint32_t)s.ho, (uint32_t)s.wo};

    /* dY'[C_out, P]; with one image that is dy itself. */
    cl_mem dyp;
    cp_status st = cp_conv_cnhw_of(ctx, dy, (uint32_t)s.n, (uint32_t)s.c_out, hwo, ws.buf, &dyp,
                                   &dyp_off);
    if (st == CP_OK && dx) {
        /* dcol[K, P] = Wᵀ × dY', then gathered into dx */
        st = cp_conv_gemm_wt(ctx, &pl, w, dyp, dyp_off, ws.buf, col_off, gemm_ws);
        if (st == CP_OK)
            st = cp_col2im(ctx, &g, ws.buf, col_off, dx->buf, dx->offset, NULL, accumulate,
                           false, elu_grad ? x : NULL);
    }
    if (st == CP_OK && dw) {
        /* col = im2col(x) (the in-order queue serialises it after col2im),
         * dW[C_out, K] (+)= dY' × colᵀ */
        st = cp_im2col(ctx, &g, x->buf, x->offset, ws.buf, col_off);
        if (st == CP_OK)
            st = cp_conv_gemm_dw(ctx, &pl, dyp, dyp_off, ws.buf, col_off, dw, accumulate,
                                 gemm_ws);
    }
    cp_ws_release(ctx, &ws);
    return st;
}
