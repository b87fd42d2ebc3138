/* Internal: the per-pass route dispatch that conv.c and conv_transpose.c
 * share (conv_passes.c). A transposed convolution is run as the adjoint of
 * the convolution its igemm geometry describes. */
#ifndef CP_OPS_CONV_PASSES_H
#define CP_OPS_CONV_PASSES_H

#include "clinpaint/tune.h"
#include "backend/opencl/ops/conv_direct.h"
#include "backend/opencl/ops/conv_igemm.h"

/* Sets passes[i] when ch sends pass i to route r; true if any does. */
bool cp_conv_passes_on(const cp_conv_choice *ch, cp_conv_route r, bool passes[3]);

/* Floats of workspace a layer routed as ch needs: the most of gemm_need
 * (im2col + GEMM, 0 when no pass takes it), the direct plan's (dc, NULL when
 * no pass takes it) and the igemm weight gradient's; never 0, so that the
 * graph always has a workspace tensor to pass. */
size_t cp_conv_routed_workspace(const cp_conv_choice *ch, size_t gemm_need,
                                const cp_conv_direct_cfg *dc, const cp_igemm_geom *g);

/* Runs the backward passes that ch sends to the implicit GEMM and clears
 * *dx / *dw for each one done, leaving the rest to the caller. `transposed`:
 * the layer is the adjoint of g (image = dy side, output = x side).
 * elu_grad: x is an ELU output, dx is multiplied by ELU'(x). */
cp_status cp_conv_igemm_backward(cp_context *ctx, const char *op, const cp_conv_choice *ch,
                                 const cp_igemm_geom *g, bool transposed, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                 cp_tensor **dw, bool accumulate, bool elu_grad,
                                 const cp_tensor *workspace);

#endif
