/* Internal: convolutions with an activation fused into their epilogue. The
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

#endif
