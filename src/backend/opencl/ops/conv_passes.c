/* The per-pass route dispatch shared by conv.c and conv_transpose.c: which
 * passes take a route, the workspace of a routed layer, and the implicit-GEMM
 * backward passes. */
#include "backend/opencl/ops/conv_passes.h"

bool cp_conv_passes_on(const cp_conv_choice *ch, cp_conv_route r, bool passes[3])
{
    bool any = false;
    for (int i = 0; i < 3; i++) any |= passes[i] = ch->pass[i] == r;
    return any;
}

size_t cp_conv_routed_workspace(const cp_conv_choice *ch, size_t gemm_need,
                                const cp_conv_direct_cfg *dc, const cp_igemm_geom *g)
{
    size_t need = gemm_need;
    if (dc && dc->workspace > need) need = dc->workspace;
    if (ch->pass[CP_CONV_DW] == CP_CONV_IGEMM) {
        size_t iw = cp_igemm_weight_grad_workspace(g);
        if (iw > need) need = iw;
    }
    return need > 0 ? need : 1;
}

cp_status cp_conv_igemm_backward(cp_context *ctx, const char *op, const cp_conv_choice *ch,
                                 const cp_igemm_geom *g, bool transposed, const cp_tensor *x,
                                 const cp_tensor *w, const cp_tensor *dy, cp_tensor **dx,
                                 cp_tensor **dw, bool accumulate, bool elu_grad,
                                 const cp_tensor *workspace)
{
    if (*dx && ch->pass[CP_CONV_DX] == CP_CONV_IGEMM) {
        /* dx of a convolution is its data gradient; of the adjoint, its forward */
        const cp_tensor *gate = elu_grad ? x : NULL;
        CP_TRY(transposed ? cp_igemm_forward(ctx, g, dy, w, NULL, *dx, accumulate, false, gate)
                          : cp_igemm_data_grad(ctx, g, dy, w, NULL, *dx, accumulate, false, gate));
        *dx = NULL;
    }
    if (*dw && ch->pass[CP_CONV_DW] == CP_CONV_IGEMM) {
        const cp_tensor *img = transposed ? dy : x, *dout = transposed ? x : dy;
        cp_ws ws;
        CP_TRY(cp_ws_acquire(ctx, op, workspace, cp_igemm_weight_grad_workspace(g), &ws));
        cp_status st = cp_igemm_weight_grad(ctx, g, img, dout, *dw, accumulate, ws.buf, ws.off);
        cp_ws_release(ctx, &ws);
        CP_TRY(st);
        *dw = NULL;
    }
    return CP_OK;
}
