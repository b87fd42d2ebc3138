/* Internal: the implicit-GEMM convolution route (cl/conv_igemm.cl), for
 * GPU-class devices; see conv_igemm.c. */
#ifndef CP_OPS_CONV_IGEMM_H
#define CP_OPS_CONV_IGEMM_H

#include "backend/opencl/ops/conv_internal.h"

/* A convolution from an image [n, c, h, w] to an output [n, co, ho, wo]
 * with weights [co, c, kh, kw]. (A transposed convolution is the adjoint of
 * one: its output is this image, its input this output.) */
typedef struct cp_igemm_geom {
    const cp_conv_params *p;
    uint32_t n, c, h, w, co, ho, wo;
} cp_igemm_geom;

/* out[n, co, ho, wo] (+)= conv(img, w) (+ bias[co]) (times ELU'(gate) at
 * the same index when gate, an ELU output shaped like out, is non-NULL),
 * then ELU of the result when elu (fused in the epilogue). */
cp_status cp_igemm_forward(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *img,
                           const cp_tensor *w, const cp_tensor *bias, const cp_tensor *out,
                           bool accumulate, bool elu, const cp_tensor *gate);
/* img_grad[n, c, h, w] (+)= convᵀ(dout, w) (+ bias[c]) (times ELU'(gate)),
 * then ELU when elu (the transposed convolution's forward). */
cp_status cp_igemm_data_grad(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *dout,
                             const cp_tensor *w, const cp_tensor *bias,
                             const cp_tensor *img_grad, bool accumulate, bool elu,
                             const cp_tensor *gate);
/* dw[co, c, kh, kw] (+)= sum over n, ho, wo of dout ⊗ im2col(img), as
 * partial sums per chunk of output pixels in the workspace (see
 * cp_igemm_weight_grad_workspace) and a fixed-order reduction. */
cp_status cp_igemm_weight_grad(cp_context *ctx, const cp_igemm_geom *g, const cp_tensor *img,
                               const cp_tensor *dout, cp_tensor *dw, bool accumulate,
                               cl_mem ws, size_t ws_off);
/* Floats of workspace cp_igemm_weight_grad needs (0: it writes dw directly). */
size_t cp_igemm_weight_grad_workspace(const cp_igemm_geom *g);

/* Test hook: caps the work-group size of the igemm kernels (0 = no cap), so
 * tests run the fallback tiles down to one work-item per group (Apple's CPU
 * device allows only that). Not thread-safe. */
extern size_t cp_igemm_wg_cap;

#endif
