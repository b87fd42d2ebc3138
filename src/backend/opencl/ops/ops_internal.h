/* Internal helpers of the non-GEMM operators (pool, element-wise,
 * activations, batch norm, losses, reductions, Adam): argument checks that
 * name the tensors, NCHW views of a tensor's shape, 1-D launches and the
 * work-group size of the work-group tree reductions. */
#ifndef CP_OPS_INTERNAL_H
#define CP_OPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/ops.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/kernel_args.h"

/* Work-group size asked for by element-wise launches and reductions. */
#define CP_OPSI_WG 256

/* A tensor's shape as N, C, H, W (trailing dims are 1). */
typedef struct cp_opsi_nchw {
    uint32_t n, c, h, w;
    uint32_t hw;    /* h * w */
    uint32_t numel; /* n * c * h * w */
} cp_opsi_nchw;

/* `t` (called `what` in messages) is non-NULL, has a buffer and fewer than
 * 2^32 elements (kernels index with 32-bit integers); fills *s if non-NULL. */
cp_status cp_opsi_tensor(const char *op, const char *what, const cp_tensor *t,
                         cp_opsi_nchw *s);
/* Same number of elements. */
cp_status cp_opsi_same_numel(const char *op, const cp_tensor *a, const cp_tensor *b);
/* Same N, C, H, W. */
cp_status cp_opsi_same_shape(const char *op, const cp_tensor *a, const cp_tensor *b);
/* numel(t) == n, `why` says where n comes from. */
cp_status cp_opsi_numel_is(const char *op, const cp_tensor *t, size_t n, const char *why);
/* A mask [N, 1, H, W] matching x [N, C, H, W]. */
cp_status cp_opsi_mask_for(const char *op, const cp_tensor *m, const cp_tensor *x);

/* Enqueues k over n work items, groups of CP_OPSI_WG (or the device's max). */
cp_status cp_opsi_launch_1d(cp_context *ctx, cl_kernel k, size_t n);

/* Power-of-two work-group size for a tree-reduction kernel: the largest power
 * of two <= min(want, cp_kernel_wg_limit, cp_opsi_reduce_wg_cap). At least 1. */
cp_status cp_opsi_reduce_wg(cp_context *ctx, cl_kernel k, size_t want, size_t *wg);

/* Most elements one work item adds in one pass of a reduction (the kernels'
 * RED_MAX_ITEMS, cl/sum_helpers.cl), and the elements a pass-1 work-group
 * aims to cover (fewer groups for CPUs, more items for small groups). */
#define CP_RED_MAX_ITEMS 1024u
#define CP_RED_SPAN 16384u

/* A bounded multi-pass reduction of `segs` segments of `count` elements
 * (cl/sum_helpers.cl explains the passes). Pass 1 is an op's map kernel;
 * its last four arguments are items, the partials' buffer and offset and a
 * local scratch of wg floats (CP_RED_MAP_ARGS). */
typedef struct cp_opsi_red {
    size_t wg;          /* pass-1 work-group size (a power of two) */
    uint32_t items;     /* elements per work item in pass 1 */
    uint32_t segs;      /* segments, one result each */
    uint32_t chunks;    /* pass-1 work-groups per segment */
    cl_mem buf;         /* the context's scratch (cp_context_scratch) */
    size_t aux_off;     /* aux_floats of room for the op, at the start */
    size_t part_off;    /* pass-1 partials [segs][chunks] */
    size_t spare_off;   /* room for the next pass's partials */
} cp_opsi_red;

/* Plans a reduction whose pass 1 is `map` and takes the scratch. */
cp_status cp_opsi_red_plan(cp_context *ctx, cl_kernel map, uint32_t segs, uint64_t count,
                           size_t aux_floats, cp_opsi_red *r);
#define CP_RED_MAP_ARGS(r)                                                          \
    CP_ARG(cl_uint, (r).items), CP_ARG(cl_mem, (r).buf), CP_ARG(cl_ulong, (r).part_off), \
        CP_LOCAL((r).wg * sizeof(cl_float))
/* Enqueues pass 1 (the map's arguments set) over chunks × segs groups. */
cp_status cp_opsi_red_map(cp_context *ctx, cl_kernel map, const cp_opsi_red *r);
/* The later passes: out[out_off + seg] = scale · sum / div (+ out if acc). */
cp_status cp_opsi_red_finish(cp_context *ctx, const cp_opsi_red *r, cl_mem out,
                             size_t out_off, float scale, float div, bool acc);
/* db[c] (+)= sum of dy [rows, channels, hw] over rows and hw (bias
 * gradients of dense, convolution and cp_bias_backward). */
cp_status cp_opsi_channel_sum(cp_context *ctx, const cp_tensor *dy, uint32_t rows,
                              uint32_t channels, uint32_t hw, cp_tensor *db, bool acc);

/* Test hook: caps the reduction work-group size (0 = no cap), so tests run
 * the trees with groups of 1, 2, ... items as on devices that allow only
 * those (Apple's CPU device runs groups of 1). Not thread-safe. */
extern size_t cp_opsi_reduce_wg_cap;

#endif
