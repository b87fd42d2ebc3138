/* Direct stride-1 convolution (cl/conv_direct.cl), the default route of
 * cp_conv2d_* on CPU devices (conv_route.c picks routes per pass): no im2col matrix (at 128×128 and batch 8 it is
 * hundreds of MiB, written once and streamed C_out/6 times by the GEMM) and
 * no layout permutes. GPUs keep im2col + CLBlast's tuned GEMM.
 *
 *   forward   y = conv(x, w) (+ b)                      one kernel
 *   dx        dx (+)= conv(dy, flip(w)ᵀ), padding KH-1-PT, KW-1-PL
 *   dw        per-chunk partial sums over output rows, then a fixed-order
 *             reduction of the chunks (deterministic, no atomics)
 * Workspace (floats): max(flipped weights, partial sums), backward only.
 */
#include "backend/opencl/ops/conv_direct.h"
#include "backend/opencl/ops/conv_fused.h"

#include <stdio.h>
#include <string.h>

/* Narrowest maps (output width) of the direct route, and of its dw kernel:
 * measured on PoCL / AVX-512 at base's shapes, batch 8 (notes/ops.md). */
#define MIN_WIDTH 16
#define DW_MIN_WIDTH 32
/* up2 by input width (base's decoder, batch 8; direct / GEMM ms):
 * forward 4 px 1.1 / 0.7, 8 px 2.8 / 2.7, 16 px+ 2-5x faster direct;
 * dx 16 px 17.0 / 9.7, 32 px 11.2 / 21.8; dw 32 px 15.0 / 13.1, 64 px
 * 15.3 / 20.9. */
#define UP2_MIN_WIDTH 8
#define UP2_DX_MIN_WIDTH 32
#define UP2_DW_MIN_WIDTH 64
/* Bytes of dy + x rows per dw chunk. Measured on base's 32-128 px layers at
 * batch 8: 256 KiB 133 ms, 1 MiB 115 ms, 4 MiB 109 ms, 16 MiB+ 112 ms (fewer
 * chunks: fewer partial sums and row-loop restarts; L3 holds the chunk). */
#define DW_CHUNK_BYTES (4u << 20)
/* Upper bound on dw chunks (their partial sums are written and re-read). */
#define DW_MAX_CHUNKS 64u

/* The widest vector (16, 8 or 4 floats) that divides a row of w; 0 if none. */
static int vector_width(int64_t w) { return w % 16 == 0 ? 16 : w % 8 == 0 ? 8 : w % 4 == 0 ? 4 : 0; }

/* Output rows per dw chunk (and the chunk count) for rows of `row_bytes`
 * (dy and x together) out of rows_total. */
static void dw_chunks(uint64_t rows_total, uint64_t row_bytes, cp_conv_direct_cfg *cfg)
{
    uint64_t rows = DW_CHUNK_BYTES / row_bytes;
    if (rows < 1) rows = 1;
    if ((rows_total + rows - 1) / rows > DW_MAX_CHUNKS)
        rows = (rows_total + DW_MAX_CHUNKS - 1) / DW_MAX_CHUNKS;
    cfg->dw_rows = (uint32_t)rows;
    cfg->dw_chunks = (uint32_t)((rows_total + rows - 1) / rows);
}

void cp_conv_direct_default(int64_t w, bool passes[3])
{
    /* On narrow maps a row is one or two vectors and the im2col matrix is
     * small: im2col + GEMM is faster there (notes/ops.md). */
    passes[0] = passes[1] = w >= MIN_WIDTH;
    passes[2] = w >= DW_MIN_WIDTH;
}

bool cp_conv_direct_plan(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                         int64_t w, int64_t c_out, const bool passes[3],
                         cp_conv_direct_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    int64_t ho, wo;
    if (!p || p->stride_h != 1 || p->stride_w != 1 || !cp_conv_out_size(p, h, w, &ho, &wo) ||
        wo != w || n < 1 || c_in < 1 || c_out < 1)
        return false;
    int vw = vector_width(w);
    if (vw == 0) return false;
    /* Every kernel-column shift (forward and the flipped dx) within two
     * neighbouring vectors. */
    if (p->pad_left >= vw || p->kw - 1 - p->pad_left >= vw) return false;
    /* 32-bit weight offsets in the kernels. */
    if ((uint64_t)c_out * (uint64_t)c_in * (uint64_t)(p->kh * p->kw) > INT32_MAX) return false;
    cfg->vw = vw;
    cfg->tn = (w / vw) % 2 == 0 ? 2 : 1;
    cfg->tm = 8;
    /* dw accumulators: TMW·KW vectors (·TNW in flight); more than ~24 of
     * AVX-512's 32 registers spilled on PoCL and ran at half speed. */
    cfg->tmw = p->kw <= 3 ? 8 : p->kw >= 24 ? 1 : 24 / p->kw;
    cfg->tnw = cfg->tmw * p->kw <= 16 && cfg->tn == 2 ? 2 : 1;
    cfg->fwd_direct = passes[0];
    cfg->dx_direct = passes[1];
    cfg->dw_direct = passes[2];
    cfg->ho = ho;
    /* dw: chunks of output rows whose dy and x rows fit DW_CHUNK_BYTES. */
    dw_chunks((uint64_t)n * (uint64_t)ho, (uint64_t)(c_in + c_out) * (uint64_t)w * sizeof(float),
              cfg);
    size_t wcount = (size_t)c_out * (size_t)c_in * (size_t)(p->kh * p->kw);
    size_t part = cfg->dw_direct ? wcount * cfg->dw_chunks : 0;
    size_t flipped = cfg->dx_direct ? wcount : 0;
    cfg->workspace = part > flipped ? part : flipped;
    return true;
}

/* The kernels of cl/conv_direct.cl for padding (pt, pl). */
static cp_status conv_kernel(cp_context *ctx, const cp_conv_params *p, int pt, int pl,
                             const cp_conv_direct_cfg *c, const char *name, cl_kernel *k)
{
    char opts[128];
    snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DPT=%d -DPL=%d -DVW=%d -DTN=%d -DTM=%d",
             p->kh, p->kw, pt, pl, c->vw, c->tn, c->tm);
    return cp_kernel_get(ctx, "conv_direct.cl", opts, name, k);
}

static cp_status dw_kernel(cp_context *ctx, const cp_conv_params *p,
                           const cp_conv_direct_cfg *c, cl_kernel *k)
{
    char opts[128];
    snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DPT=%d -DPL=%d -DVW=%d -DTNW=%d -DTMW=%d",
             p->kh, p->kw, p->pad_top, p->pad_left, c->vw, c->tnw, c->tmw);
    return cp_kernel_get(ctx, "conv_direct_dw.cl", opts, "conv_direct_dw", k);
}

/* out[n, c_out, ho, w] (+)= conv(in[n, c_in, h, w], wgt) (+ bias). */
static cp_status run_direct(cp_context *ctx, const cp_conv_params *p, int pt, int pl,
                            const cp_conv_direct_cfg *c, uint32_t n, uint32_t c_in,
                            uint32_t h, uint32_t w, uint32_t c_out, uint32_t ho, cl_mem in,
                            size_t in_off, cl_mem wgt, size_t wgt_off, const cp_tensor *bias,
                            cl_mem out, size_t out_off, bool accumulate, bool elu,
                            const cp_tensor *gate)
{
    cl_kernel k;
    CP_TRY(conv_kernel(ctx, p, pt, pl, c, "conv_direct", &k));
    cl_uint flags = cp_epilogue_flags(accumulate, bias, elu, gate);
    CP_ARGS(k, CP_ARG(cl_mem, in), CP_ARG(cl_ulong, in_off), CP_ARG(cl_mem, wgt),
            CP_ARG(cl_ulong, wgt_off), CP_ARG(cl_mem, bias ? bias->buf : wgt),
            CP_ARG(cl_ulong, bias ? bias->offset : 0), CP_ARG(cl_mem, out),
            CP_ARG(cl_ulong, out_off), CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, h),
            CP_ARG(cl_uint, w), CP_ARG(cl_uint, c_out), CP_ARG(cl_uint, ho),
            CP_ARG(cl_uint, flags), CP_ARG(cl_mem, gate ? gate->buf : in),
            CP_ARG(cl_ulong, gate ? gate->offset : 0));
    size_t global[3] = {(c_out + (size_t)c->tm - 1) / (size_t)c->tm,
                        w / ((size_t)c->tn * (size_t)c->vw), (size_t)n * ho};
    size_t local[3] = {1, 1, 1};
    return cp_enqueue_nd(ctx, k, 3, global, local, NULL);
}

cp_status cp_conv_direct_forward(cp_context *ctx, const cp_conv_direct_cfg *c,
                                 const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *b, cp_tensor *y, bool elu)
{
    return run_direct(ctx, p, p->pad_top, p->pad_left, c, (uint32_t)x->shape[0],
                      (uint32_t)x->shape[1], (uint32_t)x->shape[2], (uint32_t)x->shape[3],
                      (uint32_t)w->shape[0], (uint32_t)c->ho, x->buf, x->offset, w->buf,
                      w->offset, b, y->buf, y->offset, false, elu, NULL);
}

/* The kernels of one backward: dx and/or dw (either may be NULL), the
 * workspace at ws + ws_off. */
typedef cp_status (*backward_kernels)(cp_context *ctx, const cp_conv_direct_cfg *c,
                                      const cp_conv_params *p, const cp_tensor *x,
                                      const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                                      cp_tensor *dw, bool accumulate, bool elu_grad,
                                      cl_mem ws, size_t ws_off);

/* Runs the passes of *dx / *dw that c gives to the direct kernels, in the
 * caller's workspace (or a temporary), and clears those pointers. */
static cp_status run_backward(cp_context *ctx, const char *op, const cp_conv_direct_cfg *c,
                              const cp_conv_params *p, const cp_tensor *x, const cp_tensor *w,
                              const cp_tensor *dy, cp_tensor **dx, cp_tensor **dw,
                              bool accumulate, bool elu_grad, const cp_tensor *workspace,
                              size_t need, backward_kernels kernels)
{
    cp_tensor *ddx = c->dx_direct ? *dx : NULL, *ddw = c->dw_direct ? *dw : NULL;
    if (!ddx && !ddw) return CP_OK;
    cp_ws ws;
    CP_TRY(cp_ws_acquire(ctx, op, workspace, need, &ws));
    cp_status st = kernels(ctx, c, p, x, w, dy, ddx, ddw, accumulate, elu_grad, ws.buf, ws.off);
    cp_ws_release(ctx, &ws);
    if (ddx) *dx = NULL;
    if (ddw) *dw = NULL;
    return st;
}

static cp_status conv_backward_kernels(cp_context *ctx, const cp_conv_direct_cfg *c,
                                       const cp_conv_params *p, const cp_tensor *x,
                                       const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                                       cp_tensor *dw, bool accumulate, bool elu_grad, cl_mem ws,
                                       size_t ws_off)
{
    uint32_t n = (uint32_t)x->shape[0], c_in = (uint32_t)x->shape[1];
    uint32_t h = (uint32_t)x->shape[2], wd = (uint32_t)x->shape[3];
    uint32_t c_out = (uint32_t)w->shape[0], ho = (uint32_t)c->ho;
    uint32_t wcount = c_out * c_in * (uint32_t)(p->kh * p->kw);
    if (dx) {
        /* wt = flip(w)ᵀ into the workspace, then dx = conv(dy, wt): an output
         * row iy gathers dy rows iy - (KH-1-PT) + ky', so the padding is
         * KH-1-PT on top (and the output height is H again). */
        cl_kernel k;
        CP_TRY(conv_kernel(ctx, p, p->pad_top, p->pad_left, c, "conv_flip_weights", &k));
        CP_ARGS(k, CP_ARG(cl_mem, w->buf), CP_ARG(cl_ulong, w->offset), CP_ARG(cl_mem, ws),
                CP_ARG(cl_ulong, ws_off), CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, c_out));
        CP_TRY(cp_enqueue_1d(ctx, k, wcount, 64, NULL));
        CP_TRY(run_direct(ctx, p, p->kh - 1 - p->pad_top, p->kw - 1 - p->pad_left, c, n, c_out,
                          ho, wd, c_in, h, dy->buf, dy->offset, ws, ws_off, NULL, dx->buf,
                          dx->offset, accumulate, false, elu_grad ? x : NULL));
    }
    if (dw) {
        /* The in-order queue runs this after the dx kernel that read wt. */
        cl_kernel k;
        CP_TRY(dw_kernel(ctx, p, c, &k));
        cl_uint rows_total = n * ho;
        CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, dy->buf),
                CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, ws), CP_ARG(cl_ulong, ws_off),
                CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, h), CP_ARG(cl_uint, wd),
                CP_ARG(cl_uint, c_out), CP_ARG(cl_uint, ho), CP_ARG(cl_uint, c->dw_rows),
                CP_ARG(cl_uint, rows_total));
        size_t global[3] = {(c_out + (size_t)c->tmw - 1) / (size_t)c->tmw,
                            (size_t)c_in * (size_t)p->kh, c->dw_chunks};
        size_t local[3] = {1, 1, 1};
        CP_TRY(cp_enqueue_nd(ctx, k, 3, global, local, NULL));
        CP_TRY(cp_conv_dw_reduce(ctx, ws, ws_off, c->dw_chunks, dw, wcount, accumulate));
    }
    return CP_OK;
}

cp_status cp_conv_direct_backward(cp_context *ctx, const char *op, const cp_conv_direct_cfg *c,
                                  const cp_conv_params *p, const cp_tensor *x,
                                  const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                  cp_tensor **dw, bool accumulate, bool elu_grad,
                                  const cp_tensor *workspace)
{
    return run_backward(ctx, op, c, p, x, w, dy, dx, dw, accumulate, elu_grad, workspace,
                        c->workspace, conv_backward_kernels);
}

/* ---- up2: 2×2 transposed convolution, stride 2 ---- */

/* Input-gradient channels per work-item of up2_direct_dx (TMX accumulators;
 * 16 ran 15-20 % faster than 8 on base's 32 and 64 px layers). */
#define UP2_DX_TM 16

void cp_up2_direct_default(int64_t w, bool passes[3])
{
    passes[0] = w >= UP2_MIN_WIDTH;
    passes[1] = w >= UP2_DX_MIN_WIDTH;
    passes[2] = w >= UP2_DW_MIN_WIDTH;
}

bool cp_up2_direct_plan(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                        int64_t w, int64_t c_out, const bool passes[3],
                        cp_conv_direct_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (!p || p->kh != 2 || p->kw != 2 || p->stride_h != 2 || p->stride_w != 2 ||
        p->pad_top || p->pad_left || p->pad_bottom || p->pad_right || n < 1 || c_in < 1 ||
        c_out < 1 || h < 1)
        return false;
    int vw = vector_width(w);
    if (vw == 0) return false;
    if ((uint64_t)c_out * (uint64_t)c_in * 4u > INT32_MAX) return false;
    cfg->vw = vw;
    cfg->tn = 1;
    cfg->tm = 4;
    cfg->tmw = 8;
    cfg->fwd_direct = passes[0];
    cfg->dx_direct = passes[1];
    cfg->dw_direct = passes[2];
    cfg->ho = 2 * h;
    dw_chunks((uint64_t)n * (uint64_t)h,
              (uint64_t)(c_in + 4 * c_out) * (uint64_t)w * sizeof(float), cfg);
    cfg->workspace = cfg->dw_direct ? (size_t)c_out * (size_t)c_in * 4u * cfg->dw_chunks : 0;
    return true;
}

static cp_status up2_kernel(cp_context *ctx, const cp_conv_direct_cfg *c, const char *name,
                            cl_kernel *k)
{
    char opts[96];
    snprintf(opts, sizeof opts, "-DVW=%d -DTM=%d -DTMX=%d -DTMW=%d", c->vw, c->tm, UP2_DX_TM,
             c->tmw);
    return cp_kernel_get(ctx, "up2_direct.cl", opts, name, k);
}

cp_status cp_up2_direct_forward(cp_context *ctx, const cp_conv_direct_cfg *c,
                                const cp_tensor *x, const cp_tensor *w, const cp_tensor *b,
                                cp_tensor *y, bool elu)
{
    cl_uint n = (cl_uint)x->shape[0], c_in = (cl_uint)x->shape[1];
    cl_uint h = (cl_uint)x->shape[2], wd = (cl_uint)x->shape[3], c_out = (cl_uint)w->shape[1];
    cl_kernel k;
    CP_TRY(up2_kernel(ctx, c, "up2_direct", &k));
    cl_uint flags = cp_epilogue_flags(false, b, elu, false);
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, w->buf),
            CP_ARG(cl_ulong, w->offset), CP_ARG(cl_mem, b ? b->buf : w->buf),
            CP_ARG(cl_ulong, b ? b->offset : 0), CP_ARG(cl_mem, y->buf),
            CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, h),
            CP_ARG(cl_uint, wd), CP_ARG(cl_uint, c_out), CP_ARG(cl_uint, flags));
    size_t global[3] = {(c_out + (size_t)c->tm - 1) / (size_t)c->tm, wd / (size_t)c->vw,
                        (size_t)n * h};
    size_t local[3] = {1, 1, 1};
    return cp_enqueue_nd(ctx, k, 3, global, local, NULL);
}

static cp_status up2_backward_kernels(cp_context *ctx, const cp_conv_direct_cfg *c,
                                      const cp_conv_params *p, const cp_tensor *x,
                                      const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                                      cp_tensor *dw, bool accumulate, bool elu_grad, cl_mem ws,
                                      size_t ws_off)
{
    (void)p; /* always up2 */
    cl_uint n = (cl_uint)x->shape[0], c_in = (cl_uint)x->shape[1];
    cl_uint h = (cl_uint)x->shape[2], wd = (cl_uint)x->shape[3], c_out = (cl_uint)w->shape[1];
    size_t local[3] = {1, 1, 1};
    if (dx) {
        cl_kernel k;
        CP_TRY(up2_kernel(ctx, c, "up2_direct_dx", &k));
        CP_ARGS(k, CP_ARG(cl_mem, dy->buf), CP_ARG(cl_ulong, dy->offset),
                CP_ARG(cl_mem, w->buf), CP_ARG(cl_ulong, w->offset), CP_ARG(cl_mem, dx->buf),
                CP_ARG(cl_ulong, dx->offset), CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, h),
                CP_ARG(cl_uint, wd), CP_ARG(cl_uint, c_out),
                CP_ARG(cl_uint, cp_epilogue_flags(accumulate, false, false, elu_grad)),
                CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset));
        size_t global[3] = {(c_in + (size_t)UP2_DX_TM - 1) / UP2_DX_TM, wd / (size_t)c->vw,
                            (size_t)n * h};
        CP_TRY(cp_enqueue_nd(ctx, k, 3, global, local, NULL));
    }
    if (dw) {
        cl_uint nw = c_out * c_in * 4u;
        cl_kernel k;
        CP_TRY(up2_kernel(ctx, c, "up2_direct_dw", &k));
        CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, dy->buf),
                CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, ws), CP_ARG(cl_ulong, ws_off),
                CP_ARG(cl_uint, c_in), CP_ARG(cl_uint, h), CP_ARG(cl_uint, wd),
                CP_ARG(cl_uint, c_out), CP_ARG(cl_uint, c->dw_rows),
                CP_ARG(cl_uint, n * h));
        size_t global[3] = {(c_out + (size_t)c->tmw - 1) / (size_t)c->tmw, c_in, c->dw_chunks};
        CP_TRY(cp_enqueue_nd(ctx, k, 3, global, local, NULL));
        CP_TRY(cp_conv_dw_reduce(ctx, ws, ws_off, c->dw_chunks, dw, nw, accumulate));
    }
    return CP_OK;
}

cp_status cp_up2_direct_backward(cp_context *ctx, const char *op, const cp_conv_direct_cfg *c,
                                 const cp_tensor *x, const cp_tensor *w, const cp_tensor *dy,
                                 cp_tensor **dx, cp_tensor **dw, bool accumulate, bool elu_grad,
                                 const cp_tensor *workspace)
{
    /* Only the dw kernel uses the workspace (its chunk partial sums). */
    bool ddw = c->dw_direct && *dw;
    cp_conv_params p = cp_up2_params();
    return run_backward(ctx, op, c, &p, x, w, dy, dx, dw, accumulate, elu_grad, workspace,
                        ddw ? c->workspace : 0, up2_backward_kernels);
}
