/* clinpaint operators: forward and backward of every layer, loss and the
 * optimiser of MODEL.md. Each call only enqueues work on the context's
 * in-order queue (no clFinish, no host reads) and returns a status.
 *
 * Conventions
 * - Tensors are NCHW float32 (cp_tensor: buffer + element offset).
 * - Outputs are fully overwritten unless the call takes `accumulate`: then
 *   out = out + result when accumulate is true (gradients of tensors that
 *   feed several consumers, and parameters used twice, e.g. D on x and y).
 * - Backward calls compute only the gradients whose tensors are non-NULL.
 * - Scratch memory comes from the caller as `workspace` (so the graph's
 *   memory plan holds it); *_workspace_floats() tells how much is needed.
 * - Shapes are checked; a mismatch is CP_ERR_INVALID_ARGUMENT naming the
 *   tensors. */
#ifndef CLINPAINT_OPS_H
#define CLINPAINT_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM (CLBlast), row-major: C = alpha * op(A) op(B) + beta * C ---- */
typedef struct cp_gemm_args {
    bool trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a; size_t a_off, lda;
    cl_mem b; size_t b_off, ldb;
    cl_mem c; size_t c_off, ldc;
} cp_gemm_args;
/* Floats of temporary buffer CLBlast needs for this GEMM (0 if none). */
size_t cp_gemm_workspace_floats(cp_context *ctx, const cp_gemm_args *g);
/* workspace may be NULL (CLBlast then allocates its own temporary). */
cp_status cp_gemm(cp_context *ctx, const cp_gemm_args *g, cl_mem workspace,
                  size_t workspace_off);

/* ---- 2-D convolution, weights [C_out, C_in, kH, kW], bias [C_out] ---- */
typedef struct cp_conv_params {
    int kh, kw;
    int stride_h, stride_w;
    int pad_top, pad_left, pad_bottom, pad_right;
} cp_conv_params;

/* MODEL.md's layers: conv3 (pad 1 all round) and conv2 (Keras "same":
 * 0 top/left, 1 bottom/right), both stride 1. */
cp_conv_params cp_conv3_params(void);
cp_conv_params cp_conv2_params(void);

/* Output size; false if the output would be empty. */
bool cp_conv_out_size(const cp_conv_params *p, int64_t h, int64_t w, int64_t *ho,
                      int64_t *wo);
/* Workspace for forward and backward (the larger of the two), in floats. It
 * depends on the route each pass takes, chosen per layer shape on first ask
 * and kept (clinpaint/tune.h: measured, or direct kernels on CPU devices
 * and im2col + GEMM elsewhere; the context's conv_route option
 * (CLINPAINT_CONV=gemm|direct|igemm in the command) forces one: set it
 * before planning, as the plan sizes workspaces once). */
size_t cp_conv2d_workspace_floats(cp_context *ctx, const cp_conv_params *p, int64_t n,
                                  int64_t c_in, int64_t h, int64_t w, int64_t c_out);

/* y = conv(x, w) + b. b may be NULL. */
cp_status cp_conv2d_forward(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                            const cp_tensor *w, const cp_tensor *b, cp_tensor *y,
                            const cp_tensor *workspace);
/* dx, dw, db from dy (x needed for dw, w for dx). */
cp_status cp_conv2d_backward(cp_context *ctx, const cp_conv_params *p, const cp_tensor *x,
                             const cp_tensor *w, const cp_tensor *dy, cp_tensor *dx,
                             cp_tensor *dw, cp_tensor *db, bool accumulate,
                             const cp_tensor *workspace);

/* ---- transposed convolution, weights [C_in, C_out, kH, kW] ----
 * Output size: (h - 1) * stride + kh - pad_top - pad_bottom (likewise w).
 * MODEL.md's up2: kernel 2, stride 2, no padding. */
cp_conv_params cp_up2_params(void);
bool cp_conv_transpose_out_size(const cp_conv_params *p, int64_t h, int64_t w,
                                int64_t *ho, int64_t *wo);
size_t cp_conv_transpose2d_workspace_floats(cp_context *ctx, const cp_conv_params *p,
                                            int64_t n, int64_t c_in, int64_t h, int64_t w,
                                            int64_t c_out);
cp_status cp_conv_transpose2d_forward(cp_context *ctx, const cp_conv_params *p,
                                      const cp_tensor *x, const cp_tensor *w,
                                      const cp_tensor *b, cp_tensor *y,
                                      const cp_tensor *workspace);
cp_status cp_conv_transpose2d_backward(cp_context *ctx, const cp_conv_params *p,
                                       const cp_tensor *x, const cp_tensor *w,
                                       const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                                       cp_tensor *db, bool accumulate,
                                       const cp_tensor *workspace);

/* ---- dense: x [N, F] (any NCHW tensor, flattened per sample),
 *      w [out, F], b [out], y [N, out] ---- */
size_t cp_dense_workspace_floats(cp_context *ctx, int64_t n, int64_t in, int64_t out);
cp_status cp_dense_forward(cp_context *ctx, const cp_tensor *x, const cp_tensor *w,
                           const cp_tensor *b, cp_tensor *y, const cp_tensor *workspace);
cp_status cp_dense_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *w,
                            const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                            cp_tensor *db, bool accumulate, const cp_tensor *workspace);

/* ---- max pooling 2×2 stride 2 (H, W even or odd: floor). The first
 *      maximum in row-major window order takes the gradient. ---- */
cp_status cp_maxpool2_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y);
cp_status cp_maxpool2_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *dy,
                               cp_tensor *dx, bool accumulate);

/* ---- activations (y may be x: in place). Backward uses the output y. ---- */
cp_status cp_elu_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y);
cp_status cp_elu_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                          cp_tensor *dx, bool accumulate);
cp_status cp_tanh_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y);
cp_status cp_tanh_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                           cp_tensor *dx, bool accumulate);
cp_status cp_sigmoid_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y);
cp_status cp_sigmoid_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                              cp_tensor *dx, bool accumulate);

/* ---- element-wise (same element counts) ---- */
/* y = alpha * a + beta * b */
cp_status cp_add(cp_context *ctx, float alpha, const cp_tensor *a, float beta,
                 const cp_tensor *b, cp_tensor *y);
/* y = a * b */
cp_status cp_mul(cp_context *ctx, const cp_tensor *a, const cp_tensor *b, cp_tensor *y);
/* y = alpha * x (+ y if accumulate) */
cp_status cp_scale(cp_context *ctx, float alpha, const cp_tensor *x, cp_tensor *y,
                   bool accumulate);
/* y[n, c, h, w] = x[n, c, h, w] + b[c] (y may be x) */
cp_status cp_bias_add(cp_context *ctx, const cp_tensor *x, const cp_tensor *b,
                      cp_tensor *y);
/* db[c] = sum over n, h, w of dy (+ db if accumulate) */
cp_status cp_bias_backward(cp_context *ctx, const cp_tensor *dy, cp_tensor *db,
                           bool accumulate);

/* ---- channel concatenation: y [N, Ca+Cb, H, W] = (a [N,Ca,H,W], b [N,Cb,H,W]) ---- */
cp_status cp_concat_channels(cp_context *ctx, const cp_tensor *a, const cp_tensor *b,
                             cp_tensor *y);
/* da, db (either may be NULL) from dy. */
cp_status cp_concat_channels_backward(cp_context *ctx, const cp_tensor *dy, cp_tensor *da,
                                      cp_tensor *db, bool accumulate);

/* ---- masks (M [N, 1, H, W], 1 = missing, broadcast over channels) ---- */
/* y = x * (1 - M) */
cp_status cp_mask_known(cp_context *ctx, const cp_tensor *x, const cp_tensor *m,
                        cp_tensor *y);
/* y = M * g + (1 - M) * x */
cp_status cp_composite(cp_context *ctx, const cp_tensor *g, const cp_tensor *x,
                       const cp_tensor *m, cp_tensor *y);
/* dg = M * dy (the gradient of the composite with respect to g) */
cp_status cp_composite_backward(cp_context *ctx, const cp_tensor *m, const cp_tensor *dy,
                                cp_tensor *dg, bool accumulate);

/* ---- batch normalisation over N, H, W per channel ---- */
typedef struct cp_bn_params {
    float eps;      /* 1e-5 */
    float momentum; /* 0.1: running = (1 - momentum) running + momentum batch */
} cp_bn_params;
/* Training mode: batch statistics; saves mean and 1/sqrt(var + eps) (biased
 * var) per channel into save_mean / save_invstd ([C]) for the backward.
 * If update_running, running_mean/var are updated (var: unbiased). */
cp_status cp_batchnorm_forward_train(cp_context *ctx, const cp_bn_params *p,
                                     const cp_tensor *x, const cp_tensor *gamma,
                                     const cp_tensor *beta, cp_tensor *running_mean,
                                     cp_tensor *running_var, bool update_running,
                                     cp_tensor *y, cp_tensor *save_mean,
                                     cp_tensor *save_invstd);
/* Evaluation mode: running statistics. */
cp_status cp_batchnorm_forward_eval(cp_context *ctx, const cp_bn_params *p,
                                    const cp_tensor *x, const cp_tensor *gamma,
                                    const cp_tensor *beta, const cp_tensor *running_mean,
                                    const cp_tensor *running_var, cp_tensor *y);
/* Backward of training mode. */
cp_status cp_batchnorm_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *gamma,
                                const cp_tensor *save_mean, const cp_tensor *save_invstd,
                                const cp_tensor *dy, cp_tensor *dx, cp_tensor *dgamma,
                                cp_tensor *dbeta, bool accumulate);

/* ---- losses: write a scalar (1 element) and, if grad is non-NULL, the
 *      input gradient multiplied by grad_scale ---- */
/* L_rec = 1/(N*C*H*W) sum W (g - x)^2, W = M + ctx_weight (1 - M). */
cp_status cp_loss_rec(cp_context *ctx, const cp_tensor *g, const cp_tensor *x,
                      const cp_tensor *m, float ctx_weight, cp_tensor *loss,
                      cp_tensor *dg, float grad_scale, bool accumulate);
/* Binary cross-entropy on logits t [N, 1]: label 1: mean softplus(-t);
 * label 0: mean softplus(t), softplus in its stable form. */
cp_status cp_loss_bce_logits(cp_context *ctx, const cp_tensor *t, int label,
                             cp_tensor *loss, cp_tensor *dt, float grad_scale,
                             bool accumulate);
/* The detector's loss on logits z and a target mask t, both [N, 1, H, W]:
 * mean per-pixel BCE (softplus(z) - z t) + dice_weight (1 - mean over
 * images of the soft Dice (2 sum p t + 1) / (sum p + sum t + 1)), p =
 * sigmoid(z) (cl/loss_dice.cl). */
cp_status cp_loss_bce_dice(cp_context *ctx, const cp_tensor *z, const cp_tensor *t,
                           float dice_weight, cp_tensor *loss, cp_tensor *dz, float grad_scale,
                           bool accumulate);
/* out (1 element) = scale * sum(x): sum (scale 1) and mean (1/n). */
cp_status cp_reduce_sum(cp_context *ctx, const cp_tensor *x, float scale, cp_tensor *out);

/* ---- Adam (PyTorch's form), on flat ranges of equal length ---- */
typedef struct cp_adam_params {
    float lr, beta1, beta2, eps; /* 1e-4, 0.5, 0.999, 1e-8 */
} cp_adam_params;
/* One step t >= 1: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). */
cp_status cp_adam_step(cp_context *ctx, const cp_adam_params *p, int64_t t,
                       cp_tensor *param, const cp_tensor *grad, cp_tensor *m,
                       cp_tensor *v);

#ifdef __cplusplus
}
#endif
#endif
