/* Internal: shared pieces of the GEMM-based operators (gemm.c, conv.c,
 * conv_transpose.c, dense.c) and their kernels in cl/conv.cl. */
#ifndef CP_OPS_CONV_INTERNAL_H
#define CP_OPS_CONV_INTERNAL_H

#include "clinpaint/ops.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/kernel_args.h"

/* Largest CLBlast temporary for a GEMM of this shape, whatever the offsets. */
size_t cp_gemm_worst_workspace_floats(cp_context *ctx, bool ta, bool tb, size_t m, size_t n,
                                      size_t k);

/* Whether an own-kernel route (struct cp_gemm_route, clinpaint/tune.h) runs
 * as asked on ctx's device for g's transposes: its work-group within the
 * device's maxima, the context's cap and the compiled kernel's
 * CL_KERNEL_WORK_GROUP_SIZE, gemm_local's tiles within local memory. Routes
 * that do not fit run a work-group-of-1 fallback instead; the tuner should
 * skip them. CLBlast routes always "fit". Invalid parameters: false. */
struct cp_gemm_route;
struct cp_gemm_args;
cp_status cp_gemm_route_fits(cp_context *ctx, const struct cp_gemm_args *g,
                             const struct cp_gemm_route *r, bool *fits);

/* The im2col geometry: an "image" [N, C, H, W] and its columns
 * [C*KH*KW, N*HO*WO] for kernel/stride/padding p. */
typedef struct cp_col_geom {
    const cp_conv_params *p;
    uint32_t n, c, h, w, ho, wo;
} cp_col_geom;

/* col = im2col(img): every element written. */
cp_status cp_im2col(cp_context *ctx, const cp_col_geom *g, cl_mem img, size_t img_off,
                    cl_mem col, size_t col_off);
/* img (+)= col2im(col) (+ bias[c] when bias is non-NULL), times ELU'(gate)
 * (gate: an ELU output shaped like img, or NULL), then ELU of the result
 * when elu: a gather, each image element sums its contributions in a fixed
 * order (deterministic). */
cp_status cp_col2im(cp_context *ctx, const cp_col_geom *g, cl_mem col, size_t col_off,
                    cl_mem img, size_t img_off, const cp_tensor *bias, bool accumulate,
                    bool elu, const cp_tensor *gate);
/* t[c, n*HW + p] = x[n, c, p] */
cp_status cp_nchw_to_cnhw(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw, cl_mem x,
                          size_t x_off, cl_mem t, size_t t_off);
/* y[n, c, p] (+)= t[c, n*HW + p] (+ bias[c]) (times ELU'(gate[n, c, p])
 * when gate is non-NULL), then ELU of the result when elu */
cp_status cp_cnhw_to_nchw(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw, cl_mem t,
                          size_t t_off, cl_mem y, size_t y_off, const cp_tensor *bias,
                          bool accumulate, bool elu, const cp_tensor *gate);
/* db[c] (+)= sum over n, p of dy[n, c, p] (one work-group per channel). */
cp_status cp_conv_bias_grad(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw,
                            const cp_tensor *dy, cp_tensor *db, bool accumulate);
/* dw (+)= the sum of `chunks` partial sums of `count` floats each, stored
 * one after the other from part_off (fixed order: deterministic). */
cp_status cp_conv_dw_reduce(cp_context *ctx, cl_mem part, size_t part_off, uint32_t chunks,
                            cp_tensor *dw, uint32_t count, bool accumulate);
/* y[n, c, p] += b[c] (b may be NULL), then ELU when elu, in place. */
cp_status cp_conv_bias_inplace(cp_context *ctx, uint32_t n, uint32_t c, uint32_t hw,
                               cl_mem y, size_t y_off, const cp_tensor *b, bool elu);

/* A workspace range: the caller's tensor, or (when it passed none) a
 * temporary buffer released after the enqueue. */
typedef struct cp_ws {
    cl_mem buf;
    size_t off;   /* elements */
    cl_mem owned; /* non-NULL when allocated here */
} cp_ws;
cp_status cp_ws_acquire(cp_context *ctx, const char *op, const cp_tensor *workspace,
                        size_t need, cp_ws *ws);
void cp_ws_release(cp_context *ctx, cp_ws *ws);

/* Shape helpers for the argument checks. */
cp_status cp_ops_expect_numel(const char *op, const cp_tensor *t, size_t numel,
                              const char *what);
cp_status cp_ops_expect_shape4(const char *op, const cp_tensor *t, int64_t n, int64_t c,
                               int64_t h, int64_t w);
/* t's first `numel` elements lie inside its cl_mem (kernels on CPU devices
 * would otherwise write past the allocation silently). */
cp_status cp_ops_check_fits(const char *op, const cp_tensor *t, size_t numel);
/* Every element count the kernels index must be below 2^31 (32-bit index
 * arithmetic and the kernels' multiply-shift division). */
cp_status cp_ops_check_u32(const char *op, size_t count, const char *what);

/* Kernel, stride >= 1, padding >= 0, all <= 64: shared by convolution and
 * transposed convolution. */
cp_status cp_conv_check_params(const char *op, const cp_conv_params *p);

#endif
