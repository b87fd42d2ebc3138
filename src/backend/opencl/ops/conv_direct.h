/* Internal: the direct stride-1 convolution route of cp_conv2d_* (CPU
 * devices; see conv_direct.c; conv_route.c decides which passes take it). */
#ifndef CP_OPS_CONV_DIRECT_H
#define CP_OPS_CONV_DIRECT_H

#include "backend/opencl/ops/conv_internal.h"

typedef struct cp_conv_direct_cfg {
    int vw, tn, tm, tmw;   /* kernel tile: vector width, vectors, channels */
    int tnw;               /* dw: vectors per step */
    bool fwd_direct, dx_direct, dw_direct; /* passes on the direct kernels (the
                                              others: im2col + GEMM) */
    int64_t ho;            /* output height */
    uint32_t dw_rows;      /* output rows per dw chunk */
    uint32_t dw_chunks;    /* dw chunks (partial sums) */
    size_t workspace;      /* floats the backward pass needs */
} cp_conv_direct_cfg;

/* True (and cfg filled, the passes of `passes` [fwd, dx, dw] on the direct
 * kernels) when the direct kernels can run this convolution: stride 1,
 * output width = input width, a width divisible by 4, padding within one
 * vector. */
bool cp_conv_direct_plan(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                         int64_t w, int64_t c_out, const bool passes[3],
                         cp_conv_direct_cfg *cfg);
/* The passes a CPU device runs faster on the direct kernels than on im2col
 * + GEMM at width w, when nothing is measured (notes/ops.md). */
void cp_conv_direct_default(int64_t w, bool passes[3]);

/* y = conv(x, w) (+ b), then ELU when elu; shapes already checked by the
 * caller. */
cp_status cp_conv_direct_forward(cp_context *ctx, const cp_conv_direct_cfg *c,
                                 const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *b, cp_tensor *y, bool elu);

/* dx (+)= ∂/∂x, dw (+)= ∂/∂w for the passes of *dx / *dw (either may be
 * NULL) that cfg gives to the direct kernels, in the caller's workspace
 * tensor (or a temporary when it is NULL); those pointers are then set to
 * NULL, so what is left goes through im2col + GEMM. (The bias gradient
 * stays a separate pass: summing it inside the dw kernel slowed that
 * kernel's main loop by ~40 % on PoCL.) elu_grad: x is an ELU output and
 * dx is multiplied by ELU'(x) in the dx kernel's epilogue. */
cp_status cp_conv_direct_backward(cp_context *ctx, const char *op, const cp_conv_direct_cfg *c,
                                  const cp_conv_params *p, const cp_tensor *x,
                                  const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                  cp_tensor **dw, bool accumulate, bool elu_grad,
                                  const cp_tensor *workspace);

/* The same for the up2 transposed convolution (2×2, stride 2, no padding;
 * weights [C_in, C_out, 2, 2]): input width divisible by 4. */
bool cp_up2_direct_plan(const cp_conv_params *p, int64_t n, int64_t c_in, int64_t h,
                        int64_t w, int64_t c_out, const bool passes[3],
                        cp_conv_direct_cfg *cfg);
void cp_up2_direct_default(int64_t w, bool passes[3]);
cp_status cp_up2_direct_forward(cp_context *ctx, const cp_conv_direct_cfg *c,
                                const cp_tensor *x, const cp_tensor *w, const cp_tensor *b,
                                cp_tensor *y, bool elu);
cp_status cp_up2_direct_backward(cp_context *ctx, const char *op, const cp_conv_direct_cfg *c,
                                 const cp_tensor *x, const cp_tensor *w, const cp_tensor *dy,
                                 cp_tensor **dx, cp_tensor **dw, bool accumulate, bool elu_grad,
                                 const cp_tensor *workspace);

#endif
