/* Internal: what convolution (conv.c) and transposed convolution
 * (conv_transpose.c) share before their passes run: the argument checks,
 * the layer and geometries a call is routed and planned by, and its
 * workspace. A transposed convolution is the adjoint of the convolution
 * its igemm geometry describes (image = its output side), so one geometry
 * and a `transposed` flag serve both (conv_common.c). */
#ifndef CP_OPS_CONV_COMMON_H
#define CP_OPS_CONV_COMMON_H

#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_passes.h"

/* The shapes of one call: x [n, c_in, h, w], y [n, c_out, ho, wo]. */
typedef struct cp_conv_shape {
    int64_t n, c_in, h, w, c_out, ho, wo;
} cp_conv_shape;

/* Checks p, x and w (weights [C_out, C_in, kh, kw]; transposed [C_in,
 * C_out, kh, kw]) and that every count the kernels index fits in 32 bits;
 * fills *s. */
cp_status cp_conv_check_args(const char *op, bool transposed, const cp_conv_params *p,
                             const cp_tensor *x, const cp_tensor *w, cp_conv_shape *s);
/* The forward's start: act is known, the arguments (b when non-NULL, y)
 * check out (*s filled), and the pass runs when its route is the direct
 * kernels or the implicit GEMM, which sets *done; otherwise it is left to
 * the caller's im2col + GEMM. */
cp_status cp_conv_forward_start(cp_context *ctx, const char *op, bool transposed,
                                const cp_conv_params *p, const cp_tensor *x,
                                const cp_tensor *w, const cp_tensor *b, cp_fused_act act,
                                cp_tensor *y, cp_conv_shape *s, bool *done);
/* The backward's start: the arguments, dy and the gradients asked for
 * (non-NULL) check out (*s filled); db (+)= the per-channel sum of dy; the
 * passes routed to the direct kernels or the implicit GEMM run, and *dx /
 * *dw are cleared for each one done, leaving the rest to the caller's
 * im2col + GEMM. x_act CP_FUSED_ELU: x is an ELU output and dx is
 * multiplied by ELU'(x) where it is written. */
cp_status cp_conv_backward_start(cp_context *ctx, const char *op, bool transposed,
                                 const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                 cp_tensor **dw, cp_tensor *db, bool accumulate,
                                 cp_fused_act x_act, const cp_tensor *workspace,
                                 cp_conv_shape *s);

/* The call's key in the route table. */
cp_conv_layer cp_conv_layer_of(bool transposed, const cp_conv_params *p,
                               const cp_conv_shape *s);
/* The implicit GEMM's geometry: the convolution's own, or that of the
 * convolution a transposed one is the adjoint of. */
cp_igemm_geom cp_conv_igemm_geom_of(bool transposed, const cp_conv_params *p,
                                    const cp_conv_shape *s);
/* The direct kernels' plan for the passes of ch that take them; false when
 * none does or the shape does not fit them. */
bool cp_conv_direct_plan_of(bool transposed, const cp_conv_choice *ch, const cp_conv_params *p,
                            const cp_conv_shape *s, cp_conv_direct_cfg *dc);

/* im2col + GEMM's workspace (floats) on the igemm geometry g: K = g.c·kh·kw
 * rows and P = g.n·g.ho·g.wo columns; [0, gemm_t) the largest CLBlast
 * temporary of the three GEMMs, then col [K, P], then perm [g.co, P] (the
 * convolution's tmp / dY', the transposed one's X'). */
typedef struct cp_conv_gemm_plan {
    size_t m, k, p; /* m = g.co */
    size_t gemm_t, col, perm;
} cp_conv_gemm_plan;
cp_conv_gemm_plan cp_conv_gemm_plan_of(cp_context *ctx, bool transposed,
                                       const cp_conv_params *p, const cp_conv_shape *s);

/* col[K, P] = wᵀ × b, with w [m, K] and b [m, P] (a convolution's dcol,
 * a transposed one's col); gemm_tmp: CLBlast's temporary or NULL. */
cp_status cp_conv_gemm_wt(cp_context *ctx, const cp_conv_gemm_plan *pl, const cp_tensor *w,
                          cl_mem b, size_t b_off, cl_mem col, size_t col_off, cl_mem gemm_tmp);
/* dw[m, K] (+)= a[m, P] × colᵀ: the weight gradient, a = dY' for a
 * convolution and X' for a transposed one. */
cp_status cp_conv_gemm_dw(cp_context *ctx, const cp_conv_gemm_plan *pl, cl_mem a, size_t a_off,
                          cl_mem col, size_t col_off, cp_tensor *dw, bool accumulate,
                          cl_mem gemm_tmp);
/* x [n, c, hw] as [c, n·hw]: with several images permuted into ws at
 * *t_off (cp_nchw_to_cnhw); with one, where the layouts coincide, x itself.
 * *t and *t_off name the result. */
cp_status cp_conv_cnhw_of(cp_context *ctx, const cp_tensor *x, uint32_t n, uint32_t c,
                          uint32_t hw, cl_mem ws, cl_mem *t, size_t *t_off);

/* cp_conv2d_workspace_floats, or with transposed
 * cp_conv_transpose2d_workspace_floats. */
size_t cp_conv_workspace_floats_of(cp_context *ctx, bool transposed, const cp_conv_params *p,
                                   int64_t n, int64_t c_in, int64_t h, int64_t w,
                                   int64_t c_out);

#endif
