/* Internal: convolutions (and pooling) with an activation fused into their epilogue. The
 * graph's fusion pass (src/graph/fuse.c) turns conv (+ bias) -> ELU into
 * one node that runs these; every route (direct, implicit GEMM, im2col +
 * GEMM) applies the activation where it writes the output, so the
 * separate element-wise pass over the layer's output is gone. */
#ifndef CP_OPS_CONV_FUSED_H
#define CP_OPS_CONV_FUSED_H

#include "clinpaint/ops.h"

typedef enum cp_fused_act {
    CP_FUSED_NONE = 0,
    CP_FUSED_ELU = 1, /* alpha 1, the same arithmetic as cp_elu_forward */
} cp_fused_act;

/* y = act(conv(x, w) (+ b)); arguments as cp_conv2d_forward. */
cp_status cp_conv2d_forward_act(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                                const cp_tensor *w, const cp_tensor *b, cp_fused_act act,
                                cp_tensor *y, const cp_tensor *workspace);
/* y = act(conv_transpose(x, w) (+ b)); arguments as cp_conv_transpose2d_forward. */
cp_status cp_conv_transpose2d_forward_act(cp_context *ctx, const cp_conv_params *p,
                                          const cp_tensor *x, const cp_tensor *w,
                                          const cp_tensor *b, cp_fused_act act, cp_tensor *y,
                                          const cp_tensor *workspace);

/* The flags word of the convolution kernels' epilogues: FLAG_ACCUMULATE (1)
 * and FLAG_BIAS (2) of cl/conv.cl and cl/vec_direct.cl, FLAG_ELU (4) and
 * FLAG_ELU_GRAD (8) of cl/act.cl; one place on the host for those bits. */
static inline cl_uint cp_epilogue_flags(bool accumulate, bool bias, bool elu, bool elu_grad)
{
    return (accumulate ? 1u : 0u) | (bias ? 2u : 0u) | (elu ? 4u : 0u) | (elu_grad ? 8u : 0u);
}

/* The backward of a layer whose input x is an ELU output y: as
 * cp_conv2d_backward, but dx = ELU'(x) · ∂/∂x (ELU'(x) = x > 0 ? 1 : x + 1),
 * the ELU's backward done in dx's epilogue (x_act CP_FUSED_ELU), so dx is
 * the gradient of the ELU's input. dw and db are unchanged. */
cp_status cp_conv2d_backward_act(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                                 cp_tensor *dw, cp_tensor *db, bool accumulate,
                                 cp_fused_act x_act, const cp_tensor *workspace);
cp_status cp_conv_transpose2d_backward_act(cp_context *ctx, const cp_conv_params *p,
                                           const cp_tensor *x, const cp_tensor *w,
                                           const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                                           cp_tensor *db, bool accumulate, cp_fused_act x_act,
                                           const cp_tensor *workspace);
/* The same for max pooling: dx = ELU'(x) · (dy routed to each window's
 * maximum). */
cp_status cp_maxpool2_backward_act(cp_context *ctx, const cp_tensor *x, const cp_tensor *dy,
                                   cp_tensor *dx, bool accumulate, cp_fused_act x_act);

#endif
