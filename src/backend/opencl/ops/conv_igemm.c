/* Implicit-GEMM convolution (cl/conv_igemm.cl): the route for GPU-class
 * devices. No im2col matrix in global memory and no layout permutes: each
 * work-group gathers its slice of the column matrix into local memory.
 *
 *   forward   y (+)= conv(x, w) (+ b)                     one kernel (mode 0)
 *   dx        dx (+)= the adjoint gather from dy          one kernel (mode 1)
 *   dw        partial sums per chunk of output pixels     mode 2, then a
 *             fixed-order reduction (deterministic, no atomics)
 * The transposed convolution runs the same kernels with the roles swapped
 * (conv_transpose.c).
 *
 * Tiles: the first of a list that the device and the built kernel allow
 * (CL_KERNEL_WORK_GROUP_SIZE after the build, the work-item sizes and the
 * local memory), down to one work-item per group. */
#include "backend/opencl/ops/conv_igemm.h"
#include "backend/opencl/ops/conv_fused.h"

#include <stdio.h>
#include <string.h>

size_t cp_igemm_wg_cap;

/* k step of every tile (the dw chunks are multiples of it). */
#define TK 16
/* dw: output pixels per chunk aimed at, most chunks, and most floats of
 * partial sums (beyond that, fewer and longer chunks). */
#define DW_CHUNK_TARGET 4096u
#define DW_MAX_CHUNKS 64u
#define DW_MAX_PART_FLOATS (16u << 20)

typedef struct tile {
    int lx, ly, tm, tn;
} tile;

/* Work-items lx × ly, each TM × TN outputs: 64 × 64 blocks of 256 items
 * first (dlprimitives' shape for 3×3 layers), then smaller groups. With few
 * output rows (channels), one row per work-item and wider blocks. */
static const tile tiles_wide[] = {{16, 16, 4, 4}, {8, 8, 4, 4}, {4, 4, 4, 4}, {2, 2, 4, 4},
                                  {1, 1, 4, 4}};
static const tile tiles_narrow[] = {{32, 8, 1, 2}, {16, 4, 1, 2}, {8, 2, 1, 2}, {4, 1, 1, 2},
                                    {1, 1, 1, 4}};
#define NTILES 5

static size_t device_item_size(cp_context *ctx, int dim)
{
    size_t sizes[3] = {1, 1, 1};
    if (clGetDeviceInfo(cp_context_device(ctx)->device, CL_DEVICE_MAX_WORK_ITEM_SIZES,
                        sizeof sizes, sizes, NULL) != CL_SUCCESS)
        return 1;
    return sizes[dim];
}

/* The kernel for `mode` and the first tile that fits. */
static cp_status get_kernel(cp_context *ctx, int mode, const cp_conv_params *p, uint32_t mdim,
                            cl_kernel *k, tile *t)
{
    const tile *list = mdim <= 16 ? tiles_narrow : tiles_wide;
    size_t dev_wg = cp_context_wg_size(ctx, 1u << 20);
    if (cp_igemm_wg_cap && cp_igemm_wg_cap < dev_wg) dev_wg = cp_igemm_wg_cap;
    size_t max_x = device_item_size(ctx, 0), max_y = device_item_size(ctx, 1);
    uint64_t local = cp_context_device(ctx)->local_mem_bytes;
    for (int i = 0; i < NTILES; i++) {
        const tile *c = &list[i];
        size_t items = (size_t)c->lx * (size_t)c->ly;
        uint64_t bytes = (uint64_t)TK * (uint64_t)(c->ly * c->tm + 1 + c->lx * c->tn) * 4u;
        if (i + 1 < NTILES && (items > dev_wg || (size_t)c->lx > max_x ||
                               (size_t)c->ly > max_y || bytes > local))
            continue;
        char opts[192];
        snprintf(opts, sizeof opts,
                 "-DMODE=%d -DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPT=%d -DPL=%d -DTM=%d -DTN=%d "
                 "-DLX=%d -DLY=%d -DTK=%d",
                 mode, p->kh, p->kw, p->stride_h, p->stride_w, p->pad_top, p->pad_left, c->tm,
                 c->tn, c->lx, c->ly, TK);
        CP_TRY(cp_kernel_get(ctx, "conv_igemm.cl", opts, "conv_igemm", k));
        size_t kwg = 0;
        CP_CL_CHECK(clGetKernelWorkGroupInfo(*k, cp_context_device(ctx)->device,
                                             CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                                             NULL));
        if (items <= kwg || i + 1 == NTILES) {
            *t = *c;
            return CP_OK;
        }
    }
    return cp_set_error(CP_ERR_UNSUPPORTED, "conv_igemm: no tile fits the device");
}

typedef struct launch {
    int mode;
    cl_mem src, wgt, bias, out;
    size_t src_off, wgt_off, bias_off, out_off;
    const cp_tensor *gate; /* ELU output: the result times ELU'(gate), or NULL */
    bool has_bias, accumulate, elu;
    uint32_t mdim, ndim, chunk, chunks;
} launch;

static cp_status run(cp_context *ctx, const cp_igemm_geom *g, const launch *l)
{
    cl_kernel k;
    tile t = {1, 1, 1, 1};
    CP_TRY(get_kernel(ctx, l->mode, g->p, l->mdim, &k, &t));
    cl_uint flags = cp_epilogue_flags(l->accumulate, l->has_bias, l->elu, l->gate);
    CP_ARGS(k, CP_ARG(cl_mem, l->src), CP_ARG(cl_ulong, l->src_off), CP_ARG(cl_mem, l->wgt),
            CP_ARG(cl_ulong, l->wgt_off), CP_ARG(cl_mem, l->bias),
            CP_ARG(cl_ulong, l->bias_off), CP_ARG(cl_mem, l->out),
            CP_ARG(cl_ulong, l->out_off), CP_ARG(cl_uint, g->n), CP_ARG(cl_uint, g->c),
            CP_ARG(cl_uint, g->h), CP_ARG(cl_uint, g->w), CP_ARG(cl_uint, g->co),
            CP_ARG(cl_uint, g->ho), CP_ARG(cl_uint, g->wo), CP_ARG(cl_uint, l->chunk),
            CP_ARG(cl_uint, flags), CP_ARG(cl_mem, l->gate ? l->gate->buf : l->src),
            CP_ARG(cl_ulong, l->gate ? l->gate->offset : 0));
    size_t bm = (size_t)t.ly * (size_t)t.tm, bn = (size_t)t.lx * (size_t)t.tn;
    size_t global[3] = {(l->ndim + bn - 1) / bn * (size_t)t.lx,
                        (l->mdim + bm - 1) / bm * (size_t)t.ly, l->chunks};
    size_t local[3] = {(size_t)t.lx, (size_t)t.ly, 1};
    return cp_enqueue_nd(ctx, k, 3, global, local, NULL);
}

cp_status cp_igemm_forward(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *img,
                           const cp_tensor *w, const cp_tensor *bias, const cp_tensor *out,
                           bool accumulate, bool elu, const cp_tensor *gate)
{
    launch l = {.mode = 0, .src = img->buf, .src_off = img->offset, .wgt = w->buf,
                .wgt_off = w->offset, .bias = bias ? bias->buf : w->buf,
                .bias_off = bias ? bias->offset : 0, .out = out->buf, .out_off = out->offset,
                .has_bias = bias != NULL, .accumulate = accumulate, .elu = elu, .gate = gate,
                .mdim = g->co,
                .ndim = g->n * g->ho * g->wo, .chunk = 0, .chunks = 1};
    return run(ctx, g, &l);
}

cp_status cp_igemm_data_grad(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *dout,
                             const cp_tensor *w, const cp_tensor *bias,
                             const cp_tensor *img_grad, bool accumulate, bool elu,
                             const cp_tensor *gate)
{
    launch l = {.mode = 1, .src = dout->buf, .src_off = dout->offset, .wgt = w->buf,
                .wgt_off = w->offset, .bias = bias ? bias->buf : w->buf,
                .bias_off = bias ? bias->offset : 0, .out = img_grad->buf,
                .out_off = img_grad->offset, .has_bias = bias != NULL,
                .accumulate = accumulate, .elu = elu, .gate = gate, .mdim = g->c, .ndim = g->n * g->h * g->w,
                .chunk = 0, .chunks = 1};
    return run(ctx, g, &l);
}

/* Chunks of output pixels for dw and their length (a multiple of TK). */
static void dw_chunks(const cp_igemm_geom *g, uint32_t *chunks, uint32_t *chunk)
{
    uint64_t kdim = (uint64_t)g->n * g->ho * g->wo;
    uint64_t count = (uint64_t)g->co * g->c * (uint64_t)(g->p->kh * g->p->kw);
    uint64_t n = (kdim + DW_CHUNK_TARGET - 1) / DW_CHUNK_TARGET;
    if (n > DW_MAX_CHUNKS) n = DW_MAX_CHUNKS;
    if (n * count > DW_MAX_PART_FLOATS) n = DW_MAX_PART_FLOATS / count;
    if (n < 1) n = 1;
    uint64_t len = (kdim + n - 1) / n;
    len = (len + TK - 1) / TK * TK;
    *chunk = (uint32_t)len;
    *chunks = (uint32_t)((kdim + len - 1) / len);
}

size_t cp_igemm_weight_grad_workspace(const cp_igemm_geom *g)
{
    uint32_t chunks, chunk;
    dw_chunks(g, &chunks, &chunk);
    if (chunks <= 1) return 0;
    return (size_t)chunks * g->co * g->c * (size_t)(g->p->kh * g->p->kw);
}

cp_status cp_igemm_weight_grad(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *img,
                               const cp_tensor *dout, cp_tensor *dw, bool accumulate,
                               cl_mem ws, size_t ws_off)
{
    uint32_t chunks, chunk;
    dw_chunks(g, &chunks, &chunk);
    uint32_t ndim = g->c * (uint32_t)(g->p->kh * g->p->kw);
    bool direct = chunks <= 1;
    launch l = {.mode = 2, .src = img->buf, .src_off = img->offset, .wgt = dout->buf,
                .wgt_off = dout->offset, .bias = dout->buf, .bias_off = 0,
                .out = direct ? dw->buf : ws, .out_off = direct ? dw->offset : ws_off,
                .has_bias = false, .accumulate = direct && accumulate, .mdim = g->co,
                .ndim = ndim, .chunk = chunk, .chunks = chunks};
    CP_TRY(run(ctx, g, &l));
    if (direct) return CP_OK;
    return cp_conv_dw_reduce(ctx, ws, ws_off, chunks, dw, g->co * ndim,
                             accumulate);
}
