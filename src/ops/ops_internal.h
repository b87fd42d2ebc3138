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
#include "runtime/check.h"
#include "runtime/kernel_args.h"

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
 * of two <= min(want, device max, kernel max, cap). At least 1. */
cp_status cp_opsi_reduce_wg(cp_context *ctx, cl_kernel k, size_t want, size_t *wg);
/* Enqueues `groups` work-groups of `wg` items (1-D). */
cp_status cp_opsi_launch_groups(cp_context *ctx, cl_kernel k, size_t groups, size_t wg);

/* Test hook: caps the reduction work-group size (0 = no cap), so tests run
 * the trees with groups of 1, 2, ... items as on devices that allow only
 * those (Apple's CPU device runs groups of 1). Not thread-safe. */
extern size_t cp_opsi_reduce_wg_cap;

#endif
